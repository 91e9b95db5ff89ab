"""Which test images to show, and their overlays (ground truth, detections, heatmaps)."""

import itertools
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..evaluation.box_ops import box_iou
from ..evaluation.gt_io import GroundTruth
from ..evaluation.tables import BoxTable, pair_indices
from .overlays import render_overlay

__all__ = ["draw_overlays", "pick_images", "rank_examples"]


def pick_images(gt: GroundTruth, count: int) -> List[int]:
    """``count`` box-annotated images, taken in turn from each group of images with the same labels."""
    groups: Dict[tuple, List[int]] = {}
    for row in np.flatnonzero(gt.box_evaluable()):
        groups.setdefault(tuple(np.flatnonzero(gt.labels[row])), []).append(int(row))
    interleaved = itertools.chain.from_iterable(itertools.zip_longest(*[groups[k] for k in sorted(groups)]))
    return [row for row in interleaved if row is not None][:count]


def _top_detections(dets: BoxTable, num_images: int) -> np.ndarray:
    """Row of each image's highest-scoring detection (ties: the first), -1 for images without any."""
    top = np.full(num_images, -1, dtype=np.int64)
    order = np.lexsort((-dets.scores, dets.image))
    first = np.ones(len(order), dtype=bool)
    first[1:] = dets.image[order][1:] != dets.image[order][:-1]
    top[dets.image[order][first]] = order[first]
    return top


def rank_examples(gt: GroundTruth, dets: BoxTable, count: int) -> Dict[str, List[int]]:
    """
    Rows of ``gt`` to show, ``count`` of each kind, among the box-annotated images:

    - ``best``: lesion images whose top detection (highest score, any class) overlaps a lesion of its
      class best (IoU), then the more confident;
    - ``worst``: the other lesion images whose top detection overlaps least (a miss, a wrong class, or
      nothing detected), the most confident misses first;
    - ``normal``: normal images with the most confident detections (their worst false positives).
    """
    rows = np.flatnonzero(gt.box_evaluable())
    top = _top_detections(dets, len(gt.image_ids))
    score = np.zeros(len(top))  # images without detections: 0
    score[top >= 0] = dets.scores[top[top >= 0]]
    found = top[top >= 0]
    tops = dets.select(found)
    rows_top, rows_gt = pair_indices(tops, gt.boxes)  # same image and class
    overlap = np.zeros(len(gt.image_ids))
    np.maximum.at(overlap, tops.image[rows_top], box_iou(tops.boxes[rows_top], gt.boxes.boxes[rows_gt]))
    lesion = rows[np.bincount(gt.boxes.image, minlength=len(gt.image_ids))[rows] > 0]
    normal = rows[gt.normal[rows]]
    # with fewer than 2 x count lesion images, half of them are best and the others worst
    best = lesion[np.lexsort((-score[lesion], -overlap[lesion]))][: min(count, (len(lesion) + 1) // 2)]
    worst = lesion[np.lexsort((-score[lesion], overlap[lesion]))]
    worst = worst[~np.isin(worst, best)][:count]
    confident = normal[np.argsort(-score[normal], kind="stable")]
    return {"best": best.tolist(), "worst": worst.tolist(), "normal": confident[:count].tolist()}


def draw_overlays(
    gt: GroundTruth,
    dets: BoxTable,
    rows: Sequence[int],
    images: Sequence[np.ndarray],
    class_names: Sequence[str],
    score_thresh: float,
    heatmaps: Optional[Sequence[Optional[np.ndarray]]] = None,
    display_size: Optional[int] = None,
) -> List[np.ndarray]:
    """The ground truth, detections scoring >= ``score_thresh`` and heatmap (if given) of the images
    ``rows`` (indices of ``gt``) drawn on them (:func:`render_overlay`)."""
    overlays = []
    for i, (row, image) in enumerate(zip(rows, images)):
        mine, truth = dets.select(dets.image == row), gt.boxes.select(gt.boxes.image == row)
        overlays.append(
            render_overlay(
                image,
                class_names,
                heatmap=None if heatmaps is None else heatmaps[i],
                gt_boxes=truth.boxes,
                gt_classes=truth.classes,
                pred_boxes=mine.boxes,
                pred_scores=mine.scores,
                pred_classes=mine.classes,
                score_thresh=score_thresh,
                display_size=display_size,
            )
        )
    return overlays
