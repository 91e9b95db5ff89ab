"""The vectorized metrics against the implementations they replaced, on random inputs.

The previous implementations are copied below verbatim from commit a6f6c96 (one findContours call
per map, per-sample loops, a lexsort of all detections, one bootstrap per CorLoc definition, ...).
Every result must be identical; these tests go once the new code is pinned to reference values.
"""

import importlib
import math
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import pytest

from wsdet.evaluation import bootstrap as new_bootstrap
from wsdet.evaluation import contour_sweep as new_contour_sweep
from wsdet.evaluation import corloc as new_corloc
from wsdet.evaluation import curves as new_curves
from wsdet.evaluation import heatmap_ops as new_heatmap_ops
from wsdet.evaluation import matching as new_matching
from wsdet.evaluation import maxboxacc as new_maxboxacc
from wsdet.evaluation import pixel_metrics as new_pixel_metrics
from wsdet.evaluation import tables as new_tables
from wsdet.evaluation.bootstrap import _columns, _ratio, _resampled_sums
from wsdet.evaluation.box_ops import box_centers, box_iou, points_in_boxes
from wsdet.evaluation.corloc import DEFINITIONS, _per_image, false_positives_per_normal_image
from wsdet.evaluation.froc import FROC_FP_RATES, sensitivity_at
from wsdet.evaluation.maxboxacc import CAM_THRESHOLDS
from wsdet.evaluation.pixel_metrics import PixelCounts
from wsdet.evaluation.tables import BoxTable, pair_indices

new_froc = importlib.import_module("wsdet.evaluation.froc")  # the package exports a function of that name

# ---------------------------------------------------------------- the previous implementations


# wsdet/evaluation/heatmap_ops.py
def minmax_normalize(heatmap: np.ndarray) -> np.ndarray:
    """Rescale a map to [0, 1] (Choe et al. 2020); a constant map becomes all zeros."""
    heatmap = np.asarray(heatmap, dtype=np.float32)
    low, high = heatmap.min(), heatmap.max()
    return (heatmap - low) / (high - low) if high > low else np.zeros_like(heatmap)


# wsdet/evaluation/heatmap_ops.py
def boxes_to_mask(boxes: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Union of XYXY ``boxes`` as a boolean ``shape`` mask.

    A pixel is inside a box when its centre is (half-open: [x0, x1)); a box smaller than a pixel
    still covers the pixel holding its centre.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros(shape, dtype=bool)
    lo, hi = np.ceil(boxes[:, :2] - 0.5), np.ceil(boxes[:, 2:] - 0.5)
    centre = np.floor((boxes[:, :2] + boxes[:, 2:]) / 2)
    tiny = hi <= lo
    lo, hi = np.where(tiny, centre, lo), np.where(tiny, centre + 1, hi)
    rows, cols = np.arange(shape[0]), np.arange(shape[1])
    in_x = (cols >= lo[:, :1]) & (cols < hi[:, :1])
    in_y = (rows >= lo[:, 1:]) & (rows < hi[:, 1:])
    return np.any(in_y[:, :, None] & in_x[:, None, :], axis=0)


# wsdet/evaluation/heatmap_ops.py
def masks_from_boxes(gt: BoxTable, shapes: Sequence[Tuple[int, int]]) -> List[np.ndarray]:
    """One mask per sample (``gt.image`` indexes ``shapes``): the union of the sample's boxes."""
    return [boxes_to_mask(boxes, shape) for boxes, shape in zip(gt.boxes_per_image(len(shapes)), shapes)]


# wsdet/evaluation/maxboxacc.py
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


# wsdet/evaluation/maxboxacc.py
def best_box_iou(
    heatmaps: Sequence[np.ndarray], gt: BoxTable, thresholds: np.ndarray = CAM_THRESHOLDS
) -> np.ndarray:
    """``(n_samples, n_thresholds)`` best IoU between the contour boxes and the GT boxes of each sample.

    ``gt.image`` indexes ``heatmaps``; GT boxes are in heatmap pixel coordinates.
    """
    best = np.zeros((len(heatmaps), len(thresholds)))
    for i, (heatmap, gt_boxes) in enumerate(zip(heatmaps, gt.boxes_per_image(len(heatmaps)))):
        boxes, slot = contour_boxes(minmax_normalize(heatmap), thresholds)
        if len(boxes) and len(gt_boxes):
            np.maximum.at(best[i], slot, box_iou(boxes[:, None], gt_boxes[None]).max(axis=1))
    return best


# wsdet/evaluation/pixel_metrics.py
def pixel_counts(
    heatmaps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    thresholds: Sequence[float] = CAM_THRESHOLDS,
    normalize: bool = True,
) -> PixelCounts:
    """Count, for every sample and threshold, the predicted and the correctly predicted pixels."""
    thresholds = np.sort(np.asarray(thresholds, dtype=np.float64))
    n, n_thr = len(heatmaps), len(thresholds)
    overlap, predicted = np.zeros((n, n_thr), dtype=np.int64), np.zeros((n, n_thr), dtype=np.int64)
    positive, total = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for i, (heatmap, mask) in enumerate(zip(heatmaps, masks)):
        values = minmax_normalize(heatmap) if normalize else np.asarray(heatmap, dtype=np.float32)
        # level = number of thresholds <= value: the pixel is predicted at thresholds[:level]
        level = np.searchsorted(thresholds, values.ravel(), side="right")
        mask = np.asarray(mask, dtype=bool).ravel()
        for out, selected in ((predicted, level), (overlap, level[mask])):
            out[i] = np.cumsum(np.bincount(selected, minlength=n_thr + 1)[::-1])[::-1][1:]
        positive[i], total[i] = mask.sum(), mask.size
    return PixelCounts(thresholds, overlap, predicted, positive, total)


# wsdet/evaluation/bootstrap.py
def bootstrap_ci(
    numerator: np.ndarray,
    denominator: Optional[np.ndarray] = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Tuple[float, float]:
    """Percentile bootstrap CI of ``sum(numerator) / sum(denominator)`` over the given images.

    Pass only the images the statistic is about (e.g. images with a lesion for CorLoc). Returns
    ``(nan, nan)`` for no images.
    """
    if len(numerator) == 0:
        return float("nan"), float("nan")
    sums = _resampled_sums(_columns(numerator, denominator), n_resamples, seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(_ratio(sums[:, 0], sums[:, 1]), [tail, 1.0 - tail])
    return float(low), float(high)


# wsdet/evaluation/corloc.py
def _top_per_image_class(dets: BoxTable) -> np.ndarray:
    """Rows of the highest-scoring detection of each (image, class); ties: the first row."""
    order = np.lexsort((-dets.scores, dets.classes, dets.image))
    image, classes = dets.image[order], dets.classes[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (image[1:] != image[:-1]) | (classes[1:] != classes[:-1])
    return order[first]


# wsdet/evaluation/corloc.py
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


# wsdet/evaluation/corloc.py
def _summary(num: np.ndarray, den: np.ndarray, n_resamples: int, seed: int) -> Dict[str, object]:
    value = float(num.sum() / den.sum()) if den.sum() else float("nan")
    low, high = bootstrap_ci(num, den, n_resamples=n_resamples, seed=seed)
    return {"corloc": value, "ci95": [low, high], "num_images": int(len(den))}


# wsdet/evaluation/corloc.py
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


# wsdet/evaluation/corloc.py
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


# wsdet/evaluation/matching.py
def greedy_match(
    det_image: np.ndarray,
    det_scores: np.ndarray,
    pair_det: np.ndarray,
    pair_gt: np.ndarray,
    pair_quality: np.ndarray,
) -> np.ndarray:
    """Match detections to ground-truth boxes one-to-one, greedily by decreasing score.

    Args:
        det_image, det_scores: ``(D,)`` image index and score of every detection.
        pair_det, pair_gt, pair_quality: the candidate (detection, GT) pairs, i.e. only the pairs
            that satisfy the hit criterion, and a quality (e.g. IoU) to choose among them.

    Within each image, detections are visited by decreasing score (ties: input order); each takes
    the still unmatched candidate GT of highest quality (ties: lowest GT index). A detection hits at
    most one GT and a GT is hit at most once. Images are processed in parallel: the loop runs over
    the score rank within an image, so its length is the largest number of detections of an image.

    Returns:
        ``(D,)`` index of the GT matched to each detection, -1 when unmatched.
    """
    n = len(det_scores)
    matched = np.full(n, -1, dtype=np.int64)
    if len(pair_det) == 0:
        return matched
    order = np.lexsort((-np.asarray(det_scores, dtype=np.float64), det_image))
    sorted_image = np.asarray(det_image)[order]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.searchsorted(sorted_image, sorted_image, side="left")

    pair_rank = rank[pair_det]
    by_rank = np.lexsort((pair_gt, -pair_quality, pair_det, pair_rank))
    pair_det, pair_gt, pair_rank = pair_det[by_rank], pair_gt[by_rank], pair_rank[by_rank]
    gt_taken = np.zeros(int(pair_gt.max()) + 1, dtype=bool)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(pair_rank)) + 1, [len(pair_rank)]])
    for start, stop in zip(bounds[:-1], bounds[1:]):
        # one detection per image at this rank, so no two of them compete for the same GT
        dets, gts = pair_det[start:stop], pair_gt[start:stop]
        free = ~gt_taken[gts]
        dets, gts = dets[free], gts[free]
        _, best = np.unique(dets, return_index=True)
        matched[dets[best]] = gts[best]
        gt_taken[gts[best]] = True
    return matched


# wsdet/evaluation/curves.py
def operating_points(scores: np.ndarray, positives: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Operating points of a ranking: one per distinct score, from the highest score down.

    Returns ``(thresholds, n_positive, n_selected)``: for each distinct score ``s`` (descending), the
    number of positives and of items with score >= ``s``. Tied scores form a single point.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    cum_pos = np.cumsum(np.asarray(positives, dtype=np.int64)[order])
    last = np.append(np.flatnonzero(np.diff(sorted_scores)), len(scores) - 1)
    return sorted_scores[last], cum_pos[last], last + 1


# wsdet/evaluation/froc.py
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


# wsdet/evaluation/froc.py
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


# wsdet/evaluation/tables.py
def _concat(parts: Sequence[np.ndarray], row_shape: Tuple[int, ...]) -> np.ndarray:
    rows = [np.asarray(p, dtype=np.float64).reshape(-1, *row_shape) for p in parts]
    return np.concatenate(rows) if rows else np.zeros((0, *row_shape))


# ---------------------------------------------------------------- random inputs


def _random_map(rng: np.random.Generator, shape: Tuple[int, int], kind: int) -> np.ndarray:
    """Noise, smooth, few-level (ties), binary, constant, float16 or non-finite maps."""
    kind %= 8
    if kind == 0:
        return rng.random(shape)
    if kind == 1:
        return cv2.GaussianBlur(rng.random(shape).astype(np.float32), (3, 3), 1)
    if kind == 2:
        return rng.integers(0, 3, shape).astype(np.float32)
    if kind == 3:
        return (rng.random(shape) < 0.5).astype(np.float32)
    if kind == 4:
        return np.full(shape, 0.3)
    if kind == 5:
        return rng.random(shape).astype(np.float16)
    heatmap = rng.random(shape)
    heatmap.flat[rng.integers(heatmap.size)] = np.nan if kind == 6 else np.inf
    return heatmap


def _random_boxes(rng: np.random.Generator, n: int, size: float) -> np.ndarray:
    xy = rng.uniform(-2, size, (n, 2))
    wh = rng.uniform(0, size, (n, 2)) * (rng.random((n, 1)) > 0.1)  # some empty boxes
    return np.hstack([xy, xy + wh])


def _random_samples(rng: np.random.Generator, trial: int):
    """Maps of one or two shapes (or one pixel), and GT boxes: 0-3 per sample, rows shuffled."""
    n = int(rng.integers(1, 8))
    shapes = [tuple(int(s) for s in rng.integers(1, 18, 2)) for _ in range(2)]
    if trial % 10 == 0:
        shapes = [(1, 1), (1, 5)]
    maps = [_random_map(rng, shapes[i % 2], trial + i) for i in range(n)]
    image = np.repeat(np.arange(n), rng.integers(0, 4, n))
    image = image[rng.permutation(len(image))]
    gt = BoxTable(image, _random_boxes(rng, len(image), 18), np.zeros(len(image)), np.ones(len(image)))
    return maps, gt


def _random_detections(rng: np.random.Generator, n: int, num_images: int, ties: bool) -> BoxTable:
    if ties:
        scores = rng.choice([0.1, 0.5, 0.5, 0.9, 1.0], n)
    else:
        scores = rng.random(n)
    return BoxTable(rng.integers(0, num_images, n), _random_boxes(rng, n, 40), rng.integers(0, 2, n), scores)


def _same(a, b) -> bool:
    """Equal nested results, floats bit for bit (NaN equal to NaN)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b and type(a) is type(b)


# ---------------------------------------------------------------- the comparisons


@pytest.mark.parametrize("seed", range(4))
def test_best_box_iou_matches_previous(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    for trial in range(60):
        if trial == 30:  # several chunks of maps and of pixels
            monkeypatch.setattr(new_maxboxacc, "_CHUNK_PIXELS", 40)
            monkeypatch.setattr(new_contour_sweep, "_CHUNK_PIXELS", 100)
        maps, gt = _random_samples(rng, trial)
        thresholds = CAM_THRESHOLDS
        if trial % 4 == 3:  # unsorted, repeated, outside [0, 1]
            thresholds = rng.permutation(np.concatenate([CAM_THRESHOLDS[::7], [0.5, 0.5, -1.0, 2.0]]))
        np.testing.assert_array_equal(
            new_maxboxacc.best_box_iou(maps, gt, thresholds), best_box_iou(maps, gt, thresholds)
        )


@pytest.mark.parametrize("seed", range(3))
def test_sweep_contour_boxes_match_previous_contour_boxes(seed):
    rng = np.random.default_rng(seed)
    for trial in range(40):
        shape = tuple(int(s) for s in rng.integers(1, 20, 2))
        maps = [new_heatmap_ops.minmax_normalize(_random_map(rng, shape, trial + i)) for i in range(3)]
        levels = np.stack([np.searchsorted(CAM_THRESHOLDS.astype(np.float32), m, side="right") for m in maps])
        levels[np.isnan(np.stack(maps))] = 0
        boxes, index, slot = new_contour_sweep.sweep_contour_boxes(levels, len(CAM_THRESHOLDS))
        for i, heatmap in enumerate(maps):
            previous, previous_slot = contour_boxes(heatmap, CAM_THRESHOLDS)
            for k in range(len(CAM_THRESHOLDS)):
                expected = sorted(map(tuple, previous[previous_slot == k].astype(int).tolist()))
                found = sorted(map(tuple, boxes[(index == i) & (slot == k)].tolist()))
                assert found == expected


@pytest.mark.parametrize("seed", range(3))
def test_pixel_counts_match_previous(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    sweeps = [
        CAM_THRESHOLDS,
        [0.5],
        rng.random(7),
        [0.1, 0.1, 0.3, -1.0, 2.0, 1e-40, 0.07, 1 / 3],  # repeated, outside [0, 1], not float32
    ]
    for trial in range(60):
        if trial == 30:
            monkeypatch.setattr(new_pixel_metrics, "_CHUNK_PIXELS", 40)
        maps, _ = _random_samples(rng, trial)
        masks = [rng.random(np.shape(m)) < 0.4 for m in maps]
        for normalize in (True, False):
            new = new_pixel_metrics.pixel_counts(maps, masks, sweeps[trial % 4], normalize)
            old = pixel_counts(maps, masks, sweeps[trial % 4], normalize)
            for field in ("thresholds", "overlap", "predicted", "positive", "total"):
                np.testing.assert_array_equal(getattr(new, field), getattr(old, field))
    # values right at and next to float32 roundings of the thresholds, NaN
    edges = np.array(sweeps[3] + list(CAM_THRESHOLDS), dtype=np.float32)
    values = np.concatenate([edges, np.nextafter(edges, 2), np.nextafter(edges, -2), [np.nan, 0, 1]])
    values = [values.astype(np.float32)[None]]
    masks = [np.ones(values[0].shape, dtype=bool)]
    for thresholds in (sweeps[3], CAM_THRESHOLDS):
        new = new_pixel_metrics.pixel_counts(values, masks, thresholds, normalize=False)
        np.testing.assert_array_equal(new.predicted, pixel_counts(values, masks, thresholds, False).predicted)


@pytest.mark.parametrize("seed", range(3))
def test_minmax_normalize_and_masks_match_previous(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    for trial in range(80):
        if trial == 40:
            monkeypatch.setattr(new_heatmap_ops, "_CHUNK_PIXELS", 30)
        maps, gt = _random_samples(rng, trial)
        for heatmap in maps:
            np.testing.assert_array_equal(
                new_heatmap_ops.minmax_normalize(heatmap), minmax_normalize(heatmap)
            )
        shapes = [np.shape(m) for m in maps]
        for new, old in zip(new_heatmap_ops.masks_from_boxes(gt, shapes), masks_from_boxes(gt, shapes)):
            np.testing.assert_array_equal(new, old)
        boxes = _random_boxes(rng, int(rng.integers(0, 4)), 10)
        np.testing.assert_array_equal(
            new_heatmap_ops.boxes_to_mask(boxes, (7, 9)), boxes_to_mask(boxes, (7, 9))
        )


@pytest.mark.parametrize("seed", range(4))
def test_corloc_report_matches_previous(seed):
    rng = np.random.default_rng(seed)
    for trial in range(25):
        num_images = int(rng.integers(1, 30))
        n_gt = int(rng.integers(0, 2 * num_images))
        gt = BoxTable(
            rng.integers(0, num_images, n_gt),
            _random_boxes(rng, n_gt, 40),
            rng.integers(0, 2, n_gt),
            np.ones(n_gt),
        )
        dets = _random_detections(rng, int(rng.integers(0, 8 * num_images)), num_images, ties=trial % 2 == 0)
        if trial % 5 == 0:  # detections copied from the GT: hits
            dets = BoxTable(gt.image, gt.boxes, gt.classes, rng.random(n_gt))
        new = new_corloc.corloc_report(gt, dets, num_images, ["a", "b"], n_resamples=200, seed=trial)
        old = corloc_report(gt, dets, num_images, ["a", "b"], n_resamples=200, seed=trial)
        assert _same(new, old)


@pytest.mark.parametrize("seed", range(3))
def test_top_detection_per_image_and_class_matches_previous(seed):
    rng = np.random.default_rng(seed)
    for trial in range(200):
        n = int(rng.integers(0, 60))
        scores = (
            rng.choice([0.1, 0.5, 0.9, np.nan, -np.inf, np.inf, 0.0, -0.0], n) if trial % 2 else rng.random(n)
        )
        dets = BoxTable(rng.integers(0, 6, n), np.zeros((n, 4)), rng.integers(0, 3, n), scores)
        np.testing.assert_array_equal(new_corloc._top_per_image_class(dets), _top_per_image_class(dets))


@pytest.mark.parametrize("seed", range(4))
def test_froc_matches_previous(seed):
    rng = np.random.default_rng(seed)
    for trial in range(40):
        num_images = int(rng.integers(1, 8))
        n_gt = int(rng.integers(0, 20))
        gt = BoxTable(
            rng.integers(0, num_images, n_gt),
            _random_boxes(rng, n_gt, 30),
            rng.integers(0, 2, n_gt),
            np.ones(n_gt),
        )
        dets = _random_detections(rng, int(rng.integers(0, 80)), num_images, ties=trial % 2 == 0)
        if trial % 3 == 0:  # non-finite scores
            scores = dets.scores.copy()
            scores[rng.random(len(scores)) < 0.2] = rng.choice([np.inf, -np.inf, np.nan])
            dets = BoxTable(dets.image, dets.boxes, dets.classes, scores)
        for criterion in ("iou", "center"):
            for class_aware in (True, False):
                options = dict(iou_thresh=0.3, criterion=criterion, class_aware=class_aware)
                assert _same(
                    new_froc.froc(gt, dets, num_images, **options), froc(gt, dets, num_images, **options)
                )


@pytest.mark.parametrize("seed", range(3))
def test_greedy_match_and_operating_points_match_previous(seed):
    rng = np.random.default_rng(seed)
    for trial in range(200):
        n, n_gt = int(rng.integers(1, 40)), int(rng.integers(1, 15))
        image, scores = rng.integers(0, 4, n), rng.choice([0.2, 0.5, 0.7], n)
        gt_image = rng.integers(0, 4, n_gt)
        pair_det, pair_gt = np.nonzero((image[:, None] == gt_image) & (rng.random((n, n_gt)) < 0.5))
        quality = rng.choice([0.3, 0.6, 0.9], len(pair_det))  # ties
        np.testing.assert_array_equal(
            new_matching.greedy_match(image, scores, pair_det, pair_gt, quality),
            greedy_match(image, scores, pair_det, pair_gt, quality),
        )
        positives = rng.random(n) < 0.5
        if trial % 3 == 0:
            scores = rng.choice([0.2, np.inf, -np.inf, np.nan], n)
        for new, old in zip(
            new_curves.operating_points(scores, positives), operating_points(scores, positives)
        ):
            np.testing.assert_array_equal(new, old)


def test_box_table_concatenation_matches_previous():
    rng = np.random.default_rng(0)
    for trial in range(100):
        parts = []
        for i in range(int(rng.integers(0, 5))):
            boxes = rng.random((int(rng.integers(0, 4)), 4)) * 100
            parts.append(
                [boxes, boxes.astype(np.float32), boxes.tolist(), boxes.astype(np.int64), boxes.ravel()][
                    i % 5
                ]
            )
        for row_shape in ((4,), ()):
            flat = [np.ravel(p) for p in parts] if row_shape == () else parts
            new, old = new_tables._concat(flat, row_shape), _concat(flat, row_shape)
            assert new.dtype == old.dtype
            np.testing.assert_array_equal(new, old)


def test_bootstrap_cis_share_the_resamples_of_bootstrap_ci():
    rng = np.random.default_rng(0)
    for n in (1, 2, 37, 500):
        den = rng.integers(1, 3, n).astype(float)
        nums = [rng.binomial(den.astype(int), 0.6).astype(float) for _ in range(3)]
        assert new_bootstrap.bootstrap_ci(nums[0], den, 300, seed=n) == bootstrap_ci(
            nums[0], den, 300, seed=n
        )
        assert new_bootstrap.bootstrap_cis(nums, den, 300, seed=n) == [
            bootstrap_ci(num, den, 300, seed=n) for num in nums
        ]
    assert all(math.isnan(v) for ci in new_bootstrap.bootstrap_cis([np.zeros(0)] * 2) for v in ci)
