"""COCO AP of wsdet's evaluation path (dataset registered by wsdet, model outputs with contiguous class ids and
XYXY boxes, the Trainer's evaluators) equals pycocotools' COCOeval run directly on the original JSON and
hand-converted results: checks the category-id mapping and box conversions, with non-contiguous ids and
several boxes per image."""

import json
import os

import numpy as np
import pytest
import torch
from detectron2.structures import Boxes, Instances
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from detectron2.config import get_cfg

from wsdet.config import add_wsdet_config
from wsdet.data.registration import register_wsdet_coco
from wsdet.engine.trainer import WSDetTrainer

from conftest import dump, unique_name, write_image

CATEGORY_IDS = [3, 7]  # contiguous 0, 1
SIZE = 120


def _coco(image_root: str, rng: np.random.Generator) -> dict:
    images, annotations = [], []
    for i in range(12):
        write_image(os.path.join(image_root, f"{i}.png"), SIZE, SIZE)
        labels = [] if i % 4 == 0 else sorted({int(c) for c in rng.choice(CATEGORY_IDS, 1 + i % 2)})
        images.append({"id": 100 + i, "file_name": f"{i}.png", "height": SIZE, "width": SIZE,
                       "pos_category_ids": labels})
        for category in labels:
            for _ in range(1 + i % 3):
                x, y = rng.uniform(0, 70, 2)
                w, h = rng.uniform(8, 45, 2)
                annotations.append({"id": len(annotations) + 1, "image_id": 100 + i, "category_id": category,
                                    "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
    categories = [{"id": c, "name": f"class{c}"} for c in CATEGORY_IDS]
    return {"images": images, "annotations": annotations, "categories": categories}


def _predictions(coco: dict, rng: np.random.Generator) -> dict:
    """image id -> (XYXY boxes, contiguous classes, scores): jittered GT boxes, wrong classes, clutter."""
    per_image = {img["id"]: ([], [], []) for img in coco["images"]}
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        jitter = rng.normal(0, 0.12 * max(w, h), 4)
        cls = CATEGORY_IDS.index(ann["category_id"])
        if rng.uniform() < 0.15:
            cls = 1 - cls
        boxes, classes, scores = per_image[ann["image_id"]]
        boxes.append([x + jitter[0], y + jitter[1], x + w + jitter[2], y + h + jitter[3]])
        classes.append(cls)
        scores.append(rng.uniform(0.2, 1.0))
    for boxes, classes, scores in per_image.values():
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.uniform(0, 90, 2)
            boxes.append([x, y, x + rng.uniform(5, 30), y + rng.uniform(5, 30)])
            classes.append(int(rng.integers(0, 2)))
            scores.append(rng.uniform(0.0, 0.8))
    return per_image


def _coco_eval(gt_json: str, per_image: dict) -> np.ndarray:
    results = [
        {"image_id": image_id, "category_id": CATEGORY_IDS[c], "score": float(s),
         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]}
        for image_id, (boxes, classes, scores) in per_image.items()
        for b, c, s in zip(boxes, classes, scores)
    ]
    gt = COCO(gt_json)
    evaluator = COCOeval(gt, gt.loadRes(results), "bbox")
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats


def test_trainer_ap_equals_pycocotools(tmp_path):
    rng = np.random.default_rng(0)
    coco = _coco(str(tmp_path / "images"), rng)
    gt_json = dump(coco, str(tmp_path / "gt.json"))
    name = unique_name("coco_ap")
    register_wsdet_coco(name, gt_json, str(tmp_path / "images"))
    per_image = _predictions(coco, rng)

    cfg = get_cfg()
    add_wsdet_config(cfg)
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 2
    cfg.WSDET.EVAL.BOOTSTRAP_RESAMPLES = 10
    evaluator = WSDetTrainer.build_evaluator(cfg, name, str(tmp_path / "eval"))
    evaluator.reset()
    for image_id, (boxes, classes, scores) in per_image.items():
        instances = Instances((SIZE, SIZE))
        instances.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
        instances.pred_classes = torch.tensor(classes, dtype=torch.int64)
        instances.scores = torch.tensor(scores, dtype=torch.float32)
        evaluator.process([{"image_id": image_id, "height": SIZE, "width": SIZE}], [{"instances": instances}])
    results = evaluator.evaluate()

    reference = _coco_eval(gt_json, per_image)
    assert 0.2 < reference[0] < 0.9  # neither trivial nor perfect
    # detection boxes are stored as float32 by Instances: tiny IoU differences at most
    for key, index in (("AP", 0), ("AP50", 1), ("AP75", 2), ("APs", 3), ("APm", 4)):
        expected = 100 * reference[index] if reference[index] >= 0 else float("nan")
        assert results["bbox"][key] == pytest.approx(expected, abs=0.05, nan_ok=True), key
    with open(tmp_path / "eval" / "coco_instances_results.json") as f:
        written = json.load(f)
    assert {r["category_id"] for r in written} == set(CATEGORY_IDS)
    assert len(written) == sum(len(s) for _, _, s in per_image.values())
