"""End to end through tools/train_net.py: every CAM config trains a few iterations on tiny synthetic data and
evaluates (keeping its best model on the validation set when it selects one); GAIN's stage 2 fine-tunes stage 1."""

import json
import os
import subprocess
import sys

import pytest

from wsdet.data.synthetic import generate_bus_dataset, generate_cxr_dataset
from conftest import REPO, TRAIN_NET, instant_opts


pytestmark = pytest.mark.slow

TINY = instant_opts("cam")
ONE_LOSS = {"total_loss"}
CAM_BATCH = ["WSDET.DATALOADER.STRONG_IMS_PER_BATCH", "0", "WSDET.DATALOADER.WEAK_IMS_PER_BATCH", "4"]
MIXED_BATCH = ["WSDET.DATALOADER.STRONG_IMS_PER_BATCH", "1", "WSDET.DATALOADER.WEAK_IMS_PER_BATCH", "3"]
DETECTOR = instant_opts("rcnn")
STL_LOSSES = {"loss_cam_cls", "loss_cam_loc"}
AM_LOSSES = {"loss_cam_cls", "loss_cam_am"}
STAGE3_LOSSES = {"loss_cam_cls", "loss_cam_am", "loss_cam_mask"}
CONFIGS = {  # config -> (overrides, loss keys)
    "cxr_gap.yaml": (CAM_BATCH, ONE_LOSS),
    "cxr_gmp.yaml": (CAM_BATCH, ONE_LOSS),
    "cxr_lse.yaml": (CAM_BATCH, ONE_LOSS),
    "cxr_pcam.yaml": (CAM_BATCH, ONE_LOSS),
    "cxr_gradcam.yaml": (CAM_BATCH, ONE_LOSS),
    "cxr_stl.yaml": (CAM_BATCH + ["WSDET.CAM.STL.SWITCH_ITER", "2"], STL_LOSSES),
    "cxr_stl_avg.yaml": (CAM_BATCH + ["WSDET.CAM.STL.SWITCH_ITER", "2"], STL_LOSSES),
    "cxr_infomask.yaml": (CAM_BATCH, {"loss_cam_cls", "loss_cam_reg"}),
    "cxr_poscam_stage1.yaml": (CAM_BATCH, ONE_LOSS),
    "cxr_poscam_stage2.yaml": (CAM_BATCH, AM_LOSSES),
    "cxr_poscam_stage3.yaml": (MIXED_BATCH, STAGE3_LOSSES),
    "bus_cam.yaml": (MIXED_BATCH, ONE_LOSS),
    "bus_cam_pcam.yaml": (MIXED_BATCH, ONE_LOSS),
    "bus_cam_stl.yaml": (MIXED_BATCH + ["WSDET.CAM.STL.SWITCH_ITER", "2"], STL_LOSSES),
    "bus_cam_infomask.yaml": (MIXED_BATCH, {"loss_cam_cls", "loss_cam_reg"}),
    "bus_cam_poscam_stage1.yaml": (MIXED_BATCH, ONE_LOSS),
    "bus_cam_poscam_stage2.yaml": (MIXED_BATCH, AM_LOSSES),
    "bus_cam_poscam_stage3.yaml": (MIXED_BATCH, STAGE3_LOSSES),
    "bus_joint_with_cam.yaml": (
        MIXED_BATCH + DETECTOR,
        {"loss_cls", "loss_box_reg", "loss_rpn_cls", "loss_rpn_loc", "loss_mil", "loss_cam_cls"},
    ),
}
# configs that keep their best model on the validation set (WSDET.BEST_CHECKPOINT)
BEST_ON_VAL = {"cxr_pcam.yaml", "cxr_infomask.yaml", "bus_cam_pcam.yaml", "bus_cam_infomask.yaml"}


@pytest.fixture(scope="module")
def datasets_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cam_data"))
    generate_cxr_dataset(root, num_train=8, num_masks=4, num_val=2, num_test=6, size=64)
    generate_bus_dataset(root, num_strong=4, num_weak=6, num_val=2, num_test=6, size=64)
    return root


def run_train_net(config, out, datasets_root, *opts):
    # One thread per process: the CPU is shared, and oversubscribed threads slow torch down badly.
    env = dict(os.environ, WSDET_DATASETS=datasets_root, OMP_NUM_THREADS="1")
    args = ["--config-file", os.path.join(REPO, "configs", config), *TINY, "OUTPUT_DIR", out, *opts]
    result = subprocess.run(
        [sys.executable, TRAIN_NET, *args],
        cwd=out.rsplit(os.sep, 1)[0],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    log = result.stdout + result.stderr
    assert os.path.isfile(os.path.join(out, "model_final.pth"))
    assert "Evaluation results for" in log and "in csv format" in log
    metrics = [json.loads(line) for line in open(os.path.join(out, "metrics.json"))]
    train_rows = [m for m in metrics if "total_loss" in m]
    assert train_rows[-1]["iteration"] == 2
    losses = {k for m in train_rows for k in m if k.startswith("loss_")}
    return log, losses or {"total_loss"}  # Detectron2 logs the loss terms only when there are several


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_config_trains_and_evaluates(tmp_path, datasets_root, config):
    overrides, expected = CONFIGS[config]
    out = str(tmp_path / "out")
    log, losses = run_train_net(config, out, datasets_root, *overrides)
    assert losses == expected
    assert "Initializing model from scratch" in log  # every stage trains from the initial weights
    if config in BEST_ON_VAL:
        assert os.path.isfile(os.path.join(out, "model_best.pth"))
        assert "model_best.pth: iteration 2, the best on" in log


def test_gain_stage_2_fine_tunes_stage_1(tmp_path, datasets_root):
    stage1 = str(tmp_path / "stage1")
    run_train_net("cxr_poscam_stage1.yaml", stage1, datasets_root, *CAM_BATCH)
    weights = os.path.join(stage1, "model_final.pth")
    log, losses = run_train_net(
        "cxr_poscam_stage2_gain.yaml", str(tmp_path / "gain"), datasets_root, *CAM_BATCH, "MODEL.WEIGHTS", weights
    )
    assert losses == AM_LOSSES
    assert f"Loading from {weights}" in log


def test_probe_attention_mask_scores_a_trained_stage_2_model(tmp_path, datasets_root):
    out = str(tmp_path / "stage2")
    run_train_net("cxr_poscam_stage2.yaml", out, datasets_root, *CAM_BATCH)
    config, probe = os.path.join(out, "config.yaml"), str(tmp_path / "probe.json")
    args = [os.path.join(REPO, "tools", "probe_attention_mask.py"), "--config-file", config, "--dataset-name",
            "cxr_synth_test", "--output", probe, "MODEL.WEIGHTS", os.path.join(out, "model_final.pth")]
    env = dict(os.environ, WSDET_DATASETS=datasets_root, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(probe) as f:
        aucs = json.load(f)
    assert aucs["dataset"] == "cxr_synth_test" and aucs["images"] == 6
    keys = ("full", "own_mask", "swapped_vs_content", "swapped_vs_mask", "normal_content_vs_mask")
    assert all(key in result.stdout for key in keys)
    assert all(0.0 <= aucs[key] <= 1.0 for key in keys if aucs[key] == aucs[key])  # NaN: a class with no case

    refused = subprocess.run([sys.executable, args[0], "--config-file", os.path.join(REPO, "configs", "cxr_gap.yaml")],
                             capture_output=True, text=True, timeout=300, env=env)
    assert refused.returncode != 0 and "give a stage-2 config" in refused.stderr


def test_probe_heatmap_peaks_places_every_finding(tmp_path, datasets_root):
    out = str(tmp_path / "bus_cam")
    run_train_net("bus_cam.yaml", out, datasets_root, *MIXED_BATCH)
    shares = str(tmp_path / "peaks.json")
    args = [os.path.join(REPO, "tools", "probe_heatmap_peaks.py"), "--config-file", os.path.join(out, "config.yaml"),
            "--dataset-name", "bus_synth_test", "--output", shares, "MODEL.WEIGHTS", os.path.join(out, "model_final.pth")]
    env = dict(os.environ, WSDET_DATASETS=datasets_root, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(shares) as f:
        peaks = json.load(f)
    with open(os.path.join(datasets_root, "bus_synth", "annotations", "test.json")) as f:
        test = json.load(f)
    boxed = {a["image_id"] for a in test["annotations"]}
    assert peaks["images"] == len(boxed) and peaks["findings"] == len(test["annotations"]) > 0
    assert abs(sum(peaks[p] for p in ("inside", "below", "above", "beside")) - 1.0) < 1e-9
    assert "where the heatmap peaks" in result.stdout
