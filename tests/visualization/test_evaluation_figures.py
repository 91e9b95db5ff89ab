"""Each evaluation draws its figures into its folder and TensorBoard (event files or the trainer's storage)."""
import os
import uuid

import cv2
import numpy as np
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.structures import BoxMode, Boxes, Instances
from detectron2.utils.events import EventStorage

from wsdet.evaluation import EvalSettings, LocalizationEvaluator
from wsdet.visualization.evaluation_figures import FIGURE_FILES, EvaluationFigures

NAMES = ["benign", "malignant"]


def _dataset(root):
    dicts = []
    for i in range(9):
        label = i % 3  # 0 normal, 1 benign, 2 malignant
        path = os.path.join(root, f"{i}.png")
        cv2.imwrite(path, np.full((48, 64), 40 * label + 60, np.uint8))
        anns = [{"bbox": [8, 8, 16, 16], "bbox_mode": BoxMode.XYWH_ABS, "category_id": label - 1, "iscrowd": 0}]
        dicts.append({"file_name": path, "image_id": i, "height": 48, "width": 64,
                      "image_labels": [label - 1] if label else [], "annotations": anns if label else []})
    name = f"wsdet_test_figures_{uuid.uuid4().hex}"
    DatasetCatalog.register(name, lambda: dicts)
    MetadataCatalog.get(name).set(thing_classes=NAMES)
    return name, dicts


def _evaluate(name, dicts, folder, with_heatmaps=True):
    settings = EvalSettings(n_resamples=30)
    evaluator = LocalizationEvaluator(name, folder, settings=settings,
                                      figure_writer=EvaluationFigures(name, folder, settings, num_examples=2))
    for d in dicts:
        instances = Instances((48, 64))
        instances.pred_boxes = Boxes(torch.tensor([[8.0, 8.0, 24.0, 24.0], [30.0, 20.0, 50.0, 40.0]]))
        instances.pred_classes = torch.tensor([max(d["image_labels"] or [0]), 1])
        instances.scores = torch.tensor([0.9 if d["image_labels"] else 0.6, 0.55])
        probs = torch.tensor([0.7 if c in d["image_labels"] else 0.2 for c in range(2)])
        output = {"instances": instances, "image_probs": probs}
        if with_heatmaps:
            output["heatmaps"] = torch.rand(2, 48, 64)
        evaluator.process([{"image_id": d["image_id"], "height": 48, "width": 64}], [output])
    return evaluator.evaluate()


def test_figures_written_and_sent_to_tensorboard_files(tmp_path):
    name, dicts = _dataset(str(tmp_path))
    folder = str(tmp_path / "inference" / name)
    _evaluate(name, dicts, folder)
    for file in FIGURE_FILES.values():
        picture = cv2.imread(os.path.join(folder, file))
        assert picture is not None and picture.shape[0] > 100, file
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(folder))  # no trainer: own event file
    examples = cv2.imread(os.path.join(folder, "examples.png"))
    assert examples.shape[1] == 2 * (256 + 4) + 4  # best, worst and normal rows of 2 tiles


def test_figures_go_to_the_trainers_event_storage(tmp_path):
    name, dicts = _dataset(str(tmp_path))
    with EventStorage() as storage:
        _evaluate(name, dicts, str(tmp_path / "out"), with_heatmaps=False)
    sent = {entry[0] for entry in storage._vis_data}
    assert sent == {f"{name}/{figure}" for figure in ("froc", "corloc_sweep", "roc", "confusion", "examples")}
    assert not any(f.startswith("events.out") for f in os.listdir(tmp_path / "out"))
