"""Known third-party warnings are silenced by ``import wsdet``; other warnings still show."""
import subprocess
import sys

import pytest

from conftest import REPO

SCRIPT = """
import warnings
{first_import}
import torch
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling.anchor_generator import build_anchor_generator
from detectron2.utils.tracing import is_fx_tracing

generator = build_anchor_generator(get_cfg(), [ShapeSpec(channels=4, stride=16)])
generator([torch.zeros(1, 4, 5, 5)])  # torch.meshgrid without indexing, inside Detectron2
is_fx_tracing()  # what Detectron2's ROI pooler asks torch.fx (which logs a warning) on every run
import logging  # what torch.utils.cpp_extension logs at import on a machine with CUDA but no GPU
logging.getLogger("torch.utils.cpp_extension").warning("No CUDA runtime is found, using CUDA_HOME='/usr'")
warnings.warn("a warning of the user's own", FutureWarning)
"""


def _stderr(first_import: str) -> str:
    script = SCRIPT.format(first_import=first_import)
    result = subprocess.run(
        [sys.executable, "-W", "default", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


@pytest.mark.parametrize("wsdet_first", [True, False])
def test_import_wsdet_silences_only_the_known_third_party_warnings(wsdet_first):
    stderr = _stderr("import wsdet" if wsdet_first else "")
    assert "a warning of the user's own" in stderr
    known_warnings = (
        "`torch.jit.script` is deprecated",
        "torch.meshgrid: in an upcoming release",
        "is_fx_tracing will return true",
        "No CUDA runtime is found",
    )
    for known in known_warnings:
        assert (known in stderr) != wsdet_first, stderr
