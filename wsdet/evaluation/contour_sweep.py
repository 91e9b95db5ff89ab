"""Boxes around all contours of heatmaps thresholded at every threshold of a sweep, for many maps at once.

At sweep threshold ``k`` a map is the binary image ``level > k``, a pixel's level being the number of
sweep thresholds it reaches. Its contours, as ``cv2.findContours(RETR_LIST)`` finds them, are the
outer borders of its 8-connected components and the borders of its holes (4-connected components of
zeros that do not touch the map edge). The box around an outer border is the box of its component;
the box around a hole border is the box of the hole grown by one pixel on every side.

As the threshold falls, components only grow and merge; as it rises, holes do. Both families are
built for all thresholds at once (component trees), as a sweep of steps through the thresholds in
that order, in two stages:

- pixels: every pixel hangs from one earlier neighbour (there at an earlier step, or at the same step
  and before it in raster order). This splits each map into basins whose pixels there at any step
  are connected; a pixel with several runs of earlier neighbours joins their basins from its step on.
  One pass over the pixels gives each basin's box of the pixels of each step.
- groups: a loop over the steps merges the basins of each join into groups (the components or the
  holes) and grows each group's box by its basins' pixels of that step.
"""

from typing import List, NamedTuple, Sequence, Tuple

import numpy as np

# the 8-neighbourhood in cyclic order; odd positions are the 4-neighbours
_RING = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
_BEFORE = 0b10000111  # ring positions before the pixel in raster order
_MAX_JOINS = 3  # runs of a ring but the first
_EMPTY = np.iinfo(np.int32).max
_CHUNK_PIXELS = 1 << 19  # padded pixels split into basins at once


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


def _hanging_table(four_connected: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Per 8-bit mask of earlier neighbours: the ring position a pixel hangs from and those it joins.

    Consecutive ring neighbours touch, so the earlier neighbours of one run are already connected: the
    pixel hangs from one neighbour of its first run and joins one of each other run (-1: none). With
    ``four_connected`` only 4-neighbours connect to the pixel, and runs without one are left out.
    """
    hang = np.full(256, -1, dtype=np.int64)
    joins = np.full((256, _MAX_JOINS), -1, dtype=np.int64)
    for mask in range(1, 256):
        picks = []
        for run in _runs(mask):
            usable = [i for i in run if i % 2] if four_connected else run
            if usable:
                picks.append(usable[0])
        if picks:
            hang[mask] = picks[0]
            joins[mask, : len(picks) - 1] = picks[1:]
    return hang, joins


_TABLES = {four: _hanging_table(four) for four in (False, True)}  # holes are 4-connected


class _Grid:
    """``n`` maps of ``height x width`` pixels, each padded by one pixel, flattened one after another."""

    def __init__(self, n: int, height: int, width: int):
        self.n, self.height, self.width = n, height, width
        self.size = (height + 2) * (width + 2)
        self.offsets = np.array([dr * (width + 2) + dc for dr, dc in _RING] + [0], dtype=np.int64)
        # the pixels whose 8 neighbours are all in the array (every inner pixel)
        self.inside = slice(width + 3, n * self.size - width - 3)

    def inner(self, flat: np.ndarray) -> np.ndarray:
        """The ``(n, height, width)`` inner pixels of a flat padded array (a view)."""
        return flat.reshape(self.n, self.height + 2, self.width + 2)[:, 1:-1, 1:-1]

    def frame(self, flat: np.ndarray) -> Sequence[np.ndarray]:
        """Views of the padding rows and columns of a flat padded array."""
        grid = flat.reshape(self.n, self.height + 2, self.width + 2)
        return grid[:, 0, :], grid[:, -1, :], grid[:, :, 0], grid[:, :, -1]


def _neighbour_masks(levels: np.ndarray, grid: _Grid) -> Tuple[np.ndarray, np.ndarray]:
    """8-bit masks (ring order) of the neighbours with a higher and with the same level, per pixel."""
    higher = np.zeros(len(levels), dtype=np.uint8)
    equal = np.zeros(len(levels), dtype=np.uint8)
    centre = levels[grid.inside]
    flag = np.empty(len(centre), dtype=bool)
    bits = np.empty(len(centre), dtype=np.uint8)
    for i, offset in enumerate(grid.offsets[:8]):
        neighbour = levels[grid.inside.start + offset : grid.inside.stop + offset]
        for compare, mask in ((np.greater, higher), (np.equal, equal)):
            compare(neighbour, centre, out=flag)
            np.left_shift(flag.view(np.uint8), i, out=bits)
            np.bitwise_or(mask[grid.inside], bits, out=mask[grid.inside])
    return higher, equal


def _roots(parent: np.ndarray) -> np.ndarray:
    """Follow ``parent`` pointers to their roots (pointer jumping over the whole array; paths are short)."""
    for _ in range(3):
        parent = parent[parent]
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand


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
    levels = np.asarray(levels)
    n, height, width = levels.shape
    if n == 0 or num_thresholds == 0:
        return np.zeros((0, 4), dtype=np.int32), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    dtype = np.int16 if num_thresholds < np.iinfo(np.int16).max else np.int32
    maps_per_chunk = max(1, _CHUNK_PIXELS // ((height + 2) * (width + 2)))
    index = np.arange(min(n, maps_per_chunk) * (height + 2) * (width + 2), dtype=np.int32)
    cols, rows = index % (width + 2) - 1, index // (width + 2) % (height + 2) - 1
    outer: List[_Basins] = []
    holes: List[_Basins] = []
    for first in range(0, n, maps_per_chunk):
        chunk = levels[first : first + maps_per_chunk]
        grid = _Grid(len(chunk), height, width)
        padded = np.full(grid.n * grid.size, -1, dtype=dtype)  # the padding comes before every level
        grid.inner(padded)[...] = chunk
        higher, equal = _neighbour_masks(padded, grid)
        earlier_equal = equal & _BEFORE
        coordinates = [c[: len(padded)] for c in (cols, rows, -cols, -rows)]
        # components: the steps go down the thresholds; a pixel is there from step T - level on
        steps = num_thresholds - padded
        outer.append(_basins(higher | earlier_equal, steps, grid, num_thresholds, coordinates, first, False))
        # holes: up the thresholds, 4-connected, the padding being the maps' surroundings
        steps = np.where(padded < 0, num_thresholds, padded)
        earlier = ~(higher | equal) | earlier_equal
        holes.append(_basins(earlier, steps, grid, num_thresholds, coordinates, first, True))
    parts = [_sweep_groups(outer, num_thresholds, False), _sweep_groups(holes, num_thresholds, True)]
    return tuple(np.concatenate(part) for part in zip(*parts))


class _Basins(NamedTuple):
    """The basins of a chunk of maps: where they start, their pixels' boxes per step, their joins."""

    map: np.ndarray  # (b,) map of each basin
    step: np.ndarray  # (b,) step the basin starts at
    outside: int  # the first ``outside`` basins are the maps' surroundings (holes)
    cell_basin: np.ndarray  # (c,) a basin with pixels at ...
    cell_step: np.ndarray  # (c,) ... this step, ...
    cell_bounds: np.ndarray  # (c, 4) ... bounded by x0, y0, -x1, -y1 (inclusive)
    join_a: np.ndarray  # (j,) basins joined ...
    join_b: np.ndarray
    join_step: np.ndarray  # (j,) ... from this step on


def _basins(
    earlier: np.ndarray,
    steps: np.ndarray,
    grid: _Grid,
    num_steps: int,
    coordinates: Sequence[np.ndarray],
    first_map: int,
    holes: bool,
) -> _Basins:
    """Split the pixels into basins, given the 8-bit masks of their earlier neighbours.

    Flat padded arrays: ``steps`` is the step a pixel is there from (``num_steps`` or more: never, as
    for the padding); ``coordinates`` are x, y, -x, -y of the pixels.
    """
    hang, joins = _TABLES[holes]
    index = np.arange(len(steps), dtype=np.int64)
    parent = index + grid.offsets[hang][earlier]
    corners = np.arange(grid.n, dtype=np.int64) * grid.size
    for side, own in zip(grid.frame(parent), grid.frame(index)):
        # the padding: for holes the map's surroundings, one basin per map; for components nothing
        side[...] = corners[:, None] if holes else own
    root = _roots(parent)
    present = steps < num_steps
    starts = np.flatnonzero((root == index) & present)
    outside = grid.n if holes else 0
    if holes:
        starts = np.concatenate([corners, starts])
    start_step = steps[starts].astype(np.int64)
    start_step[:outside] = 0
    num_basins = len(starts)
    basin_id = np.full(len(index), num_basins, dtype=np.int64)  # absent pixels: a spare basin
    basin_id[starts] = np.arange(num_basins)
    basin = basin_id[root]

    # the box of each basin's pixels of each step (the step past the sweep and the spare basin unused)
    stride = num_basins + 1
    cell = np.minimum(steps, num_steps).astype(np.int64)
    cell *= stride
    cell += basin
    tables = []
    for values in coordinates:
        table = np.full((num_steps + 1) * stride, _EMPTY, dtype=np.int32)
        np.minimum.at(table, cell, values)
        tables.append(table)
    cells = np.flatnonzero(tables[0][: num_steps * stride] != _EMPTY)
    cell_step, cell_basin = np.divmod(cells, stride)
    used = cell_basin < num_basins
    cells, cell_step, cell_basin = cells[used], cell_step[used].astype(np.int16), cell_basin[used]

    # joins: a pixel joins the basins of its other runs of earlier neighbours, from its step on
    pixel = np.flatnonzero((joins[:, 0] >= 0)[earlier])
    pixel = pixel[present[pixel]]
    directions = joins[earlier[pixel]]
    valid = directions >= 0
    join_a = np.repeat(basin[pixel], _MAX_JOINS)[valid.ravel()]
    join_b = basin[(pixel[:, None] + grid.offsets[directions])[valid]]
    join_step = np.repeat(steps[pixel], _MAX_JOINS)[valid.ravel()].astype(np.int64)
    differ = join_a != join_b
    return _Basins(
        map=starts // grid.size + first_map,
        step=start_step,
        outside=outside,
        cell_basin=cell_basin,
        cell_step=cell_step,
        cell_bounds=np.stack([table[cells] for table in tables], axis=1),
        join_a=join_a[differ],
        join_b=join_b[differ],
        join_step=join_step[differ],
    )


def _sweep_groups(chunks: Sequence[_Basins], num_steps: int, holes: bool):
    """Merge the basins into groups step by step; the box of every group at every step it is there.

    A group is labelled by its smallest basin. The maps' surroundings are numbered first, so the
    groups holding one (not holes) have labels below their count. Returns ``(boxes, map, threshold)``.
    """
    outside = sum(c.outside for c in chunks)
    outside_first = np.cumsum([0] + [c.outside for c in chunks])
    inside_first = outside + np.cumsum([0] + [len(c.map) - c.outside for c in chunks])

    def number(basin: np.ndarray, i: int) -> np.ndarray:
        shift = np.where(basin < chunks[i].outside, outside_first[i], inside_first[i] - chunks[i].outside)
        return basin + shift

    def gather(field: str, renumber: bool = False) -> np.ndarray:
        parts = [
            number(getattr(c, field), i) if renumber else getattr(c, field) for i, c in enumerate(chunks)
        ]
        return np.concatenate(parts)

    basin_map = np.concatenate([c.map[: c.outside] for c in chunks] + [c.map[c.outside :] for c in chunks])
    basin_step = np.concatenate([c.step[: c.outside] for c in chunks] + [c.step[c.outside :] for c in chunks])
    basin_order = np.argsort(basin_step, kind="stable")
    basin_bounds = np.searchsorted(basin_step[basin_order], np.arange(num_steps + 1))
    order = np.argsort(gather("cell_step"), kind="stable")
    cell_basin, cell_bounds = gather("cell_basin", True)[order], gather("cell_bounds")[order]
    cell_bounds_at = np.searchsorted(gather("cell_step")[order], np.arange(num_steps + 1))
    join_step = gather("join_step")
    order = np.argsort(join_step, kind="stable")
    join_a, join_b = gather("join_a", True)[order], gather("join_b", True)[order]
    join_bounds = np.searchsorted(join_step[order], np.arange(num_steps + 1))

    label = np.arange(len(basin_map))
    box = np.full((len(basin_map), 4), _EMPTY, dtype=np.int32)  # per group label
    flat_box, corner = box.reshape(-1), np.arange(4)
    alive = np.zeros(0, dtype=np.int64)  # group labels
    boxes, groups, thresholds = [], [], []
    for s in range(num_steps):
        alive = np.concatenate([alive, basin_order[basin_bounds[s] : basin_bounds[s + 1]]])
        if join_bounds[s + 1] > join_bounds[s]:
            span = slice(join_bounds[s], join_bounds[s + 1])
            label, merged = _join(label, join_a[span], join_b[span])
            if len(merged):
                into = (label[merged] * 4)[:, None] + corner
                np.minimum.at(flat_box, into.ravel(), box[merged].ravel())
                alive = alive[label[alive] == alive]
        span = slice(cell_bounds_at[s], cell_bounds_at[s + 1])
        into = (label[cell_basin[span]] * 4)[:, None] + corner
        np.minimum.at(flat_box, into.ravel(), cell_bounds[span].ravel())
        shown = alive[alive >= outside] if outside else alive
        boxes.append(box[shown])
        groups.append(shown)
        thresholds.append(np.full(len(shown), s if holes else num_steps - 1 - s, dtype=np.int64))
    boxes = np.concatenate(boxes)
    boxes[:, 2:] = 1 - boxes[:, 2:]  # exclusive x1, y1
    if holes:
        boxes += np.array([-1, -1, 1, 1], dtype=np.int32)
    return boxes, basin_map[np.concatenate(groups)], np.concatenate(thresholds)


def _join(label: np.ndarray, a: np.ndarray, b: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Union of the groups of basins ``a[i]`` and ``b[i]``, each group labelled by its smallest basin.

    ``label`` maps every basin to its group's label. Returns the new labels and the former labels
    merged into another group (possibly repeated).
    """
    a, b = label[a], label[b]
    merged = []
    while True:
        differ = a != b
        if not differ.any():
            break
        a, b = a[differ], b[differ]
        high = np.maximum(a, b)
        np.minimum.at(label, high, np.minimum(a, b))
        merged.append(high)
        while True:  # point every basin at its label's label until all point at group labels
            up = label[label]
            if np.array_equal(up, label):
                break
            label = up
        a, b = label[a], label[b]
    return label, np.concatenate(merged) if merged else np.zeros(0, dtype=np.int64)
