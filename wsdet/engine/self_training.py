"""Self-training (Shin et al. 2019): turn confident weak images into pseudo box-annotated images.

A trained model is applied to a weak dataset; an image is a candidate when its predicted class (argmax
over normal + lesion classes of ``image_probs``) agrees with its image label and a detection of that
class exists. Candidates are ranked by the probability of their label, most confident first; the top
``fraction`` of the weak lesion images get their top detection of the label class as a pseudo box.
"""
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch
import yaml
from detectron2.config import CfgNode
from detectron2.evaluation import DatasetEvaluator, inference_on_dataset
from detectron2.structures import Boxes, BoxMode, pairwise_iou
from detectron2.utils import comm

from .defaults import build_config


@dataclass(frozen=True)
class PseudoLabel:
    """A weak image promoted to a box-annotated one."""

    image_id: Any
    category: int  # contiguous class id
    box_xyxy: Tuple[float, float, float, float]
    score: float  # detection score of the pseudo box
    confidence: float  # image-level probability of the label, the ranking key


class PredictionCollector(DatasetEvaluator):
    """Keeps each image's ``image_probs`` and detections (on CPU), gathered to the main process."""

    def reset(self):
        self._predictions: Dict[Any, Dict[str, np.ndarray]] = {}

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            instances = out["instances"].to("cpu")
            self._predictions[inp["image_id"]] = {
                "image_probs": out["image_probs"].detach().cpu().float().numpy(),
                "boxes": instances.pred_boxes.tensor.numpy(),
                "scores": instances.scores.numpy(),
                "classes": instances.pred_classes.numpy(),
            }

    def evaluate(self):
        gathered = comm.gather(self._predictions, dst=0)
        if not comm.is_main_process():
            return {}
        self.predictions = {k: v for part in gathered for k, v in part.items()}
        return {}


def select_pseudo_labels(
    dataset_dicts: Sequence[Dict[str, Any]],
    predictions: Dict[Any, Dict[str, np.ndarray]],
    fraction: float,
) -> List[PseudoLabel]:
    """The most confident agreeing weak lesion images, ``fraction`` of all weak lesion images.

    Only single-label images take part (one lesion class per image, as in breast ultrasound).
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    lesion_images = [d for d in dataset_dicts if len(d["image_labels"]) == 1]
    candidates: List[PseudoLabel] = []
    for d in lesion_images:
        pred = predictions.get(d["image_id"])
        if pred is None:
            raise KeyError(f"no prediction for image {d['image_id']} ({d['file_name']})")
        label = d["image_labels"][0]
        probs = pred["image_probs"]
        normal = max(0.0, 1.0 - float(probs.sum()))
        if int(np.argmax(np.concatenate([[normal], probs]))) != label + 1:
            continue
        of_label = np.flatnonzero(pred["classes"] == label)
        if not len(of_label):
            continue
        top = of_label[np.argmax(pred["scores"][of_label])]
        candidates.append(
            PseudoLabel(
                image_id=d["image_id"],
                category=label,
                box_xyxy=tuple(float(v) for v in pred["boxes"][top]),
                score=float(pred["scores"][top]),
                confidence=float(probs[label]),
            )
        )
    candidates.sort(key=lambda p: -p.confidence)
    return candidates[: int(round(fraction * len(lesion_images)))]


def pseudo_box_quality(
    pseudo_labels: Sequence[PseudoLabel], truth_dicts: Sequence[Dict[str, Any]]
) -> Dict[str, float]:
    """
    How well the pseudo boxes match known boxes of the same images (e.g. the true boxes the synthetic
    weak splits keep aside, or an annotated audit subset): for each pseudo box, the best IoU with a
    true box of its class in its image (0 when there is none).

    Returns:
        ``{"images": n, "mean_iou": ..., "iou_at_least_0.5": fraction, "audited": images with truth}``.
    """
    truth = {d["image_id"]: d.get("annotations", []) for d in truth_dicts}
    ious = []
    for p in pseudo_labels:
        if p.image_id not in truth:
            continue
        boxes = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS)
                 for a in truth[p.image_id] if a["category_id"] == p.category]
        best = 0.0
        if boxes:
            best = float(pairwise_iou(Boxes(torch.tensor([p.box_xyxy])), Boxes(torch.tensor(boxes))).max())
        ious.append(best)
    return {
        "images": len(pseudo_labels),
        "audited": len(ious),
        "mean_iou": float(np.mean(ious)) if ious else float("nan"),
        "iou_at_least_0.5": float(np.mean(np.array(ious) >= 0.5)) if ious else float("nan"),
    }


def pseudo_box_quality_by_fraction(
    dataset_dicts: Sequence[Dict[str, Any]],
    predictions: Dict[Any, Dict[str, np.ndarray]],
    truth_dicts: Sequence[Dict[str, Any]],
    fractions: Sequence[float],
) -> Dict[str, Dict[str, float]]:
    """:func:`pseudo_box_quality` of the pseudo-labels each of ``fractions`` would select (keyed by the
    fraction as text): whether a smaller fraction buys tighter boxes, measured on known boxes."""
    return {
        f"{fraction:g}": pseudo_box_quality(select_pseudo_labels(dataset_dicts, predictions, fraction), truth_dicts)
        for fraction in fractions
    }


def write_pseudo_label_jsons(
    weak_json: str,
    pseudo_labels: Sequence[PseudoLabel],
    contiguous_to_dataset_id: Dict[int, int],
    pseudo_json: str,
    remaining_weak_json: str,
) -> Tuple[int, int]:
    """Split a weak COCO JSON into a pseudo box-annotated JSON and the remaining weak JSON.

    Image entries (file names, ids, labels) are copied unchanged, so both files use the weak file's
    image root. Pseudo boxes carry ``"pseudo_label": true`` and their ``score``. Returns the image
    counts of the two files.
    """
    with open(weak_json) as f:
        coco = json.load(f)
    by_id = {p.image_id: p for p in pseudo_labels}
    annotations = []
    for p in pseudo_labels:
        x, y, w, h = BoxMode.convert(list(p.box_xyxy), BoxMode.XYXY_ABS, BoxMode.XYWH_ABS)
        annotations.append(
            {
                "id": len(annotations) + 1,
                "image_id": p.image_id,
                "category_id": contiguous_to_dataset_id[p.category],
                "bbox": [x, y, w, h],
                "area": w * h,
                "iscrowd": 0,
                "pseudo_label": True,
                "score": p.score,
            }
        )
    pseudo = {
        **coco,
        "images": [img for img in coco["images"] if img["id"] in by_id],
        "annotations": annotations,
    }
    remaining = {**coco, "images": [img for img in coco["images"] if img["id"] not in by_id]}
    remaining["annotations"] = []
    for path, content in ((pseudo_json, pseudo), (remaining_weak_json, remaining)):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            json.dump(content, f)
    return len(pseudo["images"]), len(remaining["images"])


def collect_predictions(model: torch.nn.Module, data_loader) -> Dict[Any, Dict[str, np.ndarray]]:
    """Run ``model`` over a test loader (all processes) and return the gathered predictions."""
    collector = PredictionCollector()
    inference_on_dataset(model, data_loader, collector)
    return getattr(collector, "predictions", {})


RETRAIN_INIT = ("config", "model", "none")


def initial_weights_of_run(trained_weights: str, config_file: str) -> Tuple[str, str]:
    """
    The ``MODEL.WEIGHTS`` the run that produced ``trained_weights`` started from: from the
    ``config.yaml`` Detectron2 saved beside it when there is one (it holds command-line overrides, e.g.
    a local copy of ImageNet weights), else from ``config_file``. Returns (weights, where they come from).
    """
    saved = os.path.join(os.path.dirname(trained_weights), "config.yaml")
    if os.path.isfile(saved):
        with open(saved) as f:
            weights = (yaml.safe_load(f) or {}).get("MODEL", {}).get("WEIGHTS", "")
        return weights, saved
    return build_config(config_file).MODEL.WEIGHTS, config_file


def retrain_weights(init: str, config_weights: str, trained_weights: str) -> str:
    """
    The weights the retraining starts from: ``"config"``, the config file's ``MODEL.WEIGHTS`` (the
    original run's initial weights, e.g. ImageNet ones: the paper's choice); ``"model"``, the model
    that made the pseudo-labels; ``"none"``, a random initialization ("").
    """
    if init not in RETRAIN_INIT:
        raise ValueError(f"retrain init must be one of {RETRAIN_INIT}, got {init!r}")
    return {"config": config_weights, "model": trained_weights, "none": ""}[init]


def retrain_config(
    cfg: CfgNode, weak_name: str, pseudo_name: str, remaining_name: str, output_dir: str, weights: str
) -> CfgNode:
    """``cfg`` retraining from ``weights`` (the original run's initial weights, the pseudo-labelling
    model, or "" for a random initialization) on its strong datasets + the pseudo-labelled images
    (+ ``remaining_name`` when the config trains on weak images: the images not pseudo-labelled, or
    ``weak_name`` itself to keep every labelled image in the MIL loss), into ``<output_dir>/retrain``."""
    train = [n for n in cfg.DATASETS.TRAIN if n != weak_name] + [pseudo_name]
    if cfg.WSDET.DATALOADER.WEAK_IMS_PER_BATCH:
        train.append(remaining_name)
    cfg = cfg.clone()
    cfg.defrost()
    cfg.DATASETS.TRAIN = tuple(train)
    cfg.MODEL.WEIGHTS = weights
    cfg.OUTPUT_DIR = os.path.join(output_dir, "retrain")
    cfg.freeze()
    return cfg
