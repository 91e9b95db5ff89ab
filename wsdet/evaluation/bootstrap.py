"""Bootstrap over test images: confidence intervals and paired comparisons of ratio statistics.

A statistic is a ratio of sums over images, ``sum(numerator) / sum(denominator)`` (a mean when the
denominator is 1 per image), e.g. CorLoc = correct localizations / lesions. Resamples are drawn
image-wise, with replacement, as per-image multiplicities (vectorized, in memory-bounded chunks).
"""

from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

_CHUNK_ELEMENTS = 1 << 22  # resamples x images held in memory at once


def resample_weights(n_images: int, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Yield ``(b, n_images)`` blocks of bootstrap multiplicities, ``n_resamples`` rows in all."""
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK_ELEMENTS // max(n_images, 1))
    for start in range(0, n_resamples, rows):
        b = min(rows, n_resamples - start)
        draws = rng.integers(0, n_images, size=(b, n_images)) + n_images * np.arange(b)[:, None]
        yield np.bincount(draws.ravel(), minlength=b * n_images).reshape(b, n_images).astype(np.float64)


def _resampled_sums(columns: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """``(n_resamples, m)`` sums of the ``(n_images, m)`` columns over each bootstrap resample."""
    return np.concatenate([w @ columns for w in resample_weights(len(columns), n_resamples, seed)])


def _columns(*per_image: Optional[np.ndarray]) -> np.ndarray:
    n = len(per_image[0])
    return np.stack([np.ones(n) if v is None else np.asarray(v, dtype=np.float64) for v in per_image], axis=1)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(np.shape(num), np.nan), where=den > 0)


def bootstrap_ci(
    numerator: np.ndarray,
    denominator: Optional[np.ndarray] = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Tuple[float, float]:
    """Percentile bootstrap CI of ``sum(numerator) / sum(denominator)`` over the given images.

    Pass only the images the statistic is about (e.g. images with a lesion for CorLoc). Returns
    ``(nan, nan)`` for no images.
    """
    return bootstrap_cis([numerator], denominator, n_resamples, confidence, seed)[0]


def bootstrap_cis(
    numerators: Sequence[np.ndarray],
    denominator: Optional[np.ndarray] = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> List[Tuple[float, float]]:
    """:func:`bootstrap_ci` of several numerators over the same images, from one set of resamples.

    Each CI equals ``bootstrap_ci(numerator, denominator, ...)`` (the same resamples; sums of
    integer counts are exact, other values may differ in the last bits).
    """
    if len(numerators[0]) == 0:
        return [(float("nan"), float("nan"))] * len(numerators)
    sums = _resampled_sums(_columns(*numerators, denominator), n_resamples, seed)
    tail = (1.0 - confidence) / 2.0
    cis = []
    for k in range(len(numerators)):
        low, high = np.nanquantile(_ratio(sums[:, k], sums[:, -1]), [tail, 1.0 - tail])
        cis.append((float(low), float(high)))
    return cis


def paired_bootstrap_pvalue(
    numerator_a: np.ndarray,
    numerator_b: np.ndarray,
    denominator: Optional[np.ndarray] = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> float:
    """Two-sided paired bootstrap p-value for "models A and B have the same statistic".

    Both models are evaluated on the same images (same rows). Images are resampled jointly; with
    ``d`` the observed difference A - B and ``d*`` its bootstrap replicates, the p-value is
    ``(1 + #{|d* - d| >= |d|}) / (n_resamples + 1)`` (the bootstrap distribution shifted to the null).
    """
    cols = _columns(numerator_a, numerator_b, denominator)
    if len(cols) == 0:
        return float("nan")
    total = cols.sum(axis=0)
    observed = (total[0] - total[1]) / total[2] if total[2] > 0 else 0.0
    sums = _resampled_sums(cols, n_resamples, seed)
    diffs = _ratio(sums[:, 0] - sums[:, 1], sums[:, 2])
    extreme = np.count_nonzero(np.abs(diffs - observed) >= abs(observed) - 1e-12)
    return float((1 + extreme) / (n_resamples + 1))
