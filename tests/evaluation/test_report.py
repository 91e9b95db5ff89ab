"""What an evaluation reports: metric groups that apply, exact and DeLong CIs, tables, strict JSON,
image probabilities, and the figure hook."""
import json
import math
import uuid

import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode, Boxes, Instances

from wsdet.evaluation import EvalSettings, LocalizationEvaluator
from wsdet.evaluation.report import decision_confusion, format_tables, json_safe
from wsdet.evaluation.saved_results import load_image_probs

NAMES = ["nodule", "mass"]
SIZE = 64
BOX = [10, 10, 30, 30]


def _strict(text: str):
    """json.loads that refuses NaN / Infinity literals."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def _dataset(multi_label: bool, num_images: int = 12):
    """Images cycle: normal, nodule (box), mass (box); with ``multi_label`` the mass images also hold a nodule."""
    dicts = []
    for i in range(num_images):
        kind = i % 3
        labels = [] if kind == 0 else ([0, 1] if kind == 2 and multi_label else [kind - 1])
        anns = [{"bbox": [10, 10, 20, 20], "bbox_mode": BoxMode.XYWH_ABS, "category_id": c, "iscrowd": 0}
                for c in labels]
        dicts.append({"file_name": f"{i}.png", "image_id": i + 1, "height": SIZE, "width": SIZE,
                      "image_labels": labels, "annotations": anns})
    name = f"wsdet_test_report_{uuid.uuid4().hex}"
    DatasetCatalog.register(name, lambda: dicts)
    MetadataCatalog.get(name).set(thing_classes=NAMES)
    return name, dicts


def _outputs(record, rng):
    labels = record["image_labels"]
    instances = Instances((SIZE, SIZE))
    instances.pred_boxes = Boxes(torch.tensor([BOX] * (len(labels) or 1), dtype=torch.float32))
    instances.pred_classes = torch.tensor(labels or [0])
    instances.scores = torch.tensor([0.9] * len(labels) if labels else [0.3])
    probs = torch.tensor([0.8 if c in labels else 0.2 for c in range(2)]) + torch.tensor(rng.normal(0, 0.05, 2))
    return {"instances": instances, "image_probs": probs.float()}


def _evaluate(multi_label, tmp_path, figure_writer=None):
    name, dicts = _dataset(multi_label)
    evaluator = LocalizationEvaluator(name, str(tmp_path), settings=EvalSettings(n_resamples=50),
                                      figure_writer=figure_writer)
    rng = np.random.default_rng(0)
    for record in dicts:
        evaluator.process([{"image_id": record["image_id"], "height": SIZE, "width": SIZE}], [_outputs(record, rng)])
    return evaluator.evaluate(), dicts


@pytest.mark.parametrize("multi_label", [False, True])
def test_a_single_label_detector_gets_no_iobb_metrics(multi_label, tmp_path):
    results, _ = _evaluate(multi_label, tmp_path)
    assert ("cxr_localization" in results) == multi_label
    assert {"classification", "corloc", "froc"} <= set(results)


def test_intervals_strict_json_and_image_probs(tmp_path):
    results, dicts = _evaluate(False, tmp_path)
    details = _strict((tmp_path / "wsdet_metrics.json").read_text())
    official = details["corloc"]["official"]
    assert official["corloc"] == 1.0 and official["exact_ci95"] == pytest.approx([0.025 ** (1 / 8), 1.0])  # 8 of 8
    assert official["per_class"]["nodule"]["exact_ci95"][0] == pytest.approx(0.025 ** (1 / 4))  # 4 of 4
    low, high = details["classification"]["per_class"]["mass"]["auc_ci95"]
    assert 0 <= low <= details["classification"]["per_class"]["mass"]["auc"] <= high <= 1
    assert details["corloc"]["fp_per_normal_image"] == 0.0
    # a metric without data is null, not NaN
    assert json.loads(json.dumps(json_safe({"a": float("nan"), "b": [np.float32(1.5), np.inf]}))) == {
        "a": None, "b": [1.5, None]}
    gt_ids = [d["image_id"] for d in dicts]
    saved = _strict((tmp_path / "image_probs.json").read_text())
    assert saved["image_ids"] == gt_ids and saved["class_names"] == NAMES

    class _GT:  # load_image_probs only needs the image ids
        image_ids = gt_ids
    probs = load_image_probs(str(tmp_path), _GT)
    assert probs.shape == (12, 2) and math.isclose(probs[1, 0], saved["probs"][1][0])


def test_tables_and_figure_hook(tmp_path, caplog):
    calls = []
    results, _ = _evaluate(False, tmp_path, lambda *args: calls.append(args))
    (gt, records, details, class_names), = calls
    assert len(records) == len(gt.image_ids) == 12 and class_names == NAMES and "froc" in details
    tables = format_tables(details, NAMES)
    for header in ("CorLoc:", "exact 95% CI", "False positives per normal image", "FROC sensitivity",
                   "DeLong 95% CI", "abnormal vs normal", "3-way accuracy"):
        assert header in tables
    assert "IoBB" not in tables and "nan" not in tables.lower()


def test_decision_confusion():
    labels = np.array([[0, 0], [1, 0], [0, 1], [1, 0]], dtype=bool)
    probs = np.array([[0.1, 0.2], [0.7, 0.1], [0.6, 0.3], [0.2, 0.1]])
    matrix, names = decision_confusion(probs, labels, NAMES, single_label=True)
    assert names == ["normal", "nodule", "mass"]
    assert matrix.tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 0]]
    matrix, names = decision_confusion(probs, labels, NAMES, single_label=False)
    assert names == ["normal", "abnormal"] and matrix.tolist() == [[1, 0], [1, 2]]
