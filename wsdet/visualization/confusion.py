"""A confusion matrix as a picture: counts and row percentages, true classes down, decisions across."""
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from .curves import figure_to_rgb

__all__ = ["confusion_figure"]


def confusion_figure(
    matrix: np.ndarray,
    names: Sequence[str],
    *,
    title: str = "image-level decision",
    dpi: int = 100,
) -> np.ndarray:
    """``matrix[i, j]``: images of true class ``names[i]`` decided as ``names[j]``; as RGB pixels."""
    matrix = np.asarray(matrix, dtype=np.int64)
    size = max(3.2, 1.0 + 0.9 * len(names))
    figure = Figure(figsize=(size + 0.8, size), dpi=dpi)
    ax = figure.add_subplot()
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, f"{count}\n{share[i, j]:.0%}", ha="center", va="center", fontsize="small",
                color="white" if share[i, j] > 0.6 else "black")
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=30, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("decision")
    ax.set_ylabel("truth")
    ax.set_title(title)
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the row")
    return figure_to_rgb(figure)
