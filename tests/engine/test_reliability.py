"""Faults: atomic and safe checkpoints, non-finite losses, unreadable images, bad datasets, kill + resume."""
import datetime
import json
import logging
import os
import pickle
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.utils.events import get_event_storage

import wsdet.engine.checkpoint as checkpoint_module
from conftest import REPO, TRAIN_NET, instant_opts, unique_name, write_image
from wsdet import add_wsdet_config
from wsdet.data import build_wsdet_train_loader, register_wsdet_coco
from wsdet.data.build import SkipReportingLoader
from wsdet.data.image_io import ImageReadError
from detectron2.engine import SimpleTrainer
from wsdet.engine import UnsafeCheckpointError, WSDetCheckpointer, add_loss_check, check_losses

# ---------------------------------------------------------------- checkpoints

TINY = instant_opts("rcnn")


def _linear():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def test_checkpoint_written_atomically(tmp_path, monkeypatch):
    model = _linear()
    checkpointer = WSDetCheckpointer(model, str(tmp_path))
    checkpointer.save("model_final")
    good = torch.load(tmp_path / "model_final.pth", weights_only=True)["model"]

    def crash_mid_write(data, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", crash_mid_write)
    with torch.no_grad():
        model.weight.add_(1.0)
    for name in ("model_final", "model_0000009"):  # overwrite the last good one / write a new one
        with pytest.raises(OSError, match="disk full"):
            checkpointer.save(name)
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_final.pth"]
    assert (tmp_path / "last_checkpoint").read_text() == "model_final.pth"
    kept = torch.load(tmp_path / "model_final.pth", weights_only=True)["model"]
    assert all(torch.equal(kept[k], good[k]) for k in good)


def test_untrusted_pickle_refused_unless_opted_in(tmp_path):
    path = str(tmp_path / "legacy.pth")
    torch.save({"model": _linear().state_dict(), "created": datetime.date(2020, 1, 1)}, path)
    with pytest.raises(UnsafeCheckpointError, match="datetime.date.*WSDET.ALLOW_UNSAFE_CHECKPOINTS True"):
        WSDetCheckpointer(_linear()).load(path)
    extra = WSDetCheckpointer(_linear(), allow_unsafe=True).load(path)
    assert extra["created"] == datetime.date(2020, 1, 1)


def test_model_zoo_pkl_loads_safely(tmp_path):
    weights = {"weight": np.full((2, 3), 0.5, np.float32), "bias": np.array([1.0, 2.0], np.float32)}
    path = tmp_path / "zoo.pkl"
    path.write_bytes(pickle.dumps({"model": weights, "__author__": "test"}, protocol=2))
    model = _linear()
    WSDetCheckpointer(model).load(str(path))
    assert torch.equal(model.weight, torch.full((2, 3), 0.5)) and model.bias.tolist() == [1.0, 2.0]


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_malicious_pkl_not_executed(tmp_path):
    marker = str(tmp_path / "pwned")
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"model": {}, "__author__": "x", "payload": _Exploit(marker)}))
    with pytest.raises(UnsafeCheckpointError, match=r"references \w+\.mkdir"):
        WSDetCheckpointer(_linear()).load(str(path))
    assert not os.path.exists(marker)


# ---------------------------------------------------------------- non-finite losses


def test_check_losses_names_term():
    losses = {"loss_cls": torch.tensor(0.7), "loss_mil": torch.tensor(float("nan"))}
    with pytest.raises(FloatingPointError, match=r"^loss_mil is nan at iteration 123 \(rank 0\)"):
        check_losses(losses, 123)
    check_losses({"loss_cls": torch.tensor(0.7)}, 0)


def test_check_losses_bounds_the_total():
    losses = {"loss_cls": torch.tensor(3e3), "loss_mil": torch.tensor(8e3)}
    with pytest.raises(FloatingPointError, match=r"total loss 1.1e\+04 exceeds WSDET.SOLVER.MAX_LOSS \(10000\)"):
        check_losses(losses, 7, max_loss=1e4)
    check_losses(losses, 7, max_loss=2e4)


class _DivergesAt(torch.nn.Module):
    def __init__(self, iteration):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(2))
        self.iteration = iteration

    def forward(self, batch):
        bad = float("inf") if get_event_storage().iter == self.iteration else 0.0
        return {"loss_cls": self.w.sum(), "loss_mil": self.w.sum() * 0.1 + bad}


def test_trainer_stops_at_non_finite_loss_before_the_update():
    model = _DivergesAt(2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    add_loss_check(model)
    trainer = SimpleTrainer(model, iter(lambda: [{}], None), optimizer)
    with pytest.raises(FloatingPointError, match="loss_mil is inf at iteration 2"):
        trainer.train(0, 5)
    assert torch.allclose(model.w, torch.full((2,), 1 - 2 * 0.11))  # 2 updates, not the third


# ---------------------------------------------------------------- unreadable images


@pytest.fixture
def bad_image_datasets(tmp_path, tiny_coco):
    """``--dataset`` arguments of a strong dataset and of a weak one holding a corrupt PNG and DICOM."""
    strong_json, root, _ = tiny_coco(strong=True, num_images=3)

    def add_bad(coco):
        for i, file_name in enumerate(("broken.png", "broken.dcm")):
            with open(os.path.join(root, file_name), "wb") as f:
                f.write(b"\x89PNG not really" if i == 0 else b"not a DICOM file")
            coco["images"].append(
                {"id": 100 + i, "file_name": file_name, "height": 64, "width": 80, "pos_category_ids": [1]}
            )

    weak_json, _, _ = tiny_coco(strong=False, num_images=4, mutate=add_bad)
    return [(unique_name("s"), strong_json, root), (unique_name("w"), weak_json, root)]


@pytest.fixture
def with_bad_images(bad_image_datasets):
    """The names of :func:`bad_image_datasets`, registered in this process."""
    for spec in bad_image_datasets:
        register_wsdet_coco(*spec)
    return tuple(name for name, _, _ in bad_image_datasets)


def _loader_cfg(names, on_error="fail", verify=False, workers=0):
    cfg = get_cfg()
    add_wsdet_config(cfg)
    cfg.DATASETS.TRAIN = names
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 2
    cfg.DATALOADER.NUM_WORKERS = workers
    cfg.INPUT.MIN_SIZE_TRAIN = (64,)
    cfg.SEED = 0
    cfg.WSDET.DATALOADER.STRONG_IMS_PER_BATCH = 1
    cfg.WSDET.DATALOADER.WEAK_IMS_PER_BATCH = 3
    cfg.WSDET.DATALOADER.ON_IMAGE_ERROR = on_error
    cfg.WSDET.DATALOADER.VERIFY_IMAGES = verify
    return cfg


def test_verify_lists_every_unreadable_image(with_bad_images):
    with pytest.raises(ValueError, match="2 training images cannot be read") as info:
        build_wsdet_train_loader(_loader_cfg(with_bad_images, verify=True))
    assert "broken.png: corrupt or unsupported image" in str(info.value)
    assert "broken.dcm: not a valid DICOM file" in str(info.value)


def test_verify_with_skip_drops_them(with_bad_images):
    loader = build_wsdet_train_loader(_loader_cfg(with_bad_images, "skip", verify=True))
    files = {os.path.basename(d["file_name"]) for _, batch in zip(range(4), loader) for d in batch}
    assert not files & {"broken.png", "broken.dcm"} and not loader.skipped


def test_unreadable_image_fails_at_run_time(with_bad_images):
    loader = build_wsdet_train_loader(_loader_cfg(with_bad_images))
    with pytest.raises(ImageReadError, match=r"cannot read image .*broken\.(png|dcm)"):
        for _, _batch in zip(range(10), loader):
            pass


@pytest.mark.parametrize("workers", [0, 1])
def test_unreadable_image_skipped_at_run_time(with_bad_images, caplog, workers):
    loader = build_wsdet_train_loader(_loader_cfg(with_bad_images, "skip", workers=workers))
    assert isinstance(loader, SkipReportingLoader)
    with caplog.at_level(logging.WARNING, logger="wsdet.data.build"):
        batches = [batch for _, batch in zip(range(4), loader)]  # 12 weak draws from 6 images
    for batch in batches:
        assert [d["supervision"] for d in batch] == ["strong", "weak", "weak", "weak"]
        assert all("skipped_images" not in d for d in batch)
        assert not {os.path.basename(d["file_name"]) for d in batch} & {"broken.png", "broken.dcm"}
    assert {os.path.basename(f) for f in loader.skipped} == {"broken.png", "broken.dcm"}
    assert "Skipped unreadable training image" in caplog.text and "broken.dcm" in caplog.text


@pytest.fixture
def misfit_images(tmp_path, tiny_coco):
    """Registered strong + weak datasets; the weak one lists an image at the wrong size and a 100x100
    one, beyond the limit of :func:`_misfit_cfg`."""
    strong_json, root, _ = tiny_coco(strong=True, num_images=3)

    def add_misfits(coco):
        coco["images"][1]["height"] = 65  # the file is 80x64
        write_image(os.path.join(root, "big.png"), height=100, width=100)
        coco["images"].append(
            {"id": 100, "file_name": "big.png", "height": 100, "width": 100, "pos_category_ids": [1]}
        )

    weak_json, _, _ = tiny_coco(strong=False, num_images=4, mutate=add_misfits)
    names = (unique_name("s"), unique_name("w"))
    register_wsdet_coco(names[0], strong_json, root)
    register_wsdet_coco(names[1], weak_json, root)
    return names


def _misfit_cfg(names, on_error="fail", verify=False):
    cfg = _loader_cfg(names, on_error, verify)
    cfg.WSDET.MAX_IMAGE_PIXELS = 80 * 64
    return cfg


def test_verify_lists_images_of_the_wrong_size_or_too_large(misfit_images):
    with pytest.raises(ValueError, match="2 training images cannot be read") as info:
        build_wsdet_train_loader(_misfit_cfg(misfit_images, verify=True))
    message = str(info.value)
    assert "img_1.png: Mismatched image shape: the dataset gives 80x65 (width x height)" in message
    assert "the file is 80x64" in message
    assert "big.png: 100x100 = 10000 pixels, more than the limit of 5120" in message


def test_images_of_the_wrong_size_or_too_large_skipped_at_run_time(misfit_images):
    loader = build_wsdet_train_loader(_misfit_cfg(misfit_images, "skip"))
    files = {os.path.basename(d["file_name"]) for _, batch in zip(range(4), loader) for d in batch}
    assert {os.path.basename(f) for f in loader.skipped} == {"img_1.png", "big.png"}
    assert "big.png" not in files


def test_bad_dicom_frame_refused_before_any_dataset_is_read(monkeypatch):
    def never_loaded(names):
        raise AssertionError("a dataset was read before the options were checked")

    monkeypatch.setattr("wsdet.data.build.load_strong_and_weak", never_loaded)
    cfg = _loader_cfg(("any",))
    cfg.WSDET.DICOM.FRAME = -1
    with pytest.raises(ValueError, match="WSDET.DICOM.FRAME is -1; it must be >= 0"):
        build_wsdet_train_loader(cfg)


# ---------------------------------------------------------------- end to end through tools/train_net.py


def _train_net(args, cwd, check=True):
    result = subprocess.run(
        [sys.executable, TRAIN_NET, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    log = result.stdout + result.stderr
    assert (result.returncode == 0) == check, log[-4000:]
    return log


@pytest.mark.slow
def test_dataset_json_errors_stop_before_training(tmp_path, tiny_coco):
    def break_it(coco):
        coco["images"][1]["pos_category_ids"] = [7]
        coco["annotations"][0]["bbox"] = [70.0, 10.0, 30.0, 10.0]

    strong_json, root, _ = tiny_coco(strong=True, mutate=break_it)
    log = _train_net(
        ["--config-file", os.path.join(REPO, "configs", "bus_strong_only.yaml"),
         "--dataset", "broken", strong_json, root, "DATASETS.TRAIN", "('broken',)",
         "DATASETS.TEST", "()", "OUTPUT_DIR", str(tmp_path / "out"), *TINY],
        cwd=str(tmp_path), check=False,
    )
    assert "DatasetFormatError" in log and "unknown category id(s) [7]" in log
    assert "lies outside the 80x64 image" in log
    assert "Starting training" not in log


@pytest.mark.slow
def test_skip_reported_at_the_end_of_training(tmp_path, bad_image_datasets):
    (strong, *strong_files), (weak, *weak_files) = bad_image_datasets
    log = _train_net(
        ["--config-file", os.path.join(REPO, "configs", "bus_joint.yaml"),
         "--dataset", strong, *strong_files, "--dataset", weak, *weak_files,
         "DATASETS.TRAIN", str((strong, weak)), "DATASETS.TEST", "()",
         "OUTPUT_DIR", str(tmp_path / "out"), "WSDET.DATALOADER.ON_IMAGE_ERROR", "skip", *TINY],
        cwd=str(tmp_path),
    )
    assert "Skipped unreadable training image" in log
    assert "reads of unreadable training images were skipped; files:" in log


@pytest.mark.slow
def test_eval_only_without_weights_refused_unless_allowed(tmp_path, tiny_coco):
    strong_json, root, _ = tiny_coco(strong=True)
    common = [
        "--eval-only", "--config-file", os.path.join(REPO, "configs", "bus_joint.yaml"),
        "--dataset", "t_test", strong_json, root, "DATASETS.TEST", "('t_test',)", "MODEL.WEIGHTS", "",
        "OUTPUT_DIR", str(tmp_path / "out"), *TINY,
    ]
    log = _train_net(common, cwd=str(tmp_path), check=False)
    assert "UntrainedModelError: Refusing to evaluate an untrained model: no weights were loaded" in log
    assert not os.path.exists(tmp_path / "out" / "inference")
    log = _train_net(["--allow-untrained", *common], cwd=str(tmp_path))
    assert "Evaluating an untrained model (--allow-untrained)" in log
    assert os.path.isfile(tmp_path / "out" / "inference" / "t_test" / "results.json")


# ---------------------------------------------------------------- kill and resume


@pytest.mark.slow
def test_killed_run_resumes_exactly(tmp_path, tiny_coco):
    strong_json, root, _ = tiny_coco(strong=True, num_images=6)
    weak_json, _, _ = tiny_coco(strong=False, num_images=6)
    common = [
        "--config-file", os.path.join(REPO, "configs", "bus_joint.yaml"),
        "--dataset", "t_strong", strong_json, root, "--weak-dataset", "t_weak", weak_json, root,
        "DATASETS.TRAIN", "('t_strong','t_weak')", "DATASETS.TEST", "()", *TINY,
        "SOLVER.MAX_ITER", "4", "SOLVER.CHECKPOINT_PERIOD", "2", "WSDET.MIL.ALPHA.PERIOD", "2",
    ]
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    uninterrupted, killed = (
        subprocess.Popen(
            [sys.executable, TRAIN_NET, *common, "OUTPUT_DIR", str(out)],
            cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for out in (full, resumed)
    )
    deadline = time.time() + 240
    # last_checkpoint is written (atomically) after the checkpoint itself: kill once it names one
    last = resumed / "last_checkpoint"
    while not last.exists() and killed.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert not (resumed / "model_final.pth").exists(), "the run ended before it could be killed"
    assert uninterrupted.wait(timeout=240) == 0

    log = _train_net(["--resume", *common, "OUTPUT_DIR", str(resumed)], cwd=str(tmp_path))
    assert "Starting training from iteration " in log and "from iteration 0" not in log
    a = torch.load(full / "model_final.pth", weights_only=True)
    b = torch.load(resumed / "model_final.pth", weights_only=True)
    assert a["iteration"] == b["iteration"] == 3
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    opt_a, opt_b = a["trainer"]["_trainer"]["optimizer"], b["trainer"]["_trainer"]["optimizer"]
    for i, state in opt_a["state"].items():
        assert torch.equal(state["momentum_buffer"], opt_b["state"][i]["momentum_buffer"])
    assert a["trainer"]["hooks"] == b["trainer"]["hooks"]  # LR scheduler state


# ---------------------------------------------------------------- divergence and resuming with a new LR


@pytest.fixture
def joint_run(tmp_path, tiny_coco):
    """``--config-file`` and dataset arguments of a tiny joint run."""
    strong_json, root, _ = tiny_coco(strong=True, num_images=6)
    weak_json, _, _ = tiny_coco(strong=False, num_images=6)
    return [
        "--config-file", os.path.join(REPO, "configs", "bus_joint.yaml"),
        "--dataset", "t_strong", strong_json, root, "--weak-dataset", "t_weak", weak_json, root,
        "DATASETS.TRAIN", "('t_strong','t_weak')", "DATASETS.TEST", "()", *TINY,
    ]


@pytest.mark.slow
def test_exploding_weights_stop_training(tmp_path, joint_run):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, TRAIN_NET, *joint_run, "SOLVER.BASE_LR", "100.0", "SOLVER.MAX_ITER", "20",
         "SOLVER.CLIP_GRADIENTS.ENABLED", "False", "OUTPUT_DIR", str(out)],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode != 0
    assert re.search(r"exceeds WSDET.SOLVER.MAX_LOSS|is (nan|inf) at iteration", result.stderr + result.stdout)
    assert not (out / "model_final.pth").exists()


@pytest.mark.slow
def test_resume_uses_the_new_base_lr(tmp_path, joint_run):
    out = tmp_path / "out"
    schedule = ["SOLVER.WARMUP_ITERS", "0", "SOLVER.CHECKPOINT_PERIOD", "2", "OUTPUT_DIR", str(out)]
    _train_net([*joint_run, *schedule, "SOLVER.MAX_ITER", "2", "SOLVER.BASE_LR", "0.001"], cwd=str(tmp_path))
    log = _train_net(
        ["--resume", *joint_run, *schedule, "SOLVER.MAX_ITER", "4", "SOLVER.BASE_LR", "0.004"], cwd=str(tmp_path)
    )
    assert "instead of the checkpoint's 0.001" in log
    with open(out / "metrics.json") as f:
        lrs = {m["iteration"]: m["lr"] for m in map(json.loads, f) if "lr" in m}
    assert lrs[1] == pytest.approx(0.001) and lrs[3] == pytest.approx(0.004)  # the last step of each run
