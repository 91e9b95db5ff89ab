"""Box geometry on numpy arrays (XYXY, continuous pixel coordinates, area = width * height).

Every function broadcasts over leading dimensions: pass ``a[:, None]`` and ``b[None]`` for all pairs,
or two aligned ``(n, 4)`` arrays for element-wise values. Every metric's IoU / IoBB comes from here,
except inside the compiled contour sweep of MaxBoxAccV2, which cannot call numpy: it repeats
:func:`box_iou`'s arithmetic and a test pins the two equal, bit for bit.
"""

import numpy as np


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Convert ``(..., 4)`` XYWH boxes (COCO / ``BoxMode.XYWH_ABS``) to XYXY."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([boxes[..., :2], boxes[..., :2] + boxes[..., 2:]], axis=-1)


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Area of ``(..., 4)`` XYXY boxes (0 for degenerate boxes)."""
    wh = np.clip(boxes[..., 2:] - boxes[..., :2], 0, None)
    return wh[..., 0] * wh[..., 1]


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[..., :2], b[..., :2])
    rb = np.minimum(a[..., 2:], b[..., 2:])
    wh = np.clip(rb - lt, 0, None)
    return wh[..., 0] * wh[..., 1]


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den`` is 0 (degenerate boxes never overlap anything)."""
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of XYXY boxes ``a`` and ``b`` (broadcast)."""
    inter = _intersection(a, b)
    return _safe_ratio(inter, box_area(a) + box_area(b) - inter)


def box_iobb(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """ChestX-ray14 IoBB: ``|gt ∩ pred| / |pred|`` (broadcast)."""
    return _safe_ratio(_intersection(gt, pred), box_area(pred))


def box_centers(boxes: np.ndarray) -> np.ndarray:
    """``(..., 2)`` (x, y) centres of XYXY boxes."""
    return (boxes[..., :2] + boxes[..., 2:]) / 2


def point_box_distance(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Euclidean distance from (x, y) ``points`` to XYXY ``boxes`` (0 inside or on the border; broadcast)."""
    dx = np.maximum(np.maximum(boxes[..., 0] - points[..., 0], points[..., 0] - boxes[..., 2]), 0)
    dy = np.maximum(np.maximum(boxes[..., 1] - points[..., 1], points[..., 1] - boxes[..., 3]), 0)
    return np.hypot(dx, dy)


def points_in_boxes(points: np.ndarray, boxes: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
    """Whether (x, y) ``points`` lie within ``tolerance`` pixels (Euclidean) of ``boxes`` (broadcast).

    ``tolerance=0`` is "inside or on the border" (FROC centre criterion); the pointing game uses 15 px,
    STL's localization AP 16 px.
    """
    return point_box_distance(points, boxes) <= tolerance
