"""CorLoc (correct localization rate) of lesion detectors, with bootstrap CIs.

Two definitions, both per (image, class c) with at least one GT box of class c, IoU > ``iou_thresh``:

- ``"official"`` (Shin et al. 2019, code syshin1014/wssdl_bus): correct if ANY class-c detection with
  score >= ``score_thresh`` overlaps a class-c GT box. It rewards over-detection, so report it with
  the false positives per normal image (detections with score >= ``score_thresh`` on normal images).
- ``"top1"`` (the usual weakly supervised definition): correct if the top-scoring class-c detection of
  the image (whatever its score; ties: the first) overlaps a class-c GT box. The top detection is
  taken per class, so a detection of the wrong class scoring higher does not count against it.
- ``"top1_any_class"``: correct if the image's top-scoring detection over all classes has class c and
  overlaps a class-c GT box, so that a classification error counts as a miss.

Overall CorLoc pools the (image, class) pairs; with one lesion class per image it is per image.
:func:`corloc_sweep` gives the official CorLoc and the false positives at every score threshold (the
official code's evaluation curve).
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .bootstrap import bootstrap_cis, paired_bootstrap_pvalue
from .box_ops import box_iou
from .tables import BoxTable, pair_indices

DEFINITIONS = ("official", "top1", "top1_any_class")


def _top_per_group(dets: BoxTable, per_class: bool) -> np.ndarray:
    """Rows of the highest-scoring detection of each (image, class) (``per_class``) or of each image,
    in group order. Ties: the first row; NaN scores lose to any other score (a group of only NaN
    scores: its first row).
    """
    if not len(dets):
        return np.zeros(0, dtype=np.int64)
    num_classes = int(dets.classes.max()) + 1
    key = dets.image * num_classes + dets.classes if per_class else dets.image
    best = np.full(int(key.max()) + 1, np.nan)
    np.fmax.at(best, key, dets.scores)
    rows = np.arange(len(dets))
    winner = (dets.scores == best[key]) | np.isnan(best[key])
    first = np.full(len(best), len(dets))
    np.minimum.at(first, key[winner], rows[winner])
    return first[first < len(dets)]


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
    elif definition in ("top1", "top1_any_class"):
        candidates = dets.select(_top_per_group(dets, per_class=definition == "top1"))
    else:
        raise ValueError(f"Unknown CorLoc definition {definition!r}; expected one of {DEFINITIONS}")
    hit = candidates.select(_hitting(candidates, gt, iou_thresh))
    correct = np.zeros_like(has_gt)
    correct[hit.image, hit.classes] = True
    return correct, has_gt


def _hitting(dets: BoxTable, gt: BoxTable, iou_thresh: float) -> np.ndarray:
    """Flags of the detections with IoU > ``iou_thresh`` with a GT box of their image and class."""
    rows_det, rows_gt = pair_indices(dets, gt)
    hits = np.zeros(len(dets), dtype=bool)
    hits[rows_det[box_iou(dets.boxes[rows_det], gt.boxes[rows_gt]) > iou_thresh]] = True
    return hits


def corloc_sweep(
    gt: BoxTable,
    dets: BoxTable,
    num_images: int,
    num_classes: int,
    normal: np.ndarray,
    thresholds: Sequence[float] = tuple(np.round(np.linspace(0, 1, 101), 2)),
    iou_thresh: float = 0.5,
) -> Dict[str, List[float]]:
    """
    The official CorLoc and the false positives at each score threshold: per threshold t, the share of
    (image, class) lesions with a class-c detection scoring >= t that overlaps them, the detections
    scoring >= t per normal image, and the detections scoring >= t that overlap no GT box of their
    class, per image.
    """
    thresholds = np.asarray(thresholds, dtype=np.float64)
    has_gt = np.zeros((num_images, num_classes), dtype=bool)
    has_gt[gt.image, gt.classes] = True
    hits = _hitting(dets, gt, iou_thresh)
    best = np.full((num_images, num_classes), -np.inf)  # best score of a hitting detection per lesion
    np.fmax.at(best, (dets.image[hits], dets.classes[hits]), dets.scores[hits])
    lesion_best = np.sort(best[has_gt])
    normal = np.asarray(normal, dtype=bool)
    on_normal = np.sort(dets.scores[normal[dets.image]])
    misses = np.sort(dets.scores[~hits])

    def at_least(sorted_scores: np.ndarray) -> np.ndarray:
        return len(sorted_scores) - np.searchsorted(sorted_scores, thresholds, side="left")

    return {
        "score_thresholds": thresholds.tolist(),
        "corloc_official": (at_least(lesion_best) / max(len(lesion_best), 1)).tolist(),
        "fp_per_normal_image": (at_least(on_normal) / max(int(normal.sum()), 1)).tolist(),
        "fp_per_image": (at_least(misses) / max(num_images, 1)).tolist(),
    }


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


def _summaries(
    nums: Sequence[np.ndarray], den: np.ndarray, n_resamples: int, seed: int
) -> List[Dict[str, object]]:
    cis = bootstrap_cis(nums, den, n_resamples=n_resamples, seed=seed)
    return [
        {
            "corloc": float(num.sum() / den.sum()) if den.sum() else float("nan"),
            "ci95": [low, high],
            "num_images": int(len(den)),
        }
        for num, (low, high) in zip(nums, cis)
    ]


def summarize_corloc(
    corrects: Sequence[np.ndarray],
    has_gt: np.ndarray,
    class_names: Sequence[str],
    n_resamples: int = 1000,
    seed: int = 0,
) -> List[Dict[str, object]]:
    """CorLoc of each outcome array of ``corrects`` (the same images) overall and per class, each with
    a 95% bootstrap CI over the images with a lesion (one set of resamples serves all ``corrects``)."""

    def per_scope(class_index: Optional[int]) -> List[Dict[str, object]]:
        den = _per_image(corrects[0], has_gt, class_index)[1]
        nums = [_per_image(correct, has_gt, class_index)[0] for correct in corrects]
        return _summaries(nums, den, n_resamples, seed)

    results = per_scope(None)
    per_class = [per_scope(c) for c in range(len(class_names))]
    for k, result in enumerate(results):
        result["per_class"] = {name: per_class[c][k] for c, name in enumerate(class_names)}
    return results


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
    outcomes = [
        corloc_outcomes(gt, dets, num_images, len(class_names), definition, score_thresh, iou_thresh)
        for definition in DEFINITIONS
    ]
    has_gt = outcomes[0][1]
    summaries = summarize_corloc([correct for correct, _ in outcomes], has_gt, class_names, n_resamples, seed)
    report: Dict[str, object] = dict(zip(DEFINITIONS, summaries))
    report["fp_per_normal_image"] = false_positives_per_normal_image(dets, normal, score_thresh)
    report["num_normal_images"] = int(np.count_nonzero(normal))
    report["sweep"] = corloc_sweep(gt, dets, num_images, len(class_names), normal, iou_thresh=iou_thresh)
    return report
