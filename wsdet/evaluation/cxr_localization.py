"""ChestX-ray14 localization accuracy at IoBB > T and average false positives (Wang et al., CVPR 2017).

Definition used here, for each (image, class c) with at least one GT box of class c (a "finding"),
looking at the class-c predicted boxes of that image: all of them for a heatmap model (the boxes of the
GT class's map whatever the class probability, as the ChestX-ray14 protocol evaluates the map of the
finding's class; ``score_thresh=None``), those with score >= ``score_thresh`` for a detector:

- accuracy(T): the finding is localized if some such box has IoBB > T with some class-c GT box,
  IoBB = |GT ∩ pred| / |pred|; accuracy = localized findings / findings;
- AFP(T): a such box is a false positive if its IoBB with every class-c GT box of the image is <= T;
  AFP = false positive boxes / findings.

Boxes of a class with no GT box in the image are left out of AFP (a classification error, not a
localization one), as are images without boxes. Overall values pool the findings of all classes.
"""

from typing import Dict, Optional, Sequence

import numpy as np

from .box_ops import box_iobb
from .tables import BoxTable, pair_indices

CXR_IOBB_THRESHOLDS = (0.1, 0.25, 0.5, 0.75, 0.9)


def _summary(n_findings: int, n_localized: np.ndarray, n_false: np.ndarray) -> Dict[str, object]:
    scale = 1.0 / n_findings if n_findings else np.nan
    return {
        "accuracy": (n_localized * scale).tolist(),
        "afp": (n_false * scale).tolist(),
        "num_findings": int(n_findings),
    }


def cxr_localization(
    gt: BoxTable,
    dets: BoxTable,
    num_images: int,
    class_names: Sequence[str],
    thresholds: Sequence[float] = CXR_IOBB_THRESHOLDS,
    score_thresh: Optional[float] = 0.5,
) -> Dict[str, object]:
    """Accuracy and AFP at each IoBB threshold, overall and per class (see the module docstring); the
    boxes with score < ``score_thresh`` are left out, none when it is None."""
    shape = (num_images, len(class_names))
    if score_thresh is not None:
        dets = dets.select(dets.scores >= score_thresh)
    rows_det, rows_gt = pair_indices(dets, gt)
    best_det = np.full(len(dets), -1.0)  # best IoBB of each box over its class's GT boxes; -1: none
    np.maximum.at(best_det, rows_det, box_iobb(gt.boxes[rows_gt], dets.boxes[rows_det]))
    scored = best_det >= 0
    image, cls, best = dets.image[scored], dets.classes[scored], best_det[scored]
    best_finding = np.full(shape, -1.0)
    np.maximum.at(best_finding, (image, cls), best)
    findings = np.zeros(shape, dtype=bool)
    findings[gt.image, gt.classes] = True

    thr = np.asarray(thresholds, dtype=np.float64)
    localized = (best_finding[..., None] > thr) & findings[..., None]  # (N, K, T)
    false_pos = np.zeros(shape + (len(thr),))
    np.add.at(false_pos, (image, cls), (best[:, None] <= thr).astype(np.float64))

    report = {"iobb_thresholds": thr.tolist()}
    report.update(_summary(findings.sum(), localized.sum(axis=(0, 1)), false_pos.sum(axis=(0, 1))))
    report["per_class"] = {
        name: _summary(findings[:, c].sum(), localized[:, c].sum(axis=0), false_pos[:, c].sum(axis=0))
        for c, name in enumerate(class_names)
    }
    return report
