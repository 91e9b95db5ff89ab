"""MaxBoxAccV2 (Choe et al., "Evaluating Weakly Supervised Object Localization Methods Right", CVPR 2020).

Each heatmap is min-max normalized; for every threshold t of a sweep, boxes are drawn around ALL
contours of the map thresholded at >= t (cv2.findContours, outer and hole borders alike, as in the
reference code); a sample's IoU at t is the best IoU between any of those boxes and any of its GT
boxes (0 when nothing is above t). BoxAcc(t, delta) = fraction of samples with IoU >= delta;
MaxBoxAcc(delta) = max over t; MaxBoxAccV2 = mean of MaxBoxAcc over delta in {0.3, 0.5, 0.7}.
The contour boxes of all thresholds come from :mod:`.contour_sweep`, for many maps at once.
"""

from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..modeling.cam.postprocessing import normalize_heatmaps
from .box_ops import box_iou
from .contour_sweep import sweep_contour_boxes
from .heatmap_ops import threshold_levels
from .tables import BoxTable

CAM_THRESHOLDS = np.round(np.arange(0.0, 1.0, 0.01), 2)  # the reference sweep (interval 0.01)
IOU_DELTAS = (0.3, 0.5, 0.7)
_CHUNK_PIXELS = 1 << 22  # map pixels swept at once


def best_box_iou(
    heatmaps: Sequence[np.ndarray], gt: BoxTable, thresholds: np.ndarray = CAM_THRESHOLDS
) -> np.ndarray:
    """``(n_samples, n_thresholds)`` best IoU between the contour boxes and the GT boxes of each sample.

    ``gt.image`` indexes ``heatmaps``; GT boxes are in heatmap pixel coordinates. Samples without GT
    boxes get 0.
    """
    sweep, column = np.unique(np.asarray(thresholds, dtype=np.float32), return_inverse=True)
    best = np.zeros((len(heatmaps), len(sweep)))
    order = np.argsort(gt.image, kind="stable")
    gt_boxes = gt.boxes[order]
    count = np.bincount(gt.image, minlength=len(heatmaps))[: len(heatmaps)]
    first = np.cumsum(count) - count
    by_shape: Dict[Tuple[int, ...], List[int]] = {}
    for i in np.flatnonzero(count):
        by_shape.setdefault(np.shape(heatmaps[i]), []).append(i)
    if not len(sweep):
        by_shape.clear()
    for shape, samples in by_shape.items():
        step = max(1, _CHUNK_PIXELS // max(1, int(np.prod(shape))))
        for start in range(0, len(samples), step):
            chunk = np.array(samples[start : start + step])
            maps = normalize_heatmaps(np.stack([heatmaps[i] for i in chunk]), "minmax")
            boxes, local, slot = sweep_contour_boxes(threshold_levels(maps, sweep), len(sweep))
            # every box against every GT box of its sample
            sample = chunk[local]
            pairs = count[sample]
            box_row = np.repeat(np.arange(len(boxes)), pairs)
            gt_row = np.arange(int(pairs.sum())) + np.repeat(first[sample] - np.cumsum(pairs) + pairs, pairs)
            iou = box_iou(boxes[box_row].astype(np.float64), gt_boxes[gt_row])
            np.maximum.at(best, (sample[box_row], slot[box_row]), iou)
    return best.take(column.reshape(-1), axis=1)


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
