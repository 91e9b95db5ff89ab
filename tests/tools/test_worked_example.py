"""docs/WORKED_EXAMPLE.md runs as written: its bash blocks, in order, on a tiny BUSI-layout folder.

The only changes: BUSI and WORK point into a temporary folder, and the tools that build a model get
the instant-test options appended (a few iterations on 64 px images).
"""
import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import REPO, instant_opts

pytestmark = pytest.mark.slow

MODEL_TOOLS = ("tools/train_net.py", "tools/predict.py", "tools/export_model.py")


def bash_blocks(path: str) -> list:
    with open(path) as f:
        return re.findall(r"```bash\n(.*?)```", f.read(), flags=re.DOTALL)


def with_instant_options(script: str) -> str:
    """Each command of a model tool (continuation lines joined) gets the instant-test options."""
    lines = script.replace("\\\n", " ").splitlines()
    extra = " ".join(f"'{o}'" for o in instant_opts("rcnn"))
    return "\n".join(f"{line} {extra}" if any(t in line for t in MODEL_TOOLS) else line for line in lines)


def write_busi(root: str, per_class: int = 10, normal: int = 5) -> None:
    """BUSI layout: <class>/<class> (i).png with a dark oval lesion and its <class> (i)_mask.png."""
    rng = np.random.default_rng(0)
    for folder, count in (("benign", per_class), ("malignant", per_class), ("normal", normal)):
        os.makedirs(os.path.join(root, folder))
        for i in range(1, count + 1):
            image = rng.integers(90, 160, (64, 80), dtype=np.uint8)
            mask = np.zeros_like(image)
            if folder != "normal":
                cv2.ellipse(mask, (int(rng.integers(20, 60)), int(rng.integers(20, 44))), (9, 6), 0, 0, 360, 255, -1)
                image[mask > 0] = 40
            cv2.imwrite(os.path.join(root, folder, f"{folder} ({i}).png"), image)
            cv2.imwrite(os.path.join(root, folder, f"{folder} ({i})_mask.png"), mask)


def test_worked_example_runs(tmp_path):
    busi, work = str(tmp_path / "Dataset_BUSI_with_GT"), str(tmp_path / "work")
    write_busi(busi)
    blocks = bash_blocks(os.path.join(REPO, "docs", "WORKED_EXAMPLE.md"))
    assert len(blocks) >= 6
    script = "set -euo pipefail\n" + "\n".join(with_instant_options(b) for b in blocks)
    env = dict(os.environ, BUSI=busi, WORK=work,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    result = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=1500)
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed[-6000:]
    assert "test: 5 images, 4 boxes" in printed  # 20% of each label group
    evaluation = os.path.join(work, "joint", "inference", "busi_test")
    for path in ("data_check/busi_strong_grid.png", "joint/model_final.pth", "figures/froc.png",
                 "predictions/predictions.json", "exported/model.ts"):
        assert os.path.isfile(os.path.join(work, path)), path
    assert {"froc.png", "roc.png", "confusion_matrix.png", "examples.png"} <= set(os.listdir(evaluation))
    with open(os.path.join(evaluation, "results.json")) as f:
        results = json.loads(f.read(), parse_constant=_refuse)  # strict JSON: no NaN literals
    assert {"bbox", "corloc", "froc", "classification"} <= set(results)
    assert "| CorLoc" in printed and "DeLong 95% CI" in printed  # the evaluation tables in the log


def _refuse(constant):
    raise ValueError(f"{constant} in results.json")
