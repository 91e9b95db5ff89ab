"""Where a heatmap's peak lies relative to a finding's box, by hand."""
import math

import numpy as np
import pytest

from wsdet.evaluation.peak_location import peak_position, peak_position_rates


def _map_with_peak(row, col, shape=(10, 8)):
    heatmap = np.zeros(shape)
    heatmap[row, col] = 1.0
    return heatmap


@pytest.mark.parametrize("row, col, expected", [
    (3, 3, "inside"),   # centre (3.5, 3.5) in x 2..5, y 2..5
    (8, 3, "below"),    # (3.5, 8.5): deeper than the box, in its columns
    (0, 4, "above"),    # (4.5, 0.5)
    (3, 7, "beside"),   # (7.5, 3.5): right of the box
    (9, 0, "beside"),   # below-left: not in the box's columns
    (4, 4, "inside"),   # (4.5, 4.5), the last pixel centre inside
    (5, 2, "below"),    # (2.5, 5.5): just past the bottom edge
])
def test_peak_position_by_hand(row, col, expected):
    assert peak_position(_map_with_peak(row, col), (2, 2, 5, 5)) == expected


def test_first_maximum_and_rates():
    heatmap = np.ones((10, 8))  # a flat map: its first pixel (0.5, 0.5) is the peak
    assert peak_position(heatmap, (0, 0, 1, 1)) == "inside"
    rates = peak_position_rates(["inside", "below", "below", "beside"])
    assert rates == {"inside": 0.25, "below": 0.5, "above": 0.0, "beside": 0.25, "findings": 4.0}
    assert math.isnan(peak_position_rates([])["inside"])
    with pytest.raises(ValueError, match="unknown peak positions"):
        peak_position_rates(["left"])
