"""Pixel-level localization metrics of heatmaps against GT masks (or boxes drawn as masks).

- PxAP (Choe et al. 2020): area under the pixel precision-recall curve of the threshold sweep,
  pixels pooled over all samples.
- InfoMask (Taghanaki et al. 2019) at one threshold: IoP = |P ∩ G| / |P| per sample, averaged over
  samples (0 for an empty P); pixel FPR = pooled false positive pixels / pixels outside G; pixel
  FNR = pooled missed pixels / pixels of G.
- The threshold is chosen on the VALIDATION set (:func:`choose_pixel_threshold`, minimizing pooled
  FPR + FNR) and then applied to the test set (:func:`pixel_scores`); never chosen on test.

Maps are min-max normalized per sample unless ``normalize=False`` (e.g. PCAM's absolute
probabilities); the prediction P at threshold t is ``map >= t``.
"""

from dataclasses import dataclass
from typing import Dict, Sequence

import numpy as np

from .curves import ap_from_counts
from .heatmap_ops import level_chunks
from .maxboxacc import CAM_THRESHOLDS


@dataclass(frozen=True)
class PixelCounts:
    """Pixel counts of ``n`` samples over a sweep of ``T`` ascending thresholds."""

    thresholds: np.ndarray  # (T,)
    overlap: np.ndarray  # (n, T) |P ∩ G|
    predicted: np.ndarray  # (n, T) |P|
    positive: np.ndarray  # (n,) |G|
    total: np.ndarray  # (n,) pixels of the map

    def select(self, rows: np.ndarray) -> "PixelCounts":
        """The counts of the samples ``rows`` (boolean mask or indices)."""
        return PixelCounts(
            self.thresholds, self.overlap[rows], self.predicted[rows], self.positive[rows], self.total[rows]
        )

    def includes(self, threshold: float) -> bool:
        """Whether ``threshold`` is one of the sweep's."""
        return bool(np.isclose(self.thresholds, threshold).any())

    def index(self, threshold: float) -> int:
        """Position of ``threshold`` in the sweep (ValueError if it is not one of them)."""
        hit = np.flatnonzero(np.isclose(self.thresholds, threshold))
        if not len(hit):
            raise ValueError(f"Threshold {threshold} is not in the sweep; count pixels at it first")
        return int(hit[0])


class PixelCounter:
    """Accumulates :class:`PixelCounts`, chunk by chunk of :func:`level_chunks`."""

    def __init__(self, masks: Sequence[np.ndarray], thresholds: np.ndarray):
        n = len(masks)
        self.masks, self.thresholds = masks, np.asarray(thresholds, dtype=np.float64)
        self.overlap = np.zeros((n, len(thresholds)), dtype=np.int64)
        self.predicted = np.zeros((n, len(thresholds)), dtype=np.int64)
        self.positive, self.total = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)

    def add(self, chunk: np.ndarray, values: np.ndarray, levels: np.ndarray) -> None:
        """Add the maps ``chunk`` (sample indices): their values and threshold levels."""
        n_thr = len(self.thresholds)
        # a pixel is predicted at thresholds[:level]; NaN pixels at every threshold
        level = levels.reshape(len(chunk), -1).astype(np.int32)
        nan = np.isnan(values.reshape(len(chunk), -1))
        if nan.any():
            level[nan] = n_thr
        level += (np.arange(len(chunk), dtype=np.int32) * (n_thr + 1))[:, None]
        mask = np.stack([np.asarray(self.masks[i], dtype=bool).reshape(-1) for i in chunk])
        for out, selected in ((self.predicted, level), (self.overlap, level[mask])):
            counts = np.bincount(selected.ravel(), minlength=len(chunk) * (n_thr + 1))
            out[chunk] = np.cumsum(counts.reshape(len(chunk), n_thr + 1)[:, ::-1], axis=1)[:, ::-1][:, 1:]
        self.positive[chunk], self.total[chunk] = mask.sum(axis=1), mask.shape[1]

    def counts(self) -> PixelCounts:
        return PixelCounts(self.thresholds, self.overlap, self.predicted, self.positive, self.total)


def pixel_counts(
    heatmaps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    thresholds: Sequence[float] = CAM_THRESHOLDS,
    normalize: bool = True,
) -> PixelCounts:
    """Count, for every sample and threshold, the predicted and the correctly predicted pixels."""
    thresholds = np.sort(np.asarray(thresholds, dtype=np.float64))
    counter = PixelCounter(masks, thresholds)
    for chunk, values, levels in level_chunks(heatmaps, thresholds, normalize):
        counter.add(chunk, values, levels)
    return counter.counts()


def pxap(counts: PixelCounts) -> float:
    """Pixel average precision: pooled precision-recall over the sweep, from high to low threshold."""
    return ap_from_counts(
        counts.overlap.sum(0)[::-1], counts.predicted.sum(0)[::-1], int(counts.positive.sum())
    )


def _error_rates(counts: PixelCounts) -> Dict[str, np.ndarray]:
    """Pooled pixel FPR and FNR at every threshold of the sweep."""
    overlap, predicted = counts.overlap.sum(0), counts.predicted.sum(0)
    positive, negative = counts.positive.sum(), (counts.total - counts.positive).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"fpr": (predicted - overlap) / negative, "fnr": (positive - overlap) / positive}


def choose_pixel_threshold(val_counts: PixelCounts) -> float:
    """The sweep threshold minimizing pooled FPR + FNR on VALIDATION counts (ties: the lowest)."""
    rates = _error_rates(val_counts)
    cost = rates["fpr"] + rates["fnr"]
    return float("nan") if np.isnan(cost).all() else float(val_counts.thresholds[np.nanargmin(cost)])


def pixel_scores(counts: PixelCounts, threshold: float) -> Dict[str, float]:
    """IoP, pixel FPR and FNR at ``threshold`` (one of the sweep of ``counts``; chosen on validation)."""
    k = counts.index(threshold)
    predicted = counts.predicted[:, k]
    iop = np.divide(counts.overlap[:, k], predicted, out=np.zeros(len(predicted)), where=predicted > 0)
    rates = _error_rates(counts)
    return {
        "threshold": float(threshold),
        "iop": float(iop.mean()) if len(iop) else float("nan"),
        "fpr": float(rates["fpr"][k]),
        "fnr": float(rates["fnr"][k]),
    }
