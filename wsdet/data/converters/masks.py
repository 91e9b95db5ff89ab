"""Binary lesion masks -> COCO boxes, areas and polygons (one region per mask file or per component)."""
from dataclasses import dataclass
from typing import List, Tuple

import cv2
import numpy as np

from ..image_io import load_pil

BOX_PER = ("mask", "component")


@dataclass(frozen=True)
class MaskRegion:
    """One annotation: the box covers every pixel of the region (XYWH, pixel-edge coordinates)."""

    bbox: List[float]
    area: int
    segmentation: List[List[float]]


def read_mask(path: str) -> np.ndarray:
    """Read a mask image as a boolean array; lesion = pixels above half the mask's maximum value.

    Works for 0/1 and 0/255 masks, grey, RGB(A), palette and 16-bit PNGs (alpha is ignored). Raises
    :class:`ImageReadError` as the image reader does.
    """
    img = load_pil(path)
    if img.mode == "P":
        img = img.convert("RGB")
    arr = np.asarray(img)
    if arr.ndim == 3:
        arr = arr[..., :3].max(axis=-1) if arr.shape[-1] >= 3 else arr[..., 0]
    peak = arr.max()
    return arr > peak / 2 if peak > 0 else np.zeros(arr.shape, dtype=bool)


def _polygons(component: np.ndarray, x: int, y: int, w: int, h: int) -> List[List[float]]:
    """Outer contours (through pixel centres) of one component; COCO polygons cannot hold holes."""
    contours, _ = cv2.findContours(
        component.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE, offset=(x, y)
    )
    polygons = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
    if not polygons:  # a line or a dot: its pixel rectangle is the only valid polygon
        polygons = [[float(v) for v in (x, y, x + w, y, x + w, y + h, x, y + h)]]
    return polygons


def _region(boxes: np.ndarray, areas: List[int], polygons: List[List[float]]) -> MaskRegion:
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 3]).max()
    bbox = [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
    return MaskRegion(bbox=bbox, area=int(sum(areas)), segmentation=polygons)


def mask_regions(
    mask: np.ndarray, box_per: str = "mask", min_area: int = 0
) -> Tuple[List[MaskRegion], List[int]]:
    """Turn a boolean mask into annotation regions.

    Args:
        mask: boolean H x W array.
        box_per: "mask" = one region spanning all kept components (one lesion per mask file, as in
            BUSI and UDIAT); "component" = one region per 8-connected component.
        min_area: components with fewer pixels are ignored (specks).

    Returns:
        (regions, areas of the ignored components). An empty list of regions = nothing to annotate.
    """
    if box_per not in BOX_PER:
        raise ValueError(f"box_per must be one of {BOX_PER}, got {box_per!r}")
    num, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    kept, ignored = [], []
    for k in range(1, num):
        x, y, w, h, area = (int(v) for v in stats[k])
        if area < min_area:
            ignored.append(area)
            continue
        component = labels[y : y + h, x : x + w] == k
        kept.append((stats[k, :4], area, _polygons(component, x, y, w, h)))
    if not kept:
        return [], ignored
    if box_per == "component":
        regions = [_region(box[None], [area], polys) for box, area, polys in kept]
    else:
        boxes = np.stack([box for box, _, _ in kept])
        regions = [_region(boxes, [a for _, a, _ in kept], [p for _, _, ps in kept for p in ps])]
    return regions, ignored
