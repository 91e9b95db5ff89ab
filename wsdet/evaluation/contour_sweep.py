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
gives one box. The sweep is compiled by numba on first use (cached on disk): one pass over the pixels
per family and map, where ``cv2.findContours`` would run once per map and threshold.
"""

import functools
from typing import List, Tuple

import numpy as np

# the 8-neighbourhood in cyclic order; odd positions are the 4-neighbours
_RING = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
_MAX_JOINS = 3  # runs of a ring but the first


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


def _sweep(levels, num_thresholds, links, ring, out_boxes, out_map, out_threshold):
    """The contour boxes of every map, threshold and family, written to the outputs.

    ``levels``: ``(n, h, w)`` int; ``links``: ``_LINKS`` of the components and of the holes; ``ring``:
    the offsets of ``_RING`` in a padded map. Returns
    the number of boxes, or -1 when the outputs are full (the caller grows them and starts again).
    Pixels carry the group they joined; the union-find runs on the groups, whose tables stay small.
    """
    n, height, width = levels.shape
    stride = width + 2  # each map is padded by one pixel: no bounds checks
    size = (height + 2) * stride
    pixels = height * width
    padded = np.full(size, -1, np.int32)
    group = np.empty(size, np.int32)  # of each pixel there: a group it joined (-1: not there yet)
    parent = np.empty(pixels + 1, np.int32)  # of each group; union by rank
    rank = np.empty(pixels + 1, np.int32)
    box = np.empty((pixels + 1, 4), np.int32)  # x0, y0, x1, y1 inclusive, of each root group
    alive = np.empty(pixels, np.int32)  # groups that may still be roots
    histogram = np.empty(num_thresholds + 1, np.int64)
    first = np.empty(num_thresholds + 2, np.int64)
    fill = np.empty(num_thresholds + 1, np.int64)
    order = np.empty(pixels, np.int32)  # the pixels (padded index) in the order they appear ...
    order_xy = np.empty(pixels, np.int32)  # ... and their x | y << 16
    outside = 0  # holes: the group of the padding, the map's surroundings
    count = 0
    for m in range(n):
        histogram[:] = 0
        for r in range(height):
            for c in range(width):
                level = levels[m, r, c]
                padded[(r + 1) * stride + c + 1] = level
                histogram[level] += 1
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
                        box[g, 0] = x
                        box[g, 1] = y
                        box[g, 2] = x
                        box[g, 3] = y
                        group[p] = g
                        alive[num_alive] = g
                        num_alive += 1
                        continue
                    root = group[p + ring[j]]
                    while parent[root] != root:  # find, halving the path
                        parent[root] = parent[parent[root]]
                        root = parent[root]
                    group[p] = root
                    box[root, 0] = min(box[root, 0], x)
                    box[root, 1] = min(box[root, 1], y)
                    box[root, 2] = max(box[root, 2], x)
                    box[root, 3] = max(box[root, 3], y)
                    for k in range(1, links.shape[2]):  # other groups it joins
                        j = links[holes, mask, k]
                        if j < 0:
                            break
                        q = group[p + ring[j]]
                        while parent[q] != q:
                            parent[q] = parent[parent[q]]
                            q = parent[q]
                        if q == root:
                            continue
                        if rank[q] < rank[root]:
                            q, root = root, q
                        parent[root] = q
                        rank[q] += rank[q] == rank[root]
                        box[q, 0] = min(box[q, 0], box[root, 0])
                        box[q, 1] = min(box[q, 1], box[root, 1])
                        box[q, 2] = max(box[q, 2], box[root, 2])
                        box[q, 3] = max(box[q, 3], box[root, 3])
                        root = q
                kept = 0
                for i in range(num_alive):  # a box around every group there (holes: grown by one)
                    a = alive[i]
                    if parent[a] != a:
                        continue
                    alive[kept] = a
                    kept += 1
                    if count >= len(out_map):
                        return -1
                    out_boxes[count, 0] = box[a, 0] - holes
                    out_boxes[count, 1] = box[a, 1] - holes
                    out_boxes[count, 2] = box[a, 2] + 1 + holes
                    out_boxes[count, 3] = box[a, 3] + 1 + holes
                    out_map[count] = m
                    out_threshold[count] = s if holes else num_thresholds - 1 - s
                    count += 1
                num_alive = kept
    return count


@functools.lru_cache(maxsize=None)
def _compiled():
    import numba  # imported on first use, not with wsdet: it takes about 0.4 s

    return numba.njit(cache=True, nogil=True)(_sweep)


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
    levels = np.ascontiguousarray(levels, dtype=np.int32)
    if levels.ndim != 3 or max(levels.shape[1:], default=0) >= 1 << 15:
        raise ValueError(f"levels must be (n, h, w) maps with sides below 32768 pixels, got {levels.shape}")
    if levels.size == 0 or num_thresholds == 0:
        return np.zeros((0, 4), np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    if levels.min() < 0 or levels.max() > num_thresholds:
        raise ValueError(f"levels must lie in 0..{num_thresholds}, got {levels.min()}..{levels.max()}")
    capacity = 4 * len(levels) * num_thresholds  # grown when the maps have more contours
    while True:
        boxes = np.empty((capacity, 4), np.int32)
        index = np.empty(capacity, np.int64)
        threshold = np.empty(capacity, np.int64)
        ring = np.array([dr * (levels.shape[2] + 2) + dc for dr, dc in _RING], np.int32)
        count = _compiled()(levels, num_thresholds, _LINKS, ring, boxes, index, threshold)
        if count >= 0:
            return boxes[:count], index[:count], threshold[:count]
        capacity *= 2
