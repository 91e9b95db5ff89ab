"""FROC sensitivities over bootstrap resamples of the test images: bands and paired comparisons.

Detections are matched once (:func:`.froc.match_detections`); a resample repeats whole images, so it
keeps their matching and only reweights hits, false positives and lesions. Resamples are those of
:func:`.bootstrap.resample_weights` (same ``seed``: same resamples, so two models are paired).
"""
from typing import Iterator, Sequence

import numpy as np

from .bootstrap import resample_weights, shifted_pvalue
from .froc import FROC_FP_RATES, froc, match_detections, sensitivity_at
from .tables import BoxTable

__all__ = ["froc_pvalue", "resampled_sensitivities"]

_CHUNK_ELEMENTS = 1 << 22  # resamples x detections held in memory at once


def resampled_sensitivities(
    gt: BoxTable,
    dets: BoxTable,
    num_images: int,
    fp_rates: Sequence[float] = FROC_FP_RATES,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    iou_thresh: float = 0.5,
    criterion: str = "iou",
    class_aware: bool = True,
) -> Iterator[np.ndarray]:
    """Yield blocks of ``(b, len(fp_rates))`` FROC sensitivities, ``n_resamples`` rows in all (NaN rows
    for resamples without a lesion); options as :func:`.froc.froc`."""
    fp_rates = np.asarray(fp_rates, dtype=np.float64)
    hits = match_detections(gt, dets, iou_thresh, criterion, class_aware) >= 0
    order = np.argsort(-dets.scores, kind="stable")
    det_image, det_hit = dets.image[order], hits[order]
    # the last detection of each group of tied scores: the operating points
    points = np.flatnonzero(np.diff(dets.scores[order], append=np.nan) != 0)
    lesions_per_image = np.bincount(gt.image, minlength=num_images).astype(np.float64)
    rows = max(1, _CHUNK_ELEMENTS // max(len(order), 1))
    for weights in resample_weights(num_images, n_resamples, seed):
        for w in np.split(weights, np.arange(rows, len(weights), rows)):
            det_weight = w[:, det_image]
            n_hits = np.cumsum(det_weight * det_hit, axis=1)[:, points]
            n_fps = np.cumsum(det_weight * ~det_hit, axis=1)[:, points]
            block = np.full((len(w), len(fp_rates)), np.nan)
            for i, (hit_row, fp_row, lesions) in enumerate(zip(n_hits, n_fps, w @ lesions_per_image)):
                if lesions > 0:
                    curve = {
                        "fp_per_image": np.concatenate([[0.0], fp_row / num_images]),
                        "sensitivity": np.concatenate([[0.0], hit_row / lesions]),
                    }
                    block[i] = sensitivity_at(curve, fp_rates)
            yield block


def froc_pvalue(
    gt: BoxTable, dets_a: BoxTable, dets_b: BoxTable, num_images: int, *, n_resamples: int = 1000, seed: int = 0,
    **options,
) -> float:
    """Paired bootstrap p-value that two models' mean FROC sensitivities (at 1/8 ... 8 false positives
    per image) on the same images differ; ``options``: the hit criterion, as :func:`.froc.froc`."""
    if len(gt) == 0:
        return float("nan")
    means = []
    for dets in (dets_a, dets_b):
        observed = froc(gt, dets, num_images, **options)["mean_sensitivity"]
        blocks = resampled_sensitivities(gt, dets, num_images, n_resamples=n_resamples, seed=seed, **options)
        means.append((observed, np.concatenate([b.mean(axis=1) for b in blocks])))
    (observed_a, a), (observed_b, b) = means
    return shifted_pvalue(observed_a - observed_b, a - b)

