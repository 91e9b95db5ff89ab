"""Warnings raised by third-party code on every wsdet run, which wsdet cannot fix at their source.

Each filter matches one warning by category, message and the module that raises it, so the same
warning from anywhere else, and every other warning, still shows.
"""
import warnings
from typing import Tuple, Type

# (category, message regex, module regex of the ``warnings.warn`` call)
KNOWN_THIRD_PARTY_WARNINGS: Tuple[Tuple[Type[Warning], str, str], ...] = (
    # fvcore.nn.focal_loss (imported by detectron2.layers) scripts a function at import time
    (FutureWarning, r"`torch\.jit\.script` is deprecated", r"torch\.jit\._script"),
    # detectron2.modeling.anchor_generator calls torch.meshgrid without ``indexing``; its default
    # ("ij") is what the anchor grid needs
    (UserWarning, r"torch\.meshgrid: in an upcoming release", r"torch\.functional"),
)


def filter_third_party_warnings() -> None:
    """Ignore the :data:`KNOWN_THIRD_PARTY_WARNINGS` in this process (and the processes it forks)."""
    for category, message, module in KNOWN_THIRD_PARTY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
