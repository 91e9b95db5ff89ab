"""tools/predict.py end to end on untrained tiny models: PNG + DICOM + a corrupt file in one folder."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from pydicom.data import get_testdata_files

from wsdet.engine.defaults import build_config

from conftest import REPO, TOOLS, dump, instant_opts, make_coco, write_image

PREDICT = os.path.join(TOOLS, "predict.py")
TINY = instant_opts("rcnn")


def load_tool():
    spec = importlib.util.spec_from_file_location("predict_tool", PREDICT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Untrained weights of each config, saved as a trained run's would be."""
    folder = str(tmp_path_factory.mktemp("weights"))
    saved = {}

    def save(config: str) -> str:
        if config not in saved:
            cfg = build_config(os.path.join(REPO, "configs", config), TINY)
            name = os.path.splitext(config)[0]
            DetectionCheckpointer(build_model(cfg), save_dir=folder).save(name)
            saved[config] = os.path.join(folder, name + ".pth")
        return saved[config]

    return save


@pytest.fixture
def inputs(tmp_path):
    """A folder with 2 PNGs, an extensionless DICOM (found by its magic), a corrupt PNG and a text file."""
    folder = tmp_path / "scans"
    write_image(str(folder / "a.png"), value=60)
    write_image(str(folder / "b.png"), height=48, value=120)
    ct = [p for p in get_testdata_files() if p.replace(os.sep, "/").endswith("/CT_small.dcm")][0]
    shutil.copy(ct, folder / "ct_export")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (folder / "notes.txt").write_text("not an image")
    return str(folder)


@pytest.fixture
def dataset_flags(tmp_path):
    """A registered dataset whose category ids (3, 7) are not contiguous id + 1."""
    coco = make_coco(str(tmp_path / "images"), strong=True, num_images=3)
    new_id = {1: 3, 2: 7}
    for category in coco["categories"]:
        category["id"] = new_id[category["id"]]
    for image in coco["images"]:
        image["pos_category_ids"] = [new_id[c] for c in image["pos_category_ids"]]
    for ann in coco["annotations"]:
        ann["category_id"] = new_id[ann["category_id"]]
    json_file = dump(coco, str(tmp_path / "test.json"))
    return ["--dataset", "p_test", json_file, str(tmp_path / "images")], ["DATASETS.TEST", "('p_test',)"]


def run_predict(args, cwd):
    return subprocess.run(
        [sys.executable, PREDICT, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_detector_end_to_end(tmp_path, weights, inputs, dataset_flags):
    flags, opts = dataset_flags
    out = str(tmp_path / "out")
    result = run_predict(
        [
            "--config-file",
            os.path.join(REPO, "configs", "bus_joint.yaml"),
            "--input",
            inputs,
            "--output",
            out,
            "--score-thresh",
            "0.1",
            "--grid",
            "2",
            *flags,
            "MODEL.WEIGHTS",
            weights("bus_joint.yaml"),
            *opts,
            *TINY,
        ],
        cwd=str(tmp_path),
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "Predicted 3 of 4 files" in log
    assert "broken.png: corrupt or unsupported image" in log.split("could not be read")[1]

    files = [os.path.join(inputs, n) for n in ("a.png", "b.png", "ct_export")]
    with open(os.path.join(out, "image_probs.json")) as f:
        probs = json.load(f)
    assert sorted(probs) == files
    for values in probs.values():
        assert set(values) == {"benign", "malignant", "normal"}
        assert sum(values.values()) == pytest.approx(1.0, abs=1e-5)
    with open(os.path.join(out, "predictions.json")) as f:
        predictions = json.load(f)
    assert predictions, "an untrained detector still outputs low-score boxes"
    assert {p["file_name"] for p in predictions} <= set(files)
    assert {p["category_id"] for p in predictions} <= {3, 7}
    listed = [os.path.join(inputs, n) for n in ("a.png", "b.png", "broken.png", "ct_export")]
    for p in predictions:  # image ids: positions in the run, unreadable files included
        assert p["image_id"] == listed.index(p["file_name"]) + 1 and len(p["bbox"]) == 4
    assert sorted(os.listdir(os.path.join(out, "overlays"))) == ["a.png", "b.png", "ct_export.png"]
    assert cv2.imread(os.path.join(out, "overlays_grid.png")).shape[1] == 2 * (192 + 4) + 4


@pytest.mark.slow
def test_cam_model_heatmap_overlays_and_failures(tmp_path, weights, inputs):
    out = str(tmp_path / "out")
    result = run_predict(
        [
            "--config-file",
            os.path.join(REPO, "configs", "bus_cam.yaml"),
            "--input",
            os.path.join(inputs, "a.png"),
            os.path.join(inputs, "missing.png"),
            "--output",
            out,
            "--score-thresh",
            "2",
            "MODEL.WEIGHTS",
            weights("bus_cam.yaml"),
            "DATASETS.TEST",
            "()",
            "DATASETS.TRAIN",
            "()",
            *TINY,
        ],
        cwd=str(tmp_path),
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert "missing.png: file not found" in log
    with open(os.path.join(out, "image_probs.json")) as f:
        probs = json.load(f)
    assert set(probs[os.path.join(inputs, "a.png")]) == {"class_0", "class_1", "normal"}
    overlay = cv2.imread(os.path.join(out, "overlays", "a.png")).astype(int)
    coloured = np.abs(overlay[..., 0] - overlay[..., 2]) > 10  # the input is uniform grey, no box drawn
    assert coloured.mean() > 0.1, "the heatmap is drawn"


def test_exit_status_when_every_file_fails(tmp_path, weights, inputs):
    out = tmp_path / "out"
    status = load_tool().main(
        [
            "--config-file",
            os.path.join(REPO, "configs", "bus_cam.yaml"),
            "--input",
            os.path.join(inputs, "broken.png"),
            "--output",
            str(out),
            "--no-overlays",
            "MODEL.WEIGHTS",
            weights("bus_cam.yaml"),
            *TINY,
        ]
    )
    assert status == 1
    assert json.loads((out / "predictions.json").read_text()) == []
    assert not (out / "overlays").exists()


def test_list_inputs_and_overlay_names(tmp_path, inputs):
    tool = load_tool()
    found = tool.list_inputs([inputs, os.path.join(inputs, "notes.txt")])
    names = [os.path.basename(p) for p in found]
    assert names == ["a.png", "b.png", "broken.png", "ct_export", "notes.txt"]  # files given are kept
    taken = set()
    first = tool.overlay_path("o", "x/scan.dcm", taken)
    second = tool.overlay_path("o", "y/scan.png", taken)
    assert first == os.path.join("o", "overlays", "scan.png") and second == os.path.join(
        "o", "overlays", "scan_1.png"
    )
