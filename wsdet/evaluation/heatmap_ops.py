"""Heatmap helpers shared by the heatmap metrics: boxes and segmentations as masks.

Heatmap pixel (row r, column c) covers the continuous square [c, c+1) x [r, r+1); boxes given for a
heatmap are XYXY in those coordinates.
"""

from typing import Any, List, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from .tables import BoxTable


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


def masks_from_boxes(gt: BoxTable, shapes: Sequence[Tuple[int, int]]) -> List[np.ndarray]:
    """One mask per sample (``gt.image`` indexes ``shapes``): the union of the sample's boxes."""
    return [boxes_to_mask(boxes, shape) for boxes, shape in zip(gt.boxes_per_image(len(shapes)), shapes)]


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
