"""Warnings raised by third-party code on every wsdet run, which wsdet cannot fix at their source.

Each filter matches one warning by its message and the module (or logger) that raises it, so the same
text from anywhere else, and every other warning, still shows.
"""
import logging
import re
import warnings
from typing import Tuple, Type

# (category, message regex, module regex of the ``warnings.warn`` call)
KNOWN_THIRD_PARTY_WARNINGS: Tuple[Tuple[Type[Warning], str, str], ...] = (
    # fvcore.nn.focal_loss (imported by detectron2.layers) scripts a function at import time
    (FutureWarning, r"`torch\.jit\.script` is deprecated", r"torch\.jit\._script"),
    # detectron2.modeling.anchor_generator calls torch.meshgrid without ``indexing``; its default
    # ("ij") is what the anchor grid needs
    (UserWarning, r"torch\.meshgrid: in an upcoming release", r"torch\.functional"),
    # detectron2.model_zoo imports pkg_resources, which setuptools < 81 (what it needs) calls deprecated
    (UserWarning, r"pkg_resources is deprecated as an API", r"detectron2\.model_zoo\.model_zoo"),
)

# (logger name, message regex) of warnings logged rather than raised
KNOWN_THIRD_PARTY_LOG_WARNINGS: Tuple[Tuple[str, str], ...] = (
    # detectron2.modeling.poolers asks torch.fx whether it is tracing (for an assert), on every run
    ("torch.fx._symbolic_trace", r"is_fx_tracing will return true for both"),
    # Detectron2's environment summary (default_setup) imports torch.utils.cpp_extension, which says so
    # on machines with a CUDA toolkit but no GPU
    ("torch.utils.cpp_extension", r"No CUDA runtime is found"),
)


class _DropMessages(logging.Filter):
    """Drops the records of a logger whose message matches a pattern."""

    def __init__(self, pattern: str):
        super().__init__()
        self.pattern = re.compile(pattern)

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


def filter_third_party_warnings() -> None:
    """Silence the known third-party warnings in this process (and the processes it forks)."""
    for category, message, module in KNOWN_THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    for name, message in KNOWN_THIRD_PARTY_LOG_WARNINGS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) and f.pattern.pattern == message for f in logger.filters):
            logger.addFilter(_DropMessages(message))
