"""Where a heatmap's peak lies relative to a finding's box: inside it, below or above it (within its
columns), or beside it. On ultrasound "below" is deeper than the mass, where its posterior acoustic
shadowing or enhancement lies: a map can classify from that and point there instead of at the mass."""
from typing import Dict, Iterable, Sequence

import numpy as np

__all__ = ["PEAK_POSITIONS", "peak_position", "peak_position_rates"]

PEAK_POSITIONS = ("inside", "below", "above", "beside")


def peak_position(heatmap: np.ndarray, box: Sequence[float]) -> str:
    """The position of ``heatmap``'s maximum (the first one in row-major order) relative to ``box``
    (x0, y0, x1, y1 in the heatmap's pixels; pixel (row r, column c) is at its centre (c + 0.5, r + 0.5)):
    one of :data:`PEAK_POSITIONS`."""
    row, col = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    x, y = col + 0.5, row + 0.5
    x0, y0, x1, y1 = box
    if not x0 <= x <= x1:
        return "beside"
    if y < y0:
        return "above"
    return "below" if y > y1 else "inside"


def peak_position_rates(positions: Iterable[str]) -> Dict[str, float]:
    """The share of each of :data:`PEAK_POSITIONS` among ``positions``, and their count as ``findings``."""
    positions = list(positions)
    unknown = set(positions) - set(PEAK_POSITIONS)
    if unknown:
        raise ValueError(f"unknown peak positions {sorted(unknown)}; expected some of {PEAK_POSITIONS}")
    total = len(positions)
    rates = {p: (positions.count(p) / total if total else float("nan")) for p in PEAK_POSITIONS}
    return {**rates, "findings": float(total)}
