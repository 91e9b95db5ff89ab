"""Checkpoints: no file runs code whatever its name or the environment, damaged files and resumption,
permissions and storage back-ends of writes, evaluation of weights that fit no model."""
import io
import json
import logging
import os
import pickle
import stat
import subprocess
import sys

import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.utils.file_io import PathManager
from iopath.common.file_io import PathHandler

from conftest import REPO
from wsdet import add_wsdet_config
from wsdet.engine import (
    CorruptCheckpointError,
    UnsafeCheckpointError,
    UntrainedModelError,
    WSDetCheckpointer,
    load_weights_to_evaluate,
)


def _linear():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _craft(path: str, layout: str, marker: str) -> None:
    """A checkpoint whose unpickling creates the folder ``marker``."""
    payload = {"model": _linear().state_dict(), "model_state": {}, "__author__": "x", "x": _Exploit(marker)}
    if layout == "zip":
        torch.save(payload, path)
    elif layout == "legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f)


_LOAD_ALL = """
import json, sys, torch
from wsdet.engine import WSDetCheckpointer
outcome = {}
for path in sys.argv[1:]:
    try:
        WSDetCheckpointer(torch.nn.Linear(3, 2)).load(path)
        outcome[path] = "loaded"
    except Exception as e:
        outcome[path] = type(e).__name__
print(json.dumps(outcome))
"""


@pytest.mark.parametrize("force_no_weights_only", [None, "1"])
def test_crafted_checkpoints_never_run_code(tmp_path, force_no_weights_only):
    files, markers = [], []
    for extension in (".pth", ".pyth", ".pkl", ".pt", ""):
        for layout in ("zip", "legacy", "pickle"):
            marker = str(tmp_path / f"pwned_{layout}{extension}")
            files.append(str(tmp_path / f"evil_{layout}{extension}"))
            markers.append(marker)
            _craft(files[-1], layout, marker)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    if force_no_weights_only:
        env["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = force_no_weights_only
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_ALL, *files], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert [m for m in markers if os.path.exists(m)] == []
    assert outcome == dict.fromkeys(files, "UnsafeCheckpointError")


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("garbage.pkl", b"\x00not a pickle at all", "invalid load key"),
        ("garbage.pth", b"\x00not a pickle at all", "invalid load key"),
        ("empty.pth", b"", "EOFError: Ran out of input"),
    ],
)
def test_damaged_file_reported_as_corrupt_not_unsafe(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorruptCheckpointError, match=reason) as info:
        WSDetCheckpointer(_linear()).load(str(path))
    assert str(path) in str(info.value) and "ALLOW_UNSAFE" not in str(info.value)


def test_truncated_checkpoint_reported_as_corrupt(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"model": _linear().state_dict()}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CorruptCheckpointError, match="truncated, corrupt or not a checkpoint"):
        WSDetCheckpointer(_linear()).load(str(path))


def test_refusal_names_what_the_file_references(tmp_path):
    path = tmp_path / "evil.pth"
    _craft(str(path), "zip", str(tmp_path / "pwned"))
    with pytest.raises(UnsafeCheckpointError, match=r"\(.*GLOBAL \w+\.mkdir.*\)") as info:
        WSDetCheckpointer(_linear()).load(str(path))
    assert "()" not in str(info.value)


def _numpy_weights():
    return {"weight": np.full((2, 3), 0.5, np.float32), "bias": np.array([1.0, 2.0], np.float32)}


def _assert_loaded(model):
    assert torch.equal(model.weight, torch.full((2, 3), 0.5)) and model.bias.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("name", ["R-50.pkl", "R-50.PKL", "plain_pickle.pth"])
def test_msra_layout_pickles_load_safely(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(pickle.dumps({"model": _numpy_weights(), "__author__": "MSRA"}, protocol=2))
    model = _linear()
    WSDetCheckpointer(model).load(str(path))
    _assert_loaded(model)


def test_caffe2_blobs_pkl_loads_safely(tmp_path):
    path = tmp_path / "caffe2.pkl"
    blobs = {**_numpy_weights(), "weight_momentum": np.zeros((2, 3), np.float32)}
    path.write_bytes(pickle.dumps({"blobs": blobs}, protocol=2))
    model = _linear()
    WSDetCheckpointer(model).load(str(path))
    _assert_loaded(model)


@pytest.mark.parametrize("legacy", [False, True])
def test_plain_state_dict_loads_safely(tmp_path, legacy):
    state = {k: torch.full_like(v, 0.25) for k, v in _linear().state_dict().items()}
    path = tmp_path / "torchvision.pth"
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    model = _linear()
    checkpointer = WSDetCheckpointer(model)
    checkpointer.load(str(path))
    assert torch.equal(model.weight, torch.full((2, 3), 0.25)) and checkpointer.matched_parameters == 2


# ---------------------------------------------------------------------------------------- writes


def test_checkpoint_mode_follows_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        WSDetCheckpointer(_linear(), str(tmp_path)).save("model_final")
    finally:
        os.umask(previous)
    for name in ("model_final.pth", "last_checkpoint"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o640, name


class _MemoryHandler(PathHandler):
    """An iopath back-end keeping files in a dict, under the prefix ``wsdet-test-memory://``."""

    PREFIX = "wsdet-test-memory://"
    files = {}

    def _get_supported_prefixes(self):
        return [self.PREFIX]

    def _open(self, path, mode="r", buffering=-1, **kwargs):
        assert mode in ("wb", "w"), mode
        files = self.files

        class Closing(io.BytesIO):
            def close(self):
                files[path] = self.getvalue()
                super().close()

        return Closing()


def test_checkpoint_written_through_path_manager():
    if _MemoryHandler.PREFIX not in PathManager._path_handlers:
        PathManager.register_handler(_MemoryHandler())
    save_dir = _MemoryHandler.PREFIX + "run"
    WSDetCheckpointer(_linear(), save_dir).save("model_final")
    assert _MemoryHandler.files[save_dir + "/last_checkpoint"] == b"model_final.pth"
    saved = torch.load(io.BytesIO(_MemoryHandler.files[save_dir + "/model_final.pth"]), weights_only=True)
    assert torch.equal(saved["model"]["weight"], _linear().weight)


# -------------------------------------------------------------------------------------- resuming


def _trained(value):
    model = _linear()
    with torch.no_grad():
        model.weight.fill_(value)
    return model


def _save(save_dir, name, value):
    WSDetCheckpointer(_trained(value), str(save_dir)).save(name)


def _resume(save_dir, caplog):
    model = _linear()
    with caplog.at_level(logging.WARNING):
        WSDetCheckpointer(model, str(save_dir)).resume_or_load("", resume=True)
    return model.weight[0, 0].item()


def test_resume_falls_back_from_a_truncated_checkpoint(tmp_path, caplog):
    _save(tmp_path, "model_0000001", 1.0)
    _save(tmp_path, "model_0000003", 3.0)
    newest = tmp_path / "model_0000003.pth"
    newest.write_bytes(newest.read_bytes()[:100])
    assert _resume(tmp_path, caplog) == 1.0
    assert "Not resuming from a damaged checkpoint" in caplog.text and "model_0000003.pth" in caplog.text


@pytest.mark.parametrize(
    "pointer, warning", [("", "is empty"), ("model_0000009.pth", "which does not exist")]
)
def test_resume_falls_back_from_an_empty_or_dangling_pointer(tmp_path, caplog, pointer, warning):
    _save(tmp_path, "model_0000001", 1.0)
    _save(tmp_path, "model_0000002", 2.0)
    os.utime(tmp_path / "model_0000001.pth", (0, 0))  # older
    (tmp_path / "last_checkpoint").write_text(pointer)
    assert _resume(tmp_path, caplog) == 2.0
    assert warning in caplog.text


def test_resume_without_any_readable_checkpoint(tmp_path, caplog):
    (tmp_path / "model_final.pth").write_bytes(b"")
    (tmp_path / "last_checkpoint").write_text("model_final.pth")
    with pytest.raises(FileNotFoundError, match="No readable checkpoint to resume from"):
        _resume(tmp_path, caplog)


def test_temporary_files_of_a_killed_save_removed_at_start(tmp_path, caplog):
    _save(tmp_path, "model_0000001", 1.0)
    leftovers = [".model_0000002.pth.k3j_a9x2.tmp", ".last_checkpoint.0a1b2c3d.tmp"]
    for name in leftovers:
        (tmp_path / name).write_bytes(b"half")
    (tmp_path / "notes.tmp").write_text("not ours")
    assert _resume(tmp_path, caplog) == 1.0
    assert sorted(os.listdir(tmp_path)) == ["last_checkpoint", "model_0000001.pth", "notes.tmp"]


# ------------------------------------------------------------------------------------ evaluation


def _eval_cfg(tmp_path, weights=""):
    cfg = get_cfg()
    add_wsdet_config(cfg)
    cfg.OUTPUT_DIR = str(tmp_path / "eval")
    cfg.MODEL.WEIGHTS = weights
    return cfg


def test_evaluation_without_weights_refused(tmp_path):
    with pytest.raises(UntrainedModelError, match="no weights were loaded: MODEL.WEIGHTS is empty"):
        load_weights_to_evaluate(_linear(), _eval_cfg(tmp_path))
    with pytest.raises(UntrainedModelError, match="holds no checkpoint to resume from"):
        load_weights_to_evaluate(_linear(), _eval_cfg(tmp_path), resume=True)


def test_evaluation_with_weights_of_another_model_refused(tmp_path, caplog):
    path = str(tmp_path / "other.pth")
    torch.save({"model": torch.nn.Conv2d(1, 1, 3).state_dict()}, path)
    with pytest.raises(UntrainedModelError, match=r"none of the model's 2 parameters is in .*other\.pth"):
        load_weights_to_evaluate(_linear(), _eval_cfg(tmp_path, path))
    with caplog.at_level(logging.WARNING, logger="wsdet.engine.checkpoint"):
        load_weights_to_evaluate(_linear(), _eval_cfg(tmp_path, path), allow_untrained=True)
    assert "Evaluating an untrained model (--allow-untrained)" in caplog.text


def test_evaluation_with_fitting_weights(tmp_path):
    path = str(tmp_path / "model_final.pth")
    WSDetCheckpointer(_trained(7.0), str(tmp_path)).save("model_final")
    model = _linear()
    load_weights_to_evaluate(model, _eval_cfg(tmp_path, path))
    assert model.weight[0, 0].item() == 7.0
