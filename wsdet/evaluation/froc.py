"""FROC analysis of lesion detection: sensitivity at fixed numbers of false positives per image.

Detections are matched one-to-one to lesions, greedily by decreasing score (:mod:`.matching`): a
detection hits at most one lesion, a lesion is counted once, and further detections of an already
found lesion are false positives. A hit needs the boxes to overlap: IoU > ``iou_thresh``
(``criterion="iou"``) or the detection centre inside the lesion box (``criterion="center"``, which
implies overlap). A non-overlapping pair is never a hit, unlike in an assignment that pairs every
detection with some lesion (coco-froc-analysis). Matching is per class unless ``class_aware=False``.
Because matching is greedy by score, the matching of the detections above any score threshold is
the full one restricted to them, so a single matching gives the whole curve. False positives are
averaged over all images; normal images only contribute false positives.
"""

from typing import Dict, Mapping, Sequence

import numpy as np

from .box_ops import box_centers, box_iou, points_in_boxes
from .curves import operating_points
from .matching import greedy_match
from .tables import BoxTable, pair_indices

FROC_FP_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def match_detections(
    gt: BoxTable, dets: BoxTable, iou_thresh: float = 0.5, criterion: str = "iou", class_aware: bool = True
) -> np.ndarray:
    """``(D,)`` index of the GT box each detection hits, -1 for a false positive."""
    rows_det, rows_gt = pair_indices(dets, gt, same_class=class_aware)
    iou = box_iou(dets.boxes[rows_det], gt.boxes[rows_gt])
    if criterion == "iou":
        ok = iou > iou_thresh
    elif criterion == "center":
        ok = points_in_boxes(box_centers(dets.boxes[rows_det]), gt.boxes[rows_gt])
    else:
        raise ValueError(f"Unknown FROC hit criterion {criterion!r}; expected 'iou' or 'center'")
    return greedy_match(dets.image, dets.scores, rows_det[ok], rows_gt[ok], iou[ok])


def sensitivity_at(curve: Mapping[str, np.ndarray], fp_rates: Sequence[float]) -> np.ndarray:
    """Sensitivity of a FROC ``curve`` at each of ``fp_rates`` false positives per image (step function)."""
    fppi = np.asarray(curve["fp_per_image"], dtype=np.float64)
    sens = np.asarray(curve["sensitivity"], dtype=np.float64)
    last_within = np.searchsorted(fppi, np.asarray(fp_rates, dtype=np.float64), side="right") - 1
    return np.where(last_within >= 0, sens[np.maximum(last_within, 0)], 0.0)


def froc(
    gt: BoxTable,
    dets: BoxTable,
    num_images: int,
    fp_rates: Sequence[float] = FROC_FP_RATES,
    iou_thresh: float = 0.5,
    criterion: str = "iou",
    class_aware: bool = True,
) -> Dict[str, object]:
    """FROC sensitivities at ``fp_rates`` false positives per image, their mean, and the full curve.

    The sensitivity at rate ``f`` is the highest sensitivity of an operating point (score threshold)
    with at most ``f`` false positives per image; the curve starts at (0, 0). Returns
    ``{"fp_rates", "sensitivity", "mean_sensitivity", "num_lesions", "num_images", "curve"}``, the curve
    being ``{"fp_per_image", "sensitivity", "score_thresholds"}`` arrays (one point per distinct score).
    """
    hits = match_detections(gt, dets, iou_thresh, criterion, class_aware) >= 0
    thresholds, n_hits, n_selected = operating_points(dets.scores, hits)
    n_lesions = len(gt)
    sens_curve = np.concatenate([[0.0], n_hits / n_lesions if n_lesions else np.full(len(n_hits), np.nan)])
    fppi_curve = np.concatenate([[0.0], (n_selected - n_hits) / max(num_images, 1)])
    sensitivity = sensitivity_at({"fp_per_image": fppi_curve, "sensitivity": sens_curve}, fp_rates)
    return {
        "fp_rates": [float(f) for f in fp_rates],
        "sensitivity": sensitivity.tolist(),
        "mean_sensitivity": float(np.mean(sensitivity)),
        "num_lesions": int(n_lesions),
        "num_images": int(num_images),
        "curve": {
            "fp_per_image": fppi_curve,
            "sensitivity": sens_curve,
            "score_thresholds": np.concatenate([[np.inf], thresholds]),
        },
    }
