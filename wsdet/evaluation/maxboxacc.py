"""MaxBoxAccV2 (Choe et al., "Evaluating Weakly Supervised Object Localization Methods Right", CVPR 2020).

Each heatmap is min-max normalized; for every threshold t of a sweep, boxes are drawn around ALL
contours of the map thresholded at >= t (cv2.findContours, outer and hole borders alike, as in the
reference code); a sample's IoU at t is the best IoU between any of those boxes and any of its GT
boxes (0 when nothing is above t). BoxAcc(t, delta) = fraction of samples with IoU >= delta;
MaxBoxAcc(delta) = max over t; MaxBoxAccV2 = mean of MaxBoxAcc over delta in {0.3, 0.5, 0.7}.
The contour boxes of all thresholds and their best IoUs come from :mod:`.contour_sweep`, compiled,
for many maps at once.
"""

from typing import Dict, Sequence

import numpy as np

from .heatmap_ops import level_chunks
from .tables import BoxTable

CAM_THRESHOLDS = np.round(np.arange(0.0, 1.0, 0.01), 2)  # the reference sweep (interval 0.01)
IOU_DELTAS = (0.3, 0.5, 0.7)


class BestBoxIoU:
    """Accumulates, chunk by chunk of :func:`level_chunks`, the best IoU between the contour boxes of
    each map at each threshold and the GT boxes of its sample (``gt.image`` indexes the maps; GT
    boxes in heatmap pixels). Samples without GT boxes keep 0."""

    def __init__(self, num_samples: int, num_thresholds: int, gt: BoxTable):
        self.best = np.zeros((num_samples, num_thresholds))
        order = np.argsort(gt.image, kind="stable")
        self._gt_boxes = gt.boxes[order]
        self.count = np.bincount(gt.image, minlength=num_samples)[:num_samples]
        self._first = np.cumsum(self.count) - self.count

    def add(self, chunk: np.ndarray, levels: np.ndarray) -> None:
        """Add the maps ``chunk`` (sample indices) given their threshold levels."""
        from .contour_sweep import best_contour_iou  # imports numba (0.4 s): on first use, not with wsdet

        self.best[chunk] = best_contour_iou(
            levels, self.best.shape[1], self._gt_boxes, self._first[chunk], self.count[chunk]
        )


def best_box_iou(
    heatmaps: Sequence[np.ndarray], gt: BoxTable, thresholds: np.ndarray = CAM_THRESHOLDS
) -> np.ndarray:
    """``(n_samples, n_thresholds)`` best IoU between the contour boxes and the GT boxes of each sample.

    ``gt.image`` indexes ``heatmaps``; GT boxes are in heatmap pixel coordinates. Samples without GT
    boxes get 0. A map is thresholded at ``value >= t`` after min-max normalization.
    """
    sweep, column = np.unique(np.asarray(thresholds, dtype=np.float64), return_inverse=True)
    result = BestBoxIoU(len(heatmaps), len(sweep), gt)
    if len(sweep):
        for chunk, _, levels in level_chunks(heatmaps, sweep, samples=np.flatnonzero(result.count)):
            result.add(chunk, levels)
    return result.best.take(column.reshape(-1), axis=1)


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
