"""MaxBoxAccV2 (Choe et al., "Evaluating Weakly Supervised Object Localization Methods Right", CVPR 2020).

Each heatmap is min-max normalized; for every threshold t of a sweep, boxes are drawn around ALL
contours of the map thresholded at >= t (cv2.findContours, outer and hole borders alike, as in the
reference code); a sample's IoU at t is the best IoU between any of those boxes and any of its GT
boxes (0 when nothing is above t). BoxAcc(t, delta) = fraction of samples with IoU >= delta;
MaxBoxAcc(delta) = max over t; MaxBoxAccV2 = mean of MaxBoxAcc over delta in {0.3, 0.5, 0.7}.
"""

from typing import Dict, Sequence, Tuple

import cv2
import numpy as np

from ..modeling.cam.postprocessing import normalize_heatmaps
from .box_ops import box_iou
from .tables import BoxTable

CAM_THRESHOLDS = np.round(np.arange(0.0, 1.0, 0.01), 2)  # the reference sweep (interval 0.01)
IOU_DELTAS = (0.3, 0.5, 0.7)


def contour_boxes(heatmap: np.ndarray, thresholds: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Boxes around all contours of ``heatmap >= t`` for every ``t``: ``(boxes (m, 4), threshold index (m,))``

    All thresholded maps are stacked vertically, one empty row apart, so a single findContours call
    serves the whole sweep. Boxes are XYXY in heatmap pixel coordinates.
    """
    height, width = heatmap.shape
    stack = np.zeros((len(thresholds), height + 1, width), dtype=np.uint8)
    np.greater_equal(
        heatmap[None], np.asarray(thresholds, dtype=heatmap.dtype)[:, None, None], out=stack[:, :height]
    )
    contours, _ = cv2.findContours(stack.reshape(-1, width), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    lengths = np.fromiter((len(c) for c in contours), dtype=np.int64, count=len(contours))
    points = np.concatenate(contours).reshape(-1, 2)
    starts = np.cumsum(lengths) - lengths
    x0, y0 = np.minimum.reduceat(points, starts).T
    x1, y1 = np.maximum.reduceat(points, starts).T + 1
    slot = y0 // (height + 1)
    top = slot * (height + 1)
    return np.stack([x0, y0 - top, x1, y1 - top], axis=1).astype(np.float64), slot.astype(np.int64)


def best_box_iou(
    heatmaps: Sequence[np.ndarray], gt: BoxTable, thresholds: np.ndarray = CAM_THRESHOLDS
) -> np.ndarray:
    """``(n_samples, n_thresholds)`` best IoU between the contour boxes and the GT boxes of each sample.

    ``gt.image`` indexes ``heatmaps``; GT boxes are in heatmap pixel coordinates.
    """
    best = np.zeros((len(heatmaps), len(thresholds)))
    for i, (heatmap, gt_boxes) in enumerate(zip(heatmaps, gt.boxes_per_image(len(heatmaps)))):
        boxes, slot = contour_boxes(normalize_heatmaps(heatmap, "minmax"), thresholds)
        if len(boxes) and len(gt_boxes):
            np.maximum.at(best[i], slot, box_iou(boxes[:, None], gt_boxes[None]).max(axis=1))
    return best


def max_box_acc(
    best_iou: np.ndarray, thresholds: np.ndarray = CAM_THRESHOLDS, deltas: Sequence[float] = IOU_DELTAS
) -> Dict[str, object]:
    """MaxBoxAcc per IoU delta (with its best threshold) and their mean, MaxBoxAccV2, from best IoUs."""
    deltas = np.asarray(deltas, dtype=np.float64)
    if len(best_iou) == 0:
        per_delta = best_threshold = np.full(len(deltas), np.nan)
    else:
        accuracy = (best_iou[:, :, None] >= deltas).mean(axis=0)  # (thresholds, deltas)
        per_delta = accuracy.max(axis=0)
        best_threshold = np.asarray(thresholds)[accuracy.argmax(axis=0)]
    return {
        "maxboxaccv2": float(per_delta.mean()),
        "deltas": deltas.tolist(),
        "maxboxacc": per_delta.tolist(),
        "best_threshold": best_threshold.tolist(),
    }
