"""FROC curves as PNG (matplotlib, Agg canvas): several models on one plot, with bootstrap bands.

A curve is a mapping with ``fp_per_image`` and ``sensitivity`` arrays of operating points ordered by
decreasing score threshold: the ``curve`` of :func:`wsdet.evaluation.froc`, or the
``froc_curve.npz`` that :class:`wsdet.evaluation.LocalizationEvaluator` writes. Between operating
points the curve is a step function: the sensitivity at ``f`` false positives per image is the best
one reached with at most ``f``.
"""

from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..evaluation.bootstrap import resample_weights
from ..evaluation.froc import FROC_FP_RATES, match_detections, sensitivity_at
from ..evaluation.tables import BoxTable

__all__ = ["froc_band", "plot_froc"]

_CHUNK_ELEMENTS = 1 << 22  # resamples x detections held in memory at once


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
    replacement (seeded; the resamples of :func:`wsdet.evaluation.bootstrap_ci`).

    Detections are matched once (:func:`wsdet.evaluation.match_detections`, same options as
    :func:`wsdet.evaluation.froc`); a resample repeats whole images, so it keeps their matching and
    only reweights hits, false positives and lesions.

    Args:
        fp_rates: where the band is evaluated; default: 97 rates from 1/8 to 8, log-spaced.

    Returns:
        ``{"fp_per_image": fp_rates, "lower": ..., "upper": ...}``; NaN when no resample has a lesion.
    """
    fp_rates = np.geomspace(1 / 8, 8, 97) if fp_rates is None else np.asarray(fp_rates, dtype=np.float64)
    hits = match_detections(gt, dets, iou_thresh, criterion, class_aware) >= 0
    order = np.argsort(-dets.scores, kind="stable")
    det_image, det_hit = dets.image[order], hits[order]
    # the last detection of each group of tied scores: the operating points
    points = np.flatnonzero(np.diff(dets.scores[order], append=np.nan) != 0)
    lesions_per_image = np.bincount(gt.image, minlength=num_images).astype(np.float64)
    rows = max(1, _CHUNK_ELEMENTS // max(len(order), 1))
    sens = []
    for weights in resample_weights(num_images, n_resamples, seed):
        for w in np.split(weights, np.arange(rows, len(weights), rows)):
            det_weight = w[:, det_image]
            n_hits = np.cumsum(det_weight * det_hit, axis=1)[:, points]
            n_fps = np.cumsum(det_weight * ~det_hit, axis=1)[:, points]
            for hit_row, fp_row, lesions in zip(n_hits, n_fps, w @ lesions_per_image):
                if lesions == 0:
                    sens.append(np.full(len(fp_rates), np.nan))
                    continue
                curve = {
                    "fp_per_image": np.concatenate([[0.0], fp_row / num_images]),
                    "sensitivity": np.concatenate([[0.0], hit_row / lesions]),
                }
                sens.append(sensitivity_at(curve, fp_rates))
    tail = (1.0 - confidence) / 2.0
    sens = np.array(sens).reshape(-1, len(fp_rates))
    if np.isnan(sens).all():
        lower = upper = np.full(len(fp_rates), np.nan)
    else:
        lower, upper = np.nanquantile(sens, [tail, 1.0 - tail], axis=0)
    return {"fp_per_image": fp_rates, "lower": lower, "upper": upper}


def plot_froc(
    path: str,
    curves: Mapping[str, Mapping[str, np.ndarray]],
    bands: Optional[Mapping[str, Mapping[str, np.ndarray]]] = None,
    *,
    title: str = "FROC",
    fp_range: Tuple[float, float] = (FROC_FP_RATES[0], FROC_FP_RATES[-1]),
    confidence: float = 0.95,
    figsize: Tuple[float, float] = (5.5, 4.0),
    dpi: int = 100,
) -> None:
    """
    Write a PNG of FROC curves on a log-2 false-positives-per-image axis over ``fp_range``, one per
    model (legend: name and mean sensitivity at the standard rates 1/8 ... 8, marked on the curves).

    Args:
        path: the PNG file.
        curves: model name -> FROC curve.
        bands: model name -> :func:`froc_band` result, drawn as a shaded band (optional per model).
        confidence: level of the bands, for the legend.
    """
    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
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
    figure.tight_layout()
    figure.savefig(path)


def _rate_label(rate: float) -> str:
    return f"1/{round(1 / rate)}" if rate < 1 else f"{rate:g}"


def plot_corloc_sweep(
    path: str,
    sweeps: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    fp_key: str = "fp_per_normal_image",
    marked_threshold: float = 0.5,
    title: str = "Official CorLoc vs false positives",
    figsize: Tuple[float, float] = (5.5, 4.0),
    dpi: int = 100,
) -> None:
    """
    Write a PNG of the official CorLoc against the false positives (``fp_key`` of the sweep:
    "fp_per_normal_image" or "fp_per_image") as the score threshold goes from 1 down to 0, one curve
    per model (``corloc_sweep`` results), the point at ``marked_threshold`` marked and in the legend.
    """
    figure = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(figure)
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
    figure.tight_layout()
    figure.savefig(path)
