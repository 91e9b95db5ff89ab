"""tools/predict.py end to end on untrained tiny models: PNG + DICOM + a corrupt file in one folder."""

import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pydicom
import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances
from pydicom.data import get_testdata_files
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from wsdet.engine.defaults import build_config
from wsdet.engine.prediction_writer import PredictionWriter
from wsdet.engine.predictor import dicom_uids, list_inputs

from conftest import REPO, TOOLS, dump, instant_opts, make_coco, write_image

PREDICT = os.path.join(TOOLS, "predict.py")
TINY = instant_opts("rcnn")


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


@pytest.mark.slow
def test_exit_status_when_every_file_fails(tmp_path, weights, inputs):
    out = tmp_path / "out"
    result = run_predict(
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
        ],
        cwd=str(tmp_path),
    )
    assert result.returncode == 1
    assert json.loads((out / "predictions.json").read_text()) == []
    assert not (out / "overlays").exists()


def test_list_inputs(tmp_path, inputs):
    found, skipped = list_inputs([inputs, os.path.join(inputs, "notes.txt")])
    names = [os.path.basename(p) for p, _ in found]
    assert names == ["a.png", "b.png", "broken.png", "ct_export", "notes.txt"]  # files given are kept
    assert [i for _, i in found] == [1, 2, 3, 4, 5] and not skipped


def test_list_inputs_folders_links_and_exclusions(tmp_path, inputs):
    os.makedirs(os.path.join(inputs, "sub"))
    write_image(os.path.join(inputs, "sub", "c.png"))
    write_image(os.path.join(inputs, "sub", "c_mask.png"))
    os.symlink(os.path.join(inputs, "gone.png"), os.path.join(inputs, "dangling.png"))
    os.symlink(inputs, os.path.join(inputs, "sub", "loop"))

    found, skipped = list_inputs([inputs], exclude=["*_mask*.png", "broken.png"])
    assert [os.path.basename(p) for p, _ in found] == ["a.png", "b.png", "ct_export"]
    assert skipped == {
        os.path.join(inputs, "dangling.png"): "dangling link",
        os.path.join(inputs, "sub"): "folder (use --recursive to read folders inside folders)",
    }
    found, skipped = list_inputs([inputs], recursive=True, exclude=["*_mask*.png"])
    assert [os.path.relpath(p, inputs) for p, _ in found] == [
        "a.png", "b.png", "broken.png", "ct_export", os.path.join("sub", "c.png")
    ]
    assert skipped[os.path.join(inputs, "sub", "loop")].startswith("folder already listed")


def _output(num_boxes=2):
    instances = Instances((48, 64))
    instances.pred_boxes = Boxes(torch.tensor([[4.0, 5.0, 20.0, 30.0]] * num_boxes))
    instances.scores = torch.tensor([0.9, 0.4][:num_boxes])
    instances.pred_classes = torch.tensor([1, 0][:num_boxes])
    return {"instances": instances, "image_probs": torch.tensor([0.2, 0.7]), "heatmaps": torch.rand(2, 48, 64)}


def test_writer_keeps_what_was_predicted_when_the_run_stops(tmp_path):
    out = str(tmp_path / "out")
    with pytest.raises(RuntimeError, match="decoder crashed"):
        with PredictionWriter(out, ["benign", "malignant"], [3, 7], True, heatmaps=True, flush_every=100) as writer:
            writer.add("x/scan.dcm", 11, np.zeros((48, 64, 3), np.uint8), _output(), {"sop_instance_uid": "1.2.3"})
            writer.add("y/scan.png", 12, np.zeros((48, 64, 3), np.uint8), _output(1))
            raise RuntimeError("decoder crashed")
    with open(os.path.join(out, "predictions.json")) as f:
        predictions = json.load(f)
    assert [(p["image_id"], p["category_id"]) for p in predictions] == [(11, 7), (11, 3), (12, 7)]
    assert predictions[0]["sop_instance_uid"] == "1.2.3" and "sop_instance_uid" not in predictions[2]
    with open(os.path.join(out, "image_probs.json")) as f:
        assert json.load(f)["x/scan.dcm"] == pytest.approx({"benign": 0.2, "malignant": 0.7, "normal": 0.1})
    with open(os.path.join(out, "images.json")) as f:
        assert json.load(f)[0] == {"id": 11, "file_name": "x/scan.dcm", "height": 48, "width": 64,
                                   "sop_instance_uid": "1.2.3"}
    # inputs with the same stem get distinct overlay and heatmap names
    assert sorted(os.listdir(os.path.join(out, "overlays"))) == ["scan.png", "scan_1.png"]
    assert np.load(os.path.join(out, "heatmaps", "scan_1.npy")).shape == (2, 48, 64)


def test_dicom_uids_on_pydicom_files():
    ct = [p for p in get_testdata_files() if p.replace(os.sep, "/").endswith("/CT_small.dcm")][0]
    header = pydicom.dcmread(ct, stop_before_pixels=True)
    assert dicom_uids(ct) == {
        "study_instance_uid": header.StudyInstanceUID,
        "series_instance_uid": header.SeriesInstanceUID,
        "sop_instance_uid": header.SOPInstanceUID,
    }
    assert dicom_uids(__file__) == {}


@pytest.mark.slow
def test_predictions_of_a_dataset_score_with_cocoeval(tmp_path, weights, dataset_flags):
    flags, _ = dataset_flags
    out = tmp_path / "out"
    result = run_predict(
        ["--config-file", os.path.join(REPO, "configs", "bus_joint.yaml"), "--input-dataset", "p_test",
         "--output", str(out), "--no-overlays", *flags, "MODEL.WEIGHTS", weights("bus_joint.yaml"), *TINY],
        cwd=str(tmp_path),
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    predictions = json.loads((out / "predictions.json").read_text())
    assert predictions and {p["category_id"] for p in predictions} <= {3, 7}
    gt = COCO(flags[2])
    evaluator = COCOeval(gt, gt.loadRes(str(out / "predictions.json")), "bbox")
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    assert 0 <= evaluator.stats[1] <= 1  # AP50 over the dataset's images (an untrained model: low)
    assert {p["image_id"] for p in predictions} <= set(gt.getImgIds())
