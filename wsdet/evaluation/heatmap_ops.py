"""Heatmap helpers shared by the heatmap metrics: threshold levels, boxes and segmentations as masks.

Heatmap pixel (row r, column c) covers the continuous square [c, c+1) x [r, r+1); boxes given for a
heatmap are XYXY in those coordinates.
"""

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ..modeling.cam.postprocessing import normalize_heatmaps
from .tables import BoxTable

_CHUNK_PIXELS = 1 << 22  # mask pixels drawn at once


def threshold_levels(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many of the ascending float32 ``thresholds`` each float32 value reaches (``value >= t``).

    Equals ``np.searchsorted(thresholds, values, side="right")`` except that NaN reaches none. Values
    are binned by a monotone float32 formula applied to the thresholds too, so only thresholds in a
    value's own bin need a comparison.
    """
    values = np.asarray(values, dtype=np.float32)
    thresholds = np.asarray(thresholds, dtype=np.float32)
    dtype = np.int16 if len(thresholds) < np.iinfo(np.int16).max else np.int32
    if len(thresholds) == 0:
        return np.zeros(values.shape, dtype=dtype)
    low = thresholds[0]
    if thresholds[-1] == low:  # one threshold (repeated)
        return (values >= low).astype(dtype) * dtype(len(thresholds))
    num_bins = 4 * len(thresholds)
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.float32(num_bins) / (thresholds[-1] - low)
    threshold_bins = _bins(thresholds, low, scale, num_bins) if 0 < scale < np.inf else None
    first = None if threshold_bins is None else np.searchsorted(threshold_bins, np.arange(num_bins + 3))
    if first is None or np.diff(first).max() > 2:  # unbounded span or clustered thresholds
        levels = np.searchsorted(thresholds, values, side="right").astype(dtype)
        levels[np.isnan(values)] = 0
        return levels
    per_bin = int(np.diff(first).max())
    candidates = np.full((num_bins + 2, per_bin), np.nan, dtype=np.float32)  # NaN: never reached
    for j in range(per_bin):
        has = first[:-1] + j < first[1:]
        candidates[has, j] = thresholds[first[:-1][has] + j]
    bins = _bins(values, low, scale, num_bins)
    levels = first.astype(dtype)[bins]
    for j in range(per_bin):
        levels += values >= candidates[bins, j]
    return levels


def _bins(x: np.ndarray, low: np.float32, scale: np.float32, num_bins: int) -> np.ndarray:
    """Bin 0..num_bins+1 of float32 values: monotone in the value (NaN: bin 0)."""
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.multiply(np.subtract(x, low, dtype=np.float32), scale, dtype=np.float32)
    np.fmax(scaled, -1, out=scaled)
    np.fmin(scaled, num_bins, out=scaled)
    return scaled.astype(np.int32) + 1  # truncation toward zero is monotone too


def reachable_thresholds(thresholds: np.ndarray) -> np.ndarray:
    """The smallest float32 at or above each float64 threshold: a float32 value is ``>= t`` exactly
    when it reaches that float32, so maps are compared with their thresholds in float32."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    reachable = thresholds.astype(np.float32)
    below = reachable.astype(np.float64) < thresholds
    reachable[below] = np.nextafter(reachable[below], np.float32(np.inf))
    return reachable


def level_chunks(
    heatmaps: Sequence[np.ndarray],
    thresholds: np.ndarray,
    normalize: bool = True,
    samples: Optional[Sequence[int]] = None,
) -> Iterator[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The maps in chunks of one shape, with how many of the ascending float64 ``thresholds`` each
    pixel reaches (``value >= t``; NaN: none).

    Yields ``(sample indices, float32 values (k, h, w), levels (k, h, w))``: the maps of ``samples``
    (default: all), min-max normalized unless ``normalize`` is False, about ``_CHUNK_PIXELS`` pixels
    at a time, so that every metric of a threshold sweep shares one pass over the maps.
    """
    reachable = reachable_thresholds(thresholds)
    by_shape: Dict[Tuple[int, ...], List[int]] = {}
    for i in range(len(heatmaps)) if samples is None else samples:
        by_shape.setdefault(np.shape(heatmaps[i]), []).append(int(i))
    for shape, members in by_shape.items():
        step = max(1, _CHUNK_PIXELS // max(1, int(np.prod(shape))))
        for start in range(0, len(members), step):
            chunk = np.array(members[start : start + step])
            values = np.stack([np.asarray(heatmaps[i], dtype=np.float32) for i in chunk])
            values = normalize_heatmaps(values, "minmax") if normalize else values
            yield chunk, values, threshold_levels(values, reachable)


def boxes_to_mask(boxes: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Union of XYXY ``boxes`` as a boolean ``shape`` mask.

    A pixel is inside a box when its centre is (half-open: [x0, x1)); a box smaller than a pixel
    still covers the pixel holding its centre.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    one_sample = BoxTable(np.zeros(len(boxes)), boxes, np.zeros(len(boxes)), np.ones(len(boxes)))
    return masks_from_boxes(one_sample, [shape])[0]


def masks_from_boxes(gt: BoxTable, shapes: Sequence[Tuple[int, int]]) -> List[np.ndarray]:
    """One mask per sample (``gt.image`` indexes ``shapes``): the union of the sample's boxes.

    Samples of one shape are drawn together, as views of one ``(n, h, w)`` array: the first box of
    every sample at once, then the second ones, and so on.
    """
    lo, hi = np.ceil(gt.boxes[:, :2] - 0.5), np.ceil(gt.boxes[:, 2:] - 0.5)
    centre = np.floor((gt.boxes[:, :2] + gt.boxes[:, 2:]) / 2)
    tiny = hi <= lo
    lo, hi = np.where(tiny, centre, lo), np.where(tiny, centre + 1, hi)
    order = np.argsort(gt.image, kind="stable")
    image = gt.image[order]
    rank = np.arange(len(order)) - np.searchsorted(image, image)  # k-th box of its sample
    by_shape: Dict[Tuple[int, ...], List[int]] = {}
    for i, shape in enumerate(shapes):
        by_shape.setdefault(tuple(shape), []).append(i)
    masks: List[np.ndarray] = [np.zeros(0)] * len(shapes)
    for shape, samples in by_shape.items():
        stack = np.zeros((len(samples),) + shape, dtype=bool)
        slot = np.full(len(shapes) + 1, -1)
        slot[samples] = np.arange(len(samples))
        box_slot = slot[np.minimum(image, len(shapes))]
        rows, cols = np.arange(shape[0]), np.arange(shape[1])
        step = max(1, _CHUNK_PIXELS // max(1, stack[0].size))
        for k in range(int(rank.max()) + 1 if len(rank) else 0):
            box = order[(rank == k) & (box_slot >= 0)]  # at most one per sample
            for part in np.split(box, np.arange(step, len(box), step)):
                in_x = (cols >= lo[part, :1]) & (cols < hi[part, :1])
                in_y = (rows >= lo[part, 1:]) & (rows < hi[part, 1:])
                stack[slot[gt.image[part]]] |= in_y[:, :, None] & in_x[:, None, :]
        for i, mask in zip(samples, stack):
            masks[i] = mask
    return masks


def segmentation_to_mask(
    segmentation: Any, image_size: Tuple[int, int], shape: Tuple[int, int]
) -> np.ndarray:
    """A COCO segmentation (polygons or RLE) of an ``image_size`` (h, w) image, as a ``shape`` mask."""
    (height, width), (out_h, out_w) = image_size, shape
    if isinstance(segmentation, list):  # polygons: scaled to the grid, rasterized there
        scale = np.array([out_w / width, out_h / height])
        polygons = [(np.reshape(p, (-1, 2)) * scale).ravel().tolist() for p in segmentation]
        rle = mask_utils.merge(mask_utils.frPyObjects(polygons, out_h, out_w))
        return mask_utils.decode(rle).astype(bool)
    if isinstance(segmentation["counts"], list):  # uncompressed RLE
        segmentation = mask_utils.frPyObjects(segmentation, height, width)
    full = mask_utils.decode(segmentation).astype(np.float32)
    return cv2.resize(full, (out_w, out_h), interpolation=cv2.INTER_AREA) >= 0.5
