"""LocalizationEvaluator on a tiny dataset registered here, with fake model outputs."""

import json
import os
import uuid

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import print_csv_format
from detectron2.structures import BoxMode, Boxes, Instances

from wsdet.evaluation.evaluators import LocalizationEvaluator, summarize_heatmaps
from wsdet.evaluation.suite import EvalSettings

SIZE = 100
NAMES = ["benign", "malignant"]
# image id -> (XYXY box of the lesion or None, class, image labels, has annotations)
IMAGES = {
    1: ([10, 10, 30, 30], 0, [0], True),
    2: ([50, 50, 80, 80], 1, [1], True),
    3: (None, None, [], True),  # normal
    4: ([20, 40, 50, 60], 0, [0], True),  # with a polygon segmentation
    5: (None, None, [1], True),  # labelled malignant without a box: left out of box metrics
}
# image id -> detections (XYXY, class, score)
DETECTIONS = {
    1: [([10, 10, 30, 30], 0, 0.9)],
    2: [([50, 50, 80, 80], 1, 0.4)],  # a hit below 0.5: missed by official CorLoc, top-1 correct
    3: [([40, 40, 60, 60], 0, 0.7)],  # false positive on the normal image
    4: [([20, 40, 50, 60], 0, 0.95)],
    5: [([0, 0, 10, 10], 1, 0.9)],
}
PROBS = {1: [0.8, 0.1], 2: [0.1, 0.8], 3: [0.1, 0.1], 4: [0.6, 0.2], 5: [0.2, 0.7]}


def _dicts(with_boxes=True):
    dicts = []
    for image_id, (box, cls, labels, annotated) in IMAGES.items():
        d = {
            "file_name": f"{image_id}.png",
            "image_id": image_id,
            "height": SIZE,
            "width": SIZE,
            "image_labels": labels,
        }
        if with_boxes and annotated:
            d["annotations"] = []
            if box is not None:
                x0, y0, x1, y1 = box
                ann = {
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "bbox_mode": BoxMode.XYWH_ABS,
                    "category_id": cls,
                    "iscrowd": 0,
                }
                if image_id == 4:
                    ann["segmentation"] = [[x0, y0, x1, y0, x1, y1, x0, y1]]
                d["annotations"].append(ann)
        dicts.append(d)
    return dicts


def _register(with_boxes=True):
    name = f"wsdet_test_metrics_{uuid.uuid4().hex}"
    DatasetCatalog.register(name, lambda: _dicts(with_boxes))
    MetadataCatalog.get(name).set(thing_classes=NAMES)
    return name


def _output(image_id, with_heatmaps=True):
    dets = DETECTIONS[image_id]
    instances = Instances((SIZE, SIZE))
    instances.pred_boxes = Boxes(torch.tensor([d[0] for d in dets], dtype=torch.float32))
    instances.pred_classes = torch.tensor([d[1] for d in dets])
    instances.scores = torch.tensor([d[2] for d in dets])
    out = {"instances": instances, "image_probs": torch.tensor(PROBS[image_id])}
    if with_heatmaps:
        heatmaps = torch.zeros(2, SIZE, SIZE)
        box, cls, _, _ = IMAGES[image_id]
        if box is not None:
            heatmaps[cls, box[1] : box[3], box[0] : box[2]] = 1.0
        out["heatmaps"] = heatmaps
    return out


def _run(evaluator, with_heatmaps=True):
    evaluator.reset()
    for image_id in IMAGES:
        inputs = [{"image_id": image_id, "height": SIZE, "width": SIZE}]
        evaluator.process(inputs, [_output(image_id, with_heatmaps)])
    return evaluator.evaluate()


def test_all_metric_families(tmp_path):
    evaluator = LocalizationEvaluator(
        _register(),
        str(tmp_path),
        heatmap_size=128,
        settings=EvalSettings(n_resamples=100, pixel_threshold=0.5),
    )
    results = _run(evaluator)
    # a heatmap model: IoBB metrics also on single-label data (a single-label detector gets none: test_report.py)
    assert list(results) == ["classification", "corloc", "froc", "cxr_localization", "heatmap"]
    corloc = results["corloc"]
    assert corloc["official"] == pytest.approx(2 / 3)
    assert corloc["top1"] == 1.0
    assert corloc["fp_per_normal_image"] == 1.0  # image 5 (no box) is not counted as normal
    assert corloc["official-malignant"] == 0.0 and corloc["top1-malignant"] == 1.0
    assert corloc["official_ci_low"] <= corloc["official"] <= corloc["official_ci_high"]
    froc = results["froc"]  # detections by score: hit, hit, FP, hit; 3 lesions on 4 images
    assert froc["sens@0.125"] == pytest.approx(2 / 3) and froc["sens@0.25"] == 1.0
    # a heatmap model: every box of the GT class counts, also image 2's of score 0.4
    assert results["cxr_localization"]["acc@iobb0.9"] == 1.0
    cls = results["classification"]
    assert cls["mean_auc"] == 1.0 and cls["accuracy"] == 1.0 and cls["auc-benign"] == 1.0
    heat = results["heatmap"]
    assert heat["maxboxaccv2"] == 1.0 and heat["pxap"] == pytest.approx(1.0)
    assert heat["pointing_game"] == 1.0 and heat["stl_ap"] == 1.0
    assert heat["iop"] == 1.0 and heat["pixel_fpr"] == 0.0 and heat["pixel_fnr"] == 0.0
    assert 0 < heat["pixel_threshold_chosen_here"] <= 1
    for task in results.values():
        assert all(isinstance(float(v), float) for v in task.values())
    print_csv_format(results)
    with open(os.path.join(tmp_path, "wsdet_metrics.json")) as f:
        details = json.load(f)
    assert details["corloc"]["official"]["per_class"]["benign"]["num_images"] == 2
    assert "curve" not in details["froc"]
    curve = np.load(os.path.join(tmp_path, "froc_curve.npz"))
    np.testing.assert_allclose(curve["sensitivity"], [0, 1 / 3, 2 / 3, 2 / 3, 1])


def test_dataset_without_boxes_gets_classification_only():
    evaluator = LocalizationEvaluator(_register(with_boxes=False), distributed=True)
    results = _run(evaluator)
    assert list(results) == ["classification"]
    assert results["classification"]["mean_auc"] == 1.0


@pytest.mark.parametrize("single_label", [None, False])  # the data's own (single-label), or multi-label
def test_detector_without_heatmaps_and_partial_outputs(single_label):
    evaluator = LocalizationEvaluator(_register(), settings=EvalSettings(n_resamples=50, single_label=single_label))
    evaluator.reset()
    for image_id in (1, 2):
        evaluator.process([{"image_id": image_id, "height": SIZE, "width": SIZE}], [_output(image_id, False)])
    evaluator.process([{"image_id": 999}], [{}])  # not in the dataset: ignored
    results = evaluator.evaluate()
    assert "heatmap" not in results
    assert results["corloc"]["official"] == 0.5 and np.isnan(results["corloc"]["fp_per_normal_image"])
    if single_label is None:  # a single-label detector: no ChestX-ray14 metrics
        assert "cxr_localization" not in results
    else:
        assert results["cxr_localization"]["acc@iobb0.9"] == 0.5  # a detector: image 2's box (score 0.4) is not
    evaluator.reset()
    assert evaluator.evaluate() == {}


def test_summarize_heatmaps_downsamples_and_keeps_peaks():
    maps = torch.zeros(3, 200, 100)
    maps[1, 150, 20] = 5.0
    summary = summarize_heatmaps(maps, (400, 200), keep_classes=[1], max_size=64)
    assert list(summary["maps"]) == [1] and summary["maps"][1].shape == (64, 32)
    assert summary["maps"][1].dtype == np.float16
    np.testing.assert_allclose(summary["map_scale"], [32 / 200, 64 / 400])
    np.testing.assert_allclose(summary["peak_points"][1], [(20.5) * 2, (150.5) * 2])
    np.testing.assert_allclose(summary["peak_values"], [0, 5, 0])
