"""What an evaluation wrote into ``OUTPUT_DIR/inference/<dataset>``, read back for tools that compare or
draw models: detections (``coco_instances_results.json``), image probabilities (``image_probs.json``)
and the evaluator's FROC curve (``froc_curve.npz``)."""
import json
import os
from typing import Dict, Optional

import numpy as np

from .gt_io import GroundTruth, detections_from_coco_results
from .tables import BoxTable

__all__ = ["IMAGE_PROBS_FILE", "load_detections", "load_image_probs", "load_froc_curve", "run_label"]

IMAGE_PROBS_FILE = "image_probs.json"


def run_label(results_dir: str) -> str:
    """The run folder of ``<run>/inference/<dataset>``, else the folder's own name."""
    parts = os.path.normpath(os.path.abspath(results_dir)).split(os.sep)
    return parts[-3] if len(parts) >= 3 and parts[-2] == "inference" else parts[-1]


def load_detections(results_dir: str, gt: GroundTruth, to_contiguous: Dict[int, int]) -> BoxTable:
    """The model's detections on ``gt``'s images (Detectron2's ``coco_instances_results.json``)."""
    return detections_from_coco_results(
        os.path.join(results_dir, "coco_instances_results.json"), gt, to_contiguous
    )


def load_image_probs(results_dir: str, gt: GroundTruth) -> Optional[np.ndarray]:
    """``(N, K)`` image probabilities on ``gt``'s images, None when the folder has none (or misses an image)."""
    path = os.path.join(results_dir, IMAGE_PROBS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        saved = json.load(f)
    by_id = dict(zip(saved["image_ids"], saved["probs"]))
    if any(i not in by_id for i in gt.image_ids):
        return None
    return np.array([by_id[i] for i in gt.image_ids], dtype=np.float64)


def load_froc_curve(results_dir: str) -> Optional[Dict[str, np.ndarray]]:
    """The FROC curve the evaluator saved, None without one."""
    path = os.path.join(results_dir, "froc_curve.npz")
    return dict(np.load(path)) if os.path.isfile(path) else None
