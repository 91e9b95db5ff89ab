"""Scored boxes from class heatmaps: threshold, connected regions, score = map statistic x class prob."""

from typing import Tuple

import cv2
import numpy as np
import torch
from scipy import ndimage

from detectron2.config import CfgNode, configurable
from detectron2.structures import Boxes, Instances

from .postprocessing import HEATMAP_NORMALIZATIONS, normalize_heatmaps

__all__ = ["heatmap_to_boxes", "HeatmapBoxExtractor"]

COMPONENTS = ("largest", "all")
STATISTICS = ("max", "mean")


def heatmap_to_boxes(
    heatmap: np.ndarray, threshold: float, components: str = "largest", statistic: str = "max"
) -> Tuple[np.ndarray, np.ndarray]:
    """
    Boxes around the 8-connected regions of ``heatmap >= threshold``.

    Args:
        heatmap: (H, W) map; pixel (r, c) covers [c, c + 1) x [r, r + 1).
        threshold: pixels at or above it are foreground.
        components: "largest" (by area) or "all" regions.
        statistic: "max" or "mean" of the map inside each region.

    Returns:
        (n, 4) float32 XYXY boxes and (n,) float32 statistics.
    """
    if components not in COMPONENTS or statistic not in STATISTICS:
        raise ValueError(f"components must be in {COMPONENTS} and statistic in {STATISTICS}")
    heatmap = np.asarray(heatmap, dtype=np.float32)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (heatmap >= threshold).astype(np.uint8), connectivity=8
    )
    ids = np.arange(1, count)
    if components == "largest" and len(ids):
        ids = ids[[np.argmax(stats[1:, cv2.CC_STAT_AREA])]]
    if not len(ids):
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    x, y = stats[ids, cv2.CC_STAT_LEFT], stats[ids, cv2.CC_STAT_TOP]
    boxes = np.stack([x, y, x + stats[ids, cv2.CC_STAT_WIDTH], y + stats[ids, cv2.CC_STAT_HEIGHT]], axis=1)
    reduce = ndimage.maximum if statistic == "max" else ndimage.mean
    values = np.asarray(reduce(heatmap, labels, ids), dtype=np.float32)
    return boxes.astype(np.float32), values


class HeatmapBoxExtractor:
    """
    Turns the (K, H, W) heatmaps and (K,) probabilities of one image into detections (``Instances``
    with ``pred_boxes``, ``scores``, ``pred_classes``): per class, the maps are used as they are
    (``"absolute"``, e.g. PCAM probabilities) or min-max normalized to [0, 1] (``"minmax"``),
    thresholded, and each kept region is scored ``statistic(map in region) x probability of the class``.
    The ``max_detections`` best-scored boxes are kept.
    """

    @configurable
    def __init__(
        self,
        *,
        normalize: str = "absolute",
        threshold: float = 0.5,
        components: str = "largest",
        statistic: str = "max",
        max_detections: int = 100,
    ):
        if normalize not in HEATMAP_NORMALIZATIONS:
            raise ValueError(
                f"WSDET.CAM.BOXES.NORMALIZE must be one of {HEATMAP_NORMALIZATIONS}, got {normalize!r}"
            )
        self.normalize = normalize
        self.threshold = threshold
        self.components = components
        self.statistic = statistic
        self.max_detections = max_detections

    @classmethod
    def from_config(cls, cfg: CfgNode):
        boxes = cfg.WSDET.CAM.BOXES
        return {
            "normalize": boxes.NORMALIZE,
            "threshold": boxes.THRESHOLD,
            "components": boxes.COMPONENTS,
            "statistic": boxes.SCORE,
            "max_detections": cfg.TEST.DETECTIONS_PER_IMAGE,
        }

    def __call__(self, heatmaps: torch.Tensor, probs: torch.Tensor) -> Instances:
        maps = normalize_heatmaps(heatmaps.detach().float().cpu(), self.normalize)
        probs = probs.detach().float().cpu().numpy()
        boxes, scores, classes = [], [], []
        for c, heatmap in enumerate(maps.numpy()):
            class_boxes, values = heatmap_to_boxes(heatmap, self.threshold, self.components, self.statistic)
            boxes.append(class_boxes)
            scores.append(values * probs[c])
            classes.append(np.full(len(values), c, dtype=np.int64))
        scores = np.concatenate(scores)
        keep = np.argsort(-scores, kind="stable")[: self.max_detections]
        result = Instances(tuple(heatmaps.shape[-2:]))
        result.pred_boxes = Boxes(torch.from_numpy(np.concatenate(boxes)[keep]).to(heatmaps.device))
        result.scores = torch.from_numpy(scores[keep]).to(heatmaps.device)
        result.pred_classes = torch.from_numpy(np.concatenate(classes)[keep]).to(heatmaps.device)
        return result
