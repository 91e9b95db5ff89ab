"""End to end through tools/train_net.py and Detectron2's trainer: a few iterations of each BUS config."""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, TRAIN_NET, instant_opts, run_train_net

pytestmark = pytest.mark.slow

TINY = instant_opts("rcnn")


@pytest.fixture
def registered(tmp_path, tiny_coco):
    strong_json, root, _ = tiny_coco(strong=True, num_images=6)
    weak_json, _, _ = tiny_coco(strong=False, num_images=6)
    return [
        "--dataset", "t_strong", strong_json, root,
        "--weak-dataset", "t_weak", weak_json, root,
        "--dataset", "t_test", strong_json, root,
    ]


# the paper-scale config from a locally written MSRA-format R-50 (as on an offline machine)
PAPER_SMALL = ["MODEL.WEIGHTS", "{msra_r50}"]


@pytest.mark.parametrize(
    "config, train, extra",
    [
        ("bus_joint.yaml", "('t_strong','t_weak')", []),
        ("bus_strong_only.yaml", "('t_strong',)", []),
        ("bus_weak_only.yaml", "('t_weak',)", []),
        ("bus_joint_paper.yaml", "('t_strong','t_weak')", PAPER_SMALL),
    ],
)
def test_config_trains_and_evaluates(tmp_path, registered, msra_r50, config, train, extra):
    out = str(tmp_path / "out")
    extra = [x.format(msra_r50=msra_r50) for x in extra]
    log = run_train_net(
        ["--config-file", os.path.join(REPO, "configs", config), *registered,
         "DATASETS.TRAIN", train, "DATASETS.TEST", "('t_test',)", "OUTPUT_DIR", out, *TINY, *extra],
        cwd=str(tmp_path),
    )
    assert os.path.isfile(os.path.join(out, "model_final.pth"))
    assert "Evaluation results for t_test in csv format" in log
    with open(os.path.join(out, "inference", "t_test", "wsdet_metrics.json")) as f:
        localization = json.load(f)
    assert {"corloc", "froc", "classification"} <= set(localization)
    metrics = [json.loads(line) for line in open(os.path.join(out, "metrics.json"))]
    train_rows = [m for m in metrics if "total_loss" in m]
    assert train_rows[-1]["iteration"] == 2
    losses = {k for m in train_rows for k in m if k.startswith("loss_")}
    assert {"loss_cls", "loss_box_reg", "loss_rpn_cls", "loss_rpn_loc", "loss_mil"} <= losses


def test_eval_only_from_checkpoint(tmp_path, registered):
    out = str(tmp_path / "out")
    common = ["--config-file", os.path.join(REPO, "configs", "bus_joint.yaml"), *registered,
              "DATASETS.TRAIN", "('t_strong','t_weak')", "DATASETS.TEST", "('t_test',)", *TINY]
    run_train_net([*common, "OUTPUT_DIR", out], cwd=str(tmp_path))
    log = run_train_net(
        ["--eval-only", *common, "OUTPUT_DIR", str(tmp_path / "eval"),
         "MODEL.WEIGHTS", os.path.join(out, "model_final.pth")],
        cwd=str(tmp_path),
    )
    assert "Evaluation results for t_test in csv format" in log
    inference = os.path.join(tmp_path, "eval", "inference", "t_test")
    assert os.path.isfile(os.path.join(inference, "coco_instances_results.json"))
    with open(os.path.join(inference, "results.json")) as f:
        results = json.load(f)
    assert {"bbox", "corloc", "froc", "classification"} <= set(results)
    assert 0 <= results["bbox"]["AP50"] <= 100 and 0 <= results["corloc"]["official"] <= 1


def test_bad_dataset_argument(tmp_path):
    result = subprocess.run(
        [sys.executable, TRAIN_NET, "--config-file", os.path.join(REPO, "configs", "bus_joint.yaml"),
         "--dataset", "only_name", "--eval-only"],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    assert "--dataset: expected 3 arguments" in result.stderr
