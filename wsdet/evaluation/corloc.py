"""CorLoc (correct localization rate) of lesion detectors, with bootstrap CIs.

Two definitions, both per (image, class c) with at least one GT box of class c, IoU > ``iou_thresh``:

- ``"official"`` (Shin et al. 2019, code syshin1014/wssdl_bus): correct if ANY class-c detection with
  score >= ``score_thresh`` overlaps a class-c GT box. It rewards over-detection, so report it with
  the false positives per normal image (detections with score >= ``score_thresh`` on normal images).
- ``"top1"`` (the usual weakly supervised definition): correct if the top-scoring class-c detection of
  the image (whatever its score; ties: the first) overlaps a class-c GT box. The top detection is
  taken per class, not over all classes.

Overall CorLoc pools the (image, class) pairs; with one lesion class per image it is per image.
"""

from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from .bootstrap import bootstrap_ci, paired_bootstrap_pvalue
from .box_ops import box_iou
from .tables import BoxTable, pair_indices

DEFINITIONS = ("official", "top1")


def _top_per_image_class(dets: BoxTable) -> np.ndarray:
    """Rows of the highest-scoring detection of each (image, class); ties: the first row."""
    order = np.lexsort((-dets.scores, dets.classes, dets.image))
    image, classes = dets.image[order], dets.classes[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (image[1:] != image[:-1]) | (classes[1:] != classes[:-1])
    return order[first]


def corloc_outcomes(
    gt: BoxTable,
    dets: BoxTable,
    num_images: int,
    num_classes: int,
    definition: str = "official",
    score_thresh: float = 0.5,
    iou_thresh: float = 0.5,
) -> Tuple[np.ndarray, np.ndarray]:
    """Per (image, class) outcomes ``(correct, has_gt)``: boolean ``(num_images, num_classes)`` arrays."""
    has_gt = np.zeros((num_images, num_classes), dtype=bool)
    has_gt[gt.image, gt.classes] = True
    if definition == "official":
        candidates = dets.select(dets.scores >= score_thresh)
    elif definition == "top1":
        candidates = dets.select(_top_per_image_class(dets))
    else:
        raise ValueError(f"Unknown CorLoc definition {definition!r}; expected one of {DEFINITIONS}")
    rows_det, rows_gt = pair_indices(candidates, gt)
    hit = rows_det[box_iou(candidates.boxes[rows_det], gt.boxes[rows_gt]) > iou_thresh]
    correct = np.zeros_like(has_gt)
    correct[candidates.image[hit], candidates.classes[hit]] = True
    return correct, has_gt


def false_positives_per_normal_image(dets: BoxTable, normal: np.ndarray, score_thresh: float = 0.5) -> float:
    """Mean number of detections with score >= ``score_thresh`` on the images flagged ``normal``."""
    normal = np.asarray(normal, dtype=bool)
    if not normal.any():
        return float("nan")
    return float(np.count_nonzero(normal[dets.image] & (dets.scores >= score_thresh)) / normal.sum())


def _per_image(
    correct: np.ndarray, has_gt: np.ndarray, class_index: Optional[int]
) -> Tuple[np.ndarray, np.ndarray]:
    """(correct, lesion) counts per image, for one class or all, over images with a lesion of it."""
    cols = slice(None) if class_index is None else slice(class_index, class_index + 1)
    num = (correct & has_gt)[:, cols].sum(axis=1)
    den = has_gt[:, cols].sum(axis=1)
    return num[den > 0], den[den > 0]


def _summary(num: np.ndarray, den: np.ndarray, n_resamples: int, seed: int) -> Dict[str, object]:
    value = float(num.sum() / den.sum()) if den.sum() else float("nan")
    low, high = bootstrap_ci(num, den, n_resamples=n_resamples, seed=seed)
    return {"corloc": value, "ci95": [low, high], "num_images": int(len(den))}


def summarize_corloc(
    correct: np.ndarray,
    has_gt: np.ndarray,
    class_names: Sequence[str],
    n_resamples: int = 1000,
    seed: int = 0,
) -> Dict[str, object]:
    """CorLoc overall and per class, each with a 95% bootstrap CI over the images with a lesion."""
    result = _summary(*_per_image(correct, has_gt, None), n_resamples, seed)
    result["per_class"] = {
        name: _summary(*_per_image(correct, has_gt, c), n_resamples, seed)
        for c, name in enumerate(class_names)
    }
    return result


def corloc_pvalue(
    correct_a: np.ndarray,
    correct_b: np.ndarray,
    has_gt: np.ndarray,
    class_index: Optional[int] = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> float:
    """Paired bootstrap p-value that two models' CorLoc (overall or of a class) on the same images differ."""
    num_a, den = _per_image(correct_a, has_gt, class_index)
    num_b, _ = _per_image(correct_b, has_gt, class_index)
    return paired_bootstrap_pvalue(num_a, num_b, den, n_resamples=n_resamples, seed=seed)


def corloc_report(
    gt: BoxTable,
    dets: BoxTable,
    num_images: int,
    class_names: Sequence[str],
    normal: Optional[np.ndarray] = None,
    score_thresh: float = 0.5,
    iou_thresh: float = 0.5,
    n_resamples: int = 1000,
    seed: int = 0,
) -> Dict[str, object]:
    """Both CorLoc definitions (with CIs) and the false positives per normal image.

    ``normal``: ``(num_images,)`` flags of normal images; default: the images without GT boxes.
    """
    if normal is None:
        normal = np.bincount(gt.image, minlength=num_images) == 0
    report: Dict[str, object] = {}
    for definition in DEFINITIONS:
        correct, has_gt = corloc_outcomes(
            gt, dets, num_images, len(class_names), definition, score_thresh, iou_thresh
        )
        report[definition] = summarize_corloc(correct, has_gt, class_names, n_resamples, seed)
    report["fp_per_normal_image"] = false_positives_per_normal_image(dets, normal, score_thresh)
    report["num_normal_images"] = int(np.count_nonzero(normal))
    return report
