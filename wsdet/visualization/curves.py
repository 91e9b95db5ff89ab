"""FROC and ROC curves as pictures (matplotlib, Agg canvas): several models or classes on one plot.

A FROC curve is a mapping with ``fp_per_image`` and ``sensitivity`` arrays of operating points ordered
by decreasing score threshold: the ``curve`` of :func:`wsdet.evaluation.froc`, or the
``froc_curve.npz`` that :class:`wsdet.evaluation.LocalizationEvaluator` writes. Between operating
points the curve is a step function: the sensitivity at ``f`` false positives per image is the best
one reached with at most ``f``. Figures are returned as RGB arrays (for PNG files and TensorBoard).
"""

from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..evaluation.curves import operating_points
from ..evaluation.froc import FROC_FP_RATES, froc, sensitivity_at
from ..evaluation.froc_bootstrap import resampled_sensitivities
from ..evaluation.tables import BoxTable
from .grids import write_png

__all__ = [
    "corloc_sweep_figure",
    "figure_to_rgb",
    "froc_band",
    "froc_curve_and_band",
    "froc_figure",
    "plot_corloc_sweep",
    "plot_froc",
    "roc_figure",
    "roc_points",
]

Curve = Dict[str, np.ndarray]


def figure_to_rgb(figure: Figure) -> np.ndarray:
    """The (H, W, 3) uint8 RGB pixels of a matplotlib figure (laid out tight)."""
    canvas = FigureCanvasAgg(figure)
    figure.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def froc_band(
    gt: BoxTable,
    dets: BoxTable,
    num_images: int,
    fp_rates: Optional[Sequence[float]] = None,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    iou_thresh: float = 0.5,
    criterion: str = "iou",
    class_aware: bool = True,
) -> Dict[str, np.ndarray]:
    """
    Percentile bootstrap band of the FROC sensitivity, resampling the ``num_images`` images with
    replacement (seeded; :func:`wsdet.evaluation.froc_bootstrap.resampled_sensitivities`, same hit
    options as :func:`wsdet.evaluation.froc`).

    Args:
        fp_rates: where the band is evaluated; default: 97 rates from 1/8 to 8, log-spaced.

    Returns:
        ``{"fp_per_image": fp_rates, "lower": ..., "upper": ...}``; NaN when no resample has a lesion.
    """
    fp_rates = np.geomspace(1 / 8, 8, 97) if fp_rates is None else np.asarray(fp_rates, dtype=np.float64)
    blocks = resampled_sensitivities(
        gt, dets, num_images, fp_rates, n_resamples=n_resamples, seed=seed, iou_thresh=iou_thresh,
        criterion=criterion, class_aware=class_aware,
    )
    sens = np.concatenate(list(blocks))
    tail = (1.0 - confidence) / 2.0
    if np.isnan(sens).all():
        lower = upper = np.full(len(fp_rates), np.nan)
    else:
        lower, upper = np.nanquantile(sens, [tail, 1.0 - tail], axis=0)
    return {"fp_per_image": fp_rates, "lower": lower, "upper": upper}


def froc_curve_and_band(
    gt: BoxTable,
    dets: BoxTable,
    num_images: int,
    *,
    iou_thresh: float = 0.5,
    criterion: str = "iou",
    n_resamples: int = 1000,
    seed: int = 0,
) -> Tuple[Curve, Curve]:
    """The FROC curve of ``dets`` on the ``num_images`` images of ``gt`` and its bootstrap band."""
    options = {"iou_thresh": iou_thresh, "criterion": criterion}
    curve = froc(gt, dets, num_images, **options)["curve"]
    return curve, froc_band(gt, dets, num_images, n_resamples=n_resamples, seed=seed, **options)


def froc_figure(
    curves: Mapping[str, Mapping[str, np.ndarray]],
    bands: Optional[Mapping[str, Mapping[str, np.ndarray]]] = None,
    *,
    title: str = "FROC",
    fp_range: Tuple[float, float] = (FROC_FP_RATES[0], FROC_FP_RATES[-1]),
    confidence: float = 0.95,
    figsize: Tuple[float, float] = (5.5, 4.0),
    dpi: int = 100,
) -> np.ndarray:
    """
    FROC curves on a log-2 false-positives-per-image axis over ``fp_range``, one per model (legend:
    name and mean sensitivity at the standard rates 1/8 ... 8, marked on the curves), as RGB pixels.

    Args:
        curves: model name -> FROC curve.
        bands: model name -> :func:`froc_band` result, drawn as a shaded band (optional per model).
        confidence: level of the bands, for the legend.
    """
    figure = Figure(figsize=figsize, dpi=dpi)
    ax = figure.add_subplot()
    grid = np.geomspace(fp_range[0], fp_range[1], 200)
    marks = np.array([f for f in FROC_FP_RATES if fp_range[0] <= f <= fp_range[1]])
    for i, (name, curve) in enumerate(curves.items()):
        color = f"C{i}"
        mean = float(np.mean(sensitivity_at(curve, FROC_FP_RATES)))
        ax.plot(
            grid,
            sensitivity_at(curve, grid),
            color=color,
            drawstyle="steps-post",
            label=f"{name} (mean {mean:.3f})",
        )
        ax.plot(marks, sensitivity_at(curve, marks), "o", color=color, markersize=4)
        band = (bands or {}).get(name)
        if band is not None:
            ax.fill_between(
                band["fp_per_image"],
                band["lower"],
                band["upper"],
                step="post",
                color=color,
                alpha=0.2,
                linewidth=0,
                label=f"{name} {confidence:.0%} bootstrap CI",
            )
    ax.set_xscale("log", base=2)
    ax.set_xlim(*fp_range)
    ax.set_xticks(marks, [_rate_label(f) for f in marks])
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("false positives per image")
    ax.set_ylabel("sensitivity")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return figure_to_rgb(figure)


def plot_froc(
    path: str,
    curves: Mapping[str, Mapping[str, np.ndarray]],
    bands: Optional[Mapping[str, Mapping[str, np.ndarray]]] = None,
    **options,
) -> None:
    """Write :func:`froc_figure` (``options``: its keyword arguments) as a PNG file."""
    write_png(path, froc_figure(curves, bands, **options))


def roc_points(scores: np.ndarray, labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates) of every score threshold, from (0, 0) to (1, 1)."""
    labels = np.asarray(labels, dtype=bool)
    _, n_true, n_selected = operating_points(scores, labels)
    n_pos, n_neg = max(int(labels.sum()), 1), max(int((~labels).sum()), 1)
    fpr = np.concatenate([[0.0], (n_selected - n_true) / n_neg])
    tpr = np.concatenate([[0.0], n_true / n_pos])
    return fpr, tpr


def roc_figure(
    curves: Mapping[str, Tuple[np.ndarray, np.ndarray]],
    *,
    title: str = "ROC",
    figsize: Tuple[float, float] = (4.6, 5.0),
    dpi: int = 100,
) -> np.ndarray:
    """ROC curves (name -> (false positive rates, true positive rates)) and the chance line, as RGB;
    the legend under the plot."""
    figure = Figure(figsize=figsize, dpi=dpi)
    ax = figure.add_subplot()
    for i, (name, (fpr, tpr)) in enumerate(curves.items()):
        ax.plot(fpr, tpr, color=f"C{i}", label=name)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize="small", frameon=False)
    return figure_to_rgb(figure)


def _rate_label(rate: float) -> str:
    return f"1/{round(1 / rate)}" if rate < 1 else f"{rate:g}"


def corloc_sweep_figure(
    sweeps: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    fp_key: str = "fp_per_normal_image",
    marked_threshold: float = 0.5,
    title: str = "Official CorLoc vs false positives",
    figsize: Tuple[float, float] = (5.5, 4.0),
    dpi: int = 100,
) -> np.ndarray:
    """
    The official CorLoc against the false positives (``fp_key`` of the sweep: "fp_per_normal_image"
    or "fp_per_image") as the score threshold goes from 1 down to 0, one curve per model
    (``corloc_sweep`` results), the point at ``marked_threshold`` marked and in the legend; as RGB.
    """
    figure = Figure(figsize=figsize, dpi=dpi)
    ax = figure.add_subplot()
    for i, (name, sweep) in enumerate(sweeps.items()):
        thresholds = np.asarray(sweep["score_thresholds"])
        fps, corloc = np.asarray(sweep[fp_key]), np.asarray(sweep["corloc_official"])
        at = int(np.argmin(np.abs(thresholds - marked_threshold)))
        label = f"{name} ({corloc[at]:.3f} at {fps[at]:.2f} FP, score >= {thresholds[at]:g})"
        ax.plot(fps, corloc, color=f"C{i}", drawstyle="steps-post", label=label)
        ax.plot([fps[at]], [corloc[at]], "o", color=f"C{i}", markersize=5)
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_ylim(0.0, 1.05)
    normal_only = fp_key == "fp_per_normal_image"
    ax.set_xlabel("false positives per normal image" if normal_only else "false positives per image")
    ax.set_ylabel("CorLoc (official)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return figure_to_rgb(figure)


def plot_corloc_sweep(path: str, sweeps: Mapping[str, Mapping[str, Sequence[float]]], **options) -> None:
    """Write :func:`corloc_sweep_figure` (``options``: its keyword arguments) as a PNG file."""
    write_png(path, corloc_sweep_figure(sweeps, **options))
