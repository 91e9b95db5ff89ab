"""Metrics of the heatmap peak (its maximum): the pointing game and STL's localization AP.

Peaks are (x, y) points in original image pixel coordinates, taken on the full-resolution map.

- Pointing game (Zhang et al. 2016): a sample (image, class with GT boxes) is a hit when the peak
  of the class map lies within ``tolerance`` (15 px) of one of its GT boxes.
- STL localization AP (Hwang & Kim 2016), per class: every image is ranked by the peak value of the
  class map; an image is a true positive when it has GT boxes of the class and the peak lies within
  ``tolerance`` (16 px, half the network stride) of one of them; AP is normalized by the number of
  images with GT boxes of the class, so missed lesions lower it and normal images only add false
  positives.
"""

import numpy as np

from .box_ops import points_in_boxes
from .curves import average_precision
from .tables import BoxTable

POINTING_TOLERANCE = 15.0
STL_TOLERANCE = 16.0


def pointing_hits(points: np.ndarray, gt: BoxTable, tolerance: float = POINTING_TOLERANCE) -> np.ndarray:
    """``(n,)`` whether peak ``i`` lies within ``tolerance`` px of a GT box of sample ``i`` (``gt.image``).

    The pointing-game accuracy is the mean of these hits over the samples.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    near = points_in_boxes(points[gt.image], gt.boxes, tolerance)
    return np.bincount(gt.image[near], minlength=len(points)) > 0


def stl_localization_ap(
    peak_values: np.ndarray, peak_points: np.ndarray, gt: BoxTable, tolerance: float = STL_TOLERANCE
) -> float:
    """STL localization AP of one class: ``peak_*`` of that class's map on every image, ``gt`` its boxes."""
    has_gt = np.bincount(gt.image, minlength=len(peak_values)) > 0
    return average_precision(peak_values, pointing_hits(peak_points, gt, tolerance), int(has_gt.sum()))
