"""The leaderboard machinery: suites, shortened schedules, tables, and one real run through train_net."""
import json
import math
import os

import pytest

from wsdet.benchmark import (
    SUITES,
    BenchmarkRunner,
    MethodRun,
    RunResult,
    markdown_table,
    schedule_overrides,
    suite_runs,
    with_iterations,
    write_report,
)
from wsdet.benchmark.specs import QUICK_ITERS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_suite_config_exists_and_names_are_unique():
    names = [run.name for runs in SUITES.values() for run in runs]
    assert len(names) == len(set(names))
    for runs in SUITES.values():
        for run in runs:
            assert os.path.isfile(os.path.join(REPO, run.config)), run.config
            assert run.family in QUICK_ITERS


def test_only_keeps_the_runs_a_stage_starts_from():
    runs = suite_runs(["cxr"], only=["positive-CAM stage 3", "GAP"])
    assert [r.name for r in runs] == ["GAP", "positive-CAM stage 1", "positive-CAM stage 2", "positive-CAM stage 3"]
    with pytest.raises(ValueError, match="no run named"):
        suite_runs(["bus"], only=["PCAM"])
    with pytest.raises(ValueError, match="unknown suite"):
        suite_runs(["nope"])


def test_schedule_overrides_scale_steps_and_alpha_period():
    opts = dict(zip(*[iter(schedule_overrides(400, is_mil=True))] * 2))
    assert opts["SOLVER.MAX_ITER"] == "400" and opts["SOLVER.STEPS"] == "(300, 368)"
    assert opts["SOLVER.WARMUP_ITERS"] == "100" and opts["WSDET.MIL.ALPHA.PERIOD"] == "33"
    assert "WSDET.MIL.ALPHA.PERIOD" not in schedule_overrides(40, is_mil=False)
    assert schedule_overrides(2, is_mil=False)[3] == "(1,)"
    run = MethodRun("x", "configs/bus_joint.yaml", "bus", ("A", "1"), is_mil=True)
    assert with_iterations(run, None) is run
    assert with_iterations(run, 40).opts[:2] == ("A", "1")


def _result(name, family, test):
    return RunResult(name, family, "/tmp/x", 120.0, 1.5, 0.1, None, {}, test)


def test_markdown_table_shows_cis_and_leaves_out_empty_columns(tmp_path):
    bus = _result("joint", "bus", {
        "bbox": {"AP50": 55.04},
        "corloc": {"official": 0.88, "official_ci_low": 0.83, "official_ci_high": 0.93,
                   "top1": 0.6, "top1_ci_low": 0.52, "top1_ci_high": 0.67, "fp_per_normal_image": 1.48},
        "classification": {"mean_auc": 0.95},
    })
    cxr = _result("PCAM", "cxr", {"heatmap": {"maxboxaccv2": 0.3, "iop": 0.17, "pixel_fpr": 0.19,
                                              "pixel_fnr": math.nan}})
    table = markdown_table([bus])
    assert "| joint | 55.0 | 0.880 [0.830, 0.930] | 0.600 [0.520, 0.670] | 1.48 |" in table
    assert "MaxBoxAccV2" not in table and "IoP" not in table
    assert "0.17 / 0.19 / –" in markdown_table([cxr])
    text = write_report([bus, cxr], "header", str(tmp_path / "l.md"), str(tmp_path / "l.json"))
    assert text.index("Breast ultrasound") < text.index("Chest X-ray")
    assert json.load(open(tmp_path / "l.json"))["runs"][1]["name"] == "PCAM"


TINY = (
    "SOLVER.WARMUP_ITERS", "1", "DATALOADER.NUM_WORKERS", "0",
    "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "64", "INPUT.MIN_SIZE_TEST", "64",
    "INPUT.MAX_SIZE_TEST", "64", "MODEL.RPN.POST_NMS_TOPK_TRAIN", "30", "MODEL.RPN.POST_NMS_TOPK_TEST", "30",
    "WSDET.MIL.POST_NMS_TOPK_TRAIN", "30", "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", "16",
    "WSDET.EVAL.BOOTSTRAP_RESAMPLES", "20",
)


@pytest.mark.slow
def test_runner_trains_a_strong_subset_then_reuses_it(tmp_path):
    run = MethodRun("joint, 50% strong", "configs/bus_joint.yaml", "bus", TINY, strong_fraction=0.5, is_mil=True)
    runner = BenchmarkRunner(REPO, str(tmp_path))
    result = runner.run(with_iterations(run, 5))  # D2 times iterations after the first 3
    subset = json.load(open(tmp_path / "joint_50_strong" / "strong_subset.json"))
    full = json.load(open(os.path.join(os.environ.get("WSDET_DATASETS", os.path.join(REPO, "datasets")),
                                       "bus_synth", "annotations", "strong_train.json")))
    assert 0 < len(subset["images"]) < len(full["images"])
    assert {"bbox", "corloc", "froc", "classification"} <= set(result.test)
    assert result.val == {}  # a detector: nothing is chosen on the validation set
    assert result.seconds_per_iter > 0 and result.inference_seconds_per_image > 0
    assert "bus_synth_strong_train_joint_50_strong" in open(tmp_path / "joint_50_strong" / "train.log").read()
    again = BenchmarkRunner(REPO, str(tmp_path)).run(with_iterations(run, 5))
    assert again == result
