"""Boxes around all contours of heatmaps thresholded at every threshold of a sweep, for many maps at once.

At sweep threshold ``k`` a map is the binary image ``level > k``, a pixel's level being the number of
sweep thresholds it reaches. Its contours, as ``cv2.findContours(RETR_LIST)`` finds them, are the
outer borders of its 8-connected components and the borders of its holes (4-connected components of
zeros that do not touch the map edge). The box around an outer border is the box of its component;
the box around a hole border is the box of the hole grown by one pixel on every side.

As the threshold falls, components only grow and merge; as it rises, holes do. So each family comes
from one union-find sweep per map: the pixels are added in the order in which they appear
(components: falling thresholds, holes: rising ones; raster order within a threshold), each joins
one neighbour of every run of ring neighbours already there, and after each threshold every group
gives one box. The sweep is compiled by numba (cached on disk; this module imports numba, about
0.4 s, so the metrics import it on first use): one pass over the pixels per family and map, where
``cv2.findContours`` would run once per map and threshold. MaxBoxAccV2 takes the best IoU of the
boxes with the GT boxes of their map in the same compiled pass (:func:`best_contour_iou`).
"""

from typing import List, Tuple

import numba
import numpy as np

# the 8-neighbourhood in cyclic order; odd positions are the 4-neighbours
_RING = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
_MAX_JOINS = 3  # runs of a ring but the first
_jit = numba.njit(cache=True, nogil=True)


def _runs(mask: int) -> List[List[int]]:
    """Maximal cyclic runs of the set bits of an 8-bit ring mask, as lists of ring positions."""
    if mask == 0xFF:
        return [list(range(8))]
    runs: List[List[int]] = []
    start = next(i for i in range(8) if not (mask >> i) & 1)
    run: List[int] = []
    for step in range(1, 9):
        i = (start + step) % 8
        if (mask >> i) & 1:
            run.append(i)
        elif run:
            runs.append(run)
            run = []
    return runs + ([run] if run else [])


def _link_table(four_connected: bool) -> np.ndarray:
    """Per 8-bit mask of the neighbours already there: the ring positions a new pixel must join.

    Consecutive ring neighbours touch, so those of one run are already connected: joining one
    neighbour of each run is enough (-1: none). With ``four_connected`` only 4-neighbours connect to
    the pixel, and runs without one are left out.
    """
    table = np.full((256, 1 + _MAX_JOINS), -1, dtype=np.int64)
    for mask in range(1, 256):
        picks = []
        for run in _runs(mask):
            usable = [i for i in run if i % 2] if four_connected else run
            if usable:
                picks.append(usable[0])
        table[mask, : len(picks)] = picks
    return table


_LINKS = np.stack([_link_table(False), _link_table(True)])  # components, holes (4-connected)


@_jit
def _find(parent, g):
    """The root of group ``g``, halving the path on the way."""
    while parent[g] != g:
        parent[g] = parent[parent[g]]
        g = parent[g]
    return g


@_jit
def _extend(box, g, x0, y0, x1, y1):
    """Grow the box of group ``g`` (x0, y0, x1, y1 inclusive) to hold the given one."""
    box[g, 0] = min(box[g, 0], x0)
    box[g, 1] = min(box[g, 1], y0)
    box[g, 2] = max(box[g, 2], x1)
    box[g, 3] = max(box[g, 3], y1)


@_jit
def _union(parent, rank, box, a, b):
    """Merge the groups of roots ``a`` and ``b`` (union by rank); returns the root of the merged group."""
    if a == b:
        return a
    if rank[a] < rank[b]:
        a, b = b, a
    parent[b] = a
    rank[a] += rank[a] == rank[b]
    _extend(box, a, box[b, 0], box[b, 1], box[b, 2], box[b, 3])
    return a


@_jit
def _map_contours(level, num_thresholds, links, ring, boxes, thresholds, count):
    """Append the contour boxes of one ``(h, w)`` map at every threshold and of both families to
    ``boxes`` (x0, y0, x1, y1, half-open) and ``thresholds`` from position ``count``.

    Returns ``(count, boxes, thresholds)``, the arrays grown when they were full. ``ring``: the offsets
    of ``_RING`` in the map padded by one pixel. Pixels carry the group they joined; the union-find runs
    on the groups, whose tables stay small.
    """
    height, width = level.shape
    stride = width + 2  # the map is padded by one pixel: no bounds checks
    size = (height + 2) * stride
    pixels = height * width
    padded = np.full(size, -1, np.int32)
    group = np.empty(size, np.int32)  # of each pixel there: a group it joined (-1: not there yet)
    parent = np.empty(pixels + 1, np.int32)  # of each group; union by rank
    rank = np.empty(pixels + 1, np.int32)
    box = np.empty((pixels + 1, 4), np.int32)  # x0, y0, x1, y1 inclusive, of each root group
    alive = np.empty(pixels, np.int32)  # groups that may still be roots
    histogram = np.zeros(num_thresholds + 1, np.int64)
    first = np.empty(num_thresholds + 2, np.int64)
    fill = np.empty(num_thresholds + 1, np.int64)
    order = np.empty(pixels, np.int32)  # the pixels (padded index) in the order they appear ...
    order_xy = np.empty(pixels, np.int32)  # ... and their x | y << 16
    outside = 0  # holes: the group of the padding, the map's surroundings
    for r in range(height):
        for c in range(width):
            padded[(r + 1) * stride + c + 1] = level[r, c]
            histogram[level[r, c]] += 1
    for holes in range(2):
        # components: pixels appear as the threshold falls (step s: threshold T - 1 - s, level
        # T - s); holes: as it rises (step s: threshold s, level s); raster order breaks ties
        first[0] = 0
        for s in range(num_thresholds + 1):
            first[s + 1] = first[s] + histogram[s if holes else num_thresholds - s]
        fill[:] = first[:-1]
        for r in range(1, height + 1):
            for p in range(r * stride + 1, r * stride + width + 1):
                step = padded[p] if holes else num_thresholds - padded[p]
                at = fill[step]
                fill[step] = at + 1
                order[at] = p
                order_xy[at] = (p - r * stride - 1) | (r - 1) << 16
        group[:] = outside if holes else -1
        for r in range(1, height + 1):
            group[r * stride + 1 : r * stride + width + 1] = -1
        parent[outside] = outside
        rank[outside] = pixels + 1  # the surroundings stay root
        groups = 1
        num_alive = 0
        for s in range(num_thresholds):
            for i in range(first[s], first[s + 1]):
                p = order[i]
                x, y = order_xy[i] & 0xFFFF, order_xy[i] >> 16
                mask = 0  # the ring neighbours there before the pixel
                for j in range(8):
                    mask |= (group[p + ring[j]] >= 0) << j
                j = links[holes, mask, 0]
                if j < 0:  # a new group
                    g = groups
                    groups += 1
                    parent[g] = g
                    rank[g] = 0
                    box[g, 0] = box[g, 2] = x
                    box[g, 1] = box[g, 3] = y
                    group[p] = g
                    alive[num_alive] = g
                    num_alive += 1
                    continue
                root = _find(parent, group[p + ring[j]])
                group[p] = root
                _extend(box, root, x, y, x, y)
                for k in range(1, links.shape[2]):  # other groups it joins
                    j = links[holes, mask, k]
                    if j < 0:
                        break
                    root = _union(parent, rank, box, _find(parent, group[p + ring[j]]), root)
            kept = 0
            for i in range(num_alive):  # a box around every group there (holes: grown by one)
                a = alive[i]
                if parent[a] != a:
                    continue
                alive[kept] = a
                kept += 1
                if count == len(thresholds):
                    boxes = np.concatenate((boxes, np.empty_like(boxes)))
                    thresholds = np.concatenate((thresholds, np.empty_like(thresholds)))
                boxes[count, 0] = box[a, 0] - holes
                boxes[count, 1] = box[a, 1] - holes
                boxes[count, 2] = box[a, 2] + 1 + holes
                boxes[count, 3] = box[a, 3] + 1 + holes
                thresholds[count] = s if holes else num_thresholds - 1 - s
                count += 1
            num_alive = kept
    return count, boxes, thresholds


def _ring_offsets(width: int) -> np.ndarray:
    """The offsets of ``_RING`` in a map of ``width`` columns padded by one pixel, flattened."""
    return np.array([dr * (width + 2) + dc for dr, dc in _RING], np.int32)


@_jit
def _all_contour_boxes(levels, num_thresholds, links, ring):
    """Every map's contour boxes, map after map: ``(boxes, threshold index, boxes per map)``."""
    boxes = np.empty((4 * num_thresholds * len(levels), 4), np.int32)
    thresholds = np.empty(len(boxes), np.int64)
    per_map = np.empty(len(levels), np.int64)
    count = 0
    for m in range(len(levels)):
        start = count
        count, boxes, thresholds = _map_contours(levels[m], num_thresholds, links, ring, boxes, thresholds, count)
        per_map[m] = count - start
    return boxes[:count], thresholds[:count], per_map


@_jit
def _box_iou(ax0, ay0, ax1, ay1, bx0, by0, bx1, by1):
    """IoU of two float XYXY boxes with :func:`.box_ops.box_iou`'s arithmetic, operation for operation,
    so both give the same float64 (``test_compiled_iou_equals_box_iou``)."""
    inter = max(min(ax1, bx1) - max(ax0, bx0), 0.0) * max(min(ay1, by1) - max(ay0, by0), 0.0)
    union = max(ax1 - ax0, 0.0) * max(ay1 - ay0, 0.0) + max(bx1 - bx0, 0.0) * max(by1 - by0, 0.0) - inter
    return inter / union if union > 0 else 0.0


@_jit
def _best_iou(levels, num_thresholds, links, ring, gt_boxes, gt_first, gt_count):
    """``(n, T)`` best IoU of each map's contour boxes with its GT boxes; maps without any are skipped."""
    best = np.zeros((len(levels), num_thresholds))
    boxes = np.empty((4 * num_thresholds, 4), np.int32)
    thresholds = np.empty(len(boxes), np.int64)
    for m in range(len(levels)):
        if gt_count[m] == 0:
            continue
        count, boxes, thresholds = _map_contours(levels[m], num_thresholds, links, ring, boxes, thresholds, 0)
        for i in range(count):
            for g in range(gt_first[m], gt_first[m] + gt_count[m]):
                iou = _box_iou(float(boxes[i, 0]), float(boxes[i, 1]), float(boxes[i, 2]), float(boxes[i, 3]),
                               gt_boxes[g, 0], gt_boxes[g, 1], gt_boxes[g, 2], gt_boxes[g, 3])
                if iou > best[m, thresholds[i]]:
                    best[m, thresholds[i]] = iou
    return best


def _checked_levels(levels: np.ndarray, num_thresholds: int) -> np.ndarray:
    levels = np.ascontiguousarray(levels, dtype=np.int32)
    if levels.ndim != 3 or max(levels.shape[1:], default=0) >= 1 << 15:
        raise ValueError(f"levels must be (n, h, w) maps with sides below 32768 pixels, got {levels.shape}")
    if levels.size and (levels.min() < 0 or levels.max() > num_thresholds):
        raise ValueError(f"levels must lie in 0..{num_thresholds}, got {levels.min()}..{levels.max()}")
    return levels


def sweep_contour_boxes(levels: np.ndarray, num_thresholds: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes around all contours of ``levels[i] > k`` for every map ``i`` and threshold ``k``.

    Args:
        levels: ``(n, h, w)`` integer levels in 0..``num_thresholds`` (how many thresholds a pixel
            reaches).
        num_thresholds: the sweep length T; thresholds ``k`` are 0..T-1.

    Returns:
        ``(boxes, map index, threshold index)``: ``(m, 4)`` int XYXY boxes in map pixels (pixel
        ``(r, c)`` covers ``[c, c+1) x [r, r+1)``), one per contour: the ``cv2.boundingRect`` of every
        ``cv2.findContours(RETR_LIST)`` contour of every thresholded map, in no particular order.
    """
    levels = _checked_levels(levels, num_thresholds)
    if levels.size == 0 or num_thresholds == 0:
        return np.zeros((0, 4), np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    boxes, thresholds, per_map = _all_contour_boxes(levels, num_thresholds, _LINKS, _ring_offsets(levels.shape[2]))
    return boxes, np.repeat(np.arange(len(levels)), per_map), thresholds


def best_contour_iou(
    levels: np.ndarray, num_thresholds: int, gt_boxes: np.ndarray, gt_first: np.ndarray, gt_count: np.ndarray
) -> np.ndarray:
    """``(n, T)``: for every map ``i`` and threshold ``k``, the best IoU between the contour boxes of
    ``levels[i] > k`` (as :func:`sweep_contour_boxes` gives them) and the map's GT boxes, the rows
    ``gt_first[i] : gt_first[i] + gt_count[i]`` of the float XYXY ``gt_boxes`` (map pixels); 0 without any."""
    levels = _checked_levels(levels, num_thresholds)
    gt_first, gt_count = (np.asarray(x, dtype=np.int64).reshape(-1) for x in (gt_first, gt_count))
    if not len(gt_first) == len(gt_count) == len(levels):
        raise ValueError(f"need gt_first and gt_count for each of the {len(levels)} maps")
    if levels.size == 0 or num_thresholds == 0:
        return np.zeros((len(levels), num_thresholds))
    gt_boxes = np.ascontiguousarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    ring = _ring_offsets(levels.shape[2])
    return _best_iou(levels, num_thresholds, _LINKS, ring, gt_boxes, gt_first, gt_count)
