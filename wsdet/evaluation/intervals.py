"""Confidence intervals and paired tests that need no resampling of the detections themselves:
exact (Clopper-Pearson) intervals of proportions such as CorLoc, DeLong intervals of ROC AUCs, and the
paired bootstrap test of two models' AUCs."""

from typing import Tuple

import numpy as np
from scipy import stats

from .bootstrap import resample_weights, shifted_pvalue
from .curves import midranks, roc_auc

__all__ = ["auc_pvalue", "clopper_pearson", "delong_ci"]


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> Tuple[float, float]:
    """Exact binomial CI of ``successes / trials`` (Clopper-Pearson); ``(nan, nan)`` for no trials."""
    if trials <= 0:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    low = stats.beta.ppf(tail, successes, trials - successes + 1) if successes > 0 else 0.0
    high = stats.beta.ppf(1.0 - tail, successes + 1, trials - successes) if successes < trials else 1.0
    return float(low), float(high)


def delong_ci(scores: np.ndarray, labels: np.ndarray, confidence: float = 0.95) -> Tuple[float, float]:
    """
    CI of the ROC AUC (Mann-Whitney, ties 1/2) from DeLong's variance (DeLong et al. 1988, with the
    midrank computation of Sun & Xu 2014), normal approximation clipped to [0, 1]. ``(nan, nan)`` with
    fewer than 2 positives or 2 negatives.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    pos, neg = scores[labels], scores[~labels]
    m, n = len(pos), len(neg)
    if m < 2 or n < 2:
        return float("nan"), float("nan")
    combined = midranks(np.concatenate([pos, neg]))
    v10 = (combined[:m] - midranks(pos)) / n  # per positive: share of negatives ranked below it
    v01 = 1.0 - (combined[m:] - midranks(neg)) / m  # per negative: share of positives ranked above it
    auc = float(v10.mean())
    se = np.sqrt(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n)
    z = stats.norm.ppf(0.5 + confidence / 2.0)
    return max(0.0, auc - z * se), min(1.0, auc + z * se)


def _resampled_aucs(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of each row of image multiplicities ``weights`` (B, N): weighted Mann-Whitney, ties 1/2."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.concatenate([[True], sorted_scores[1:] != sorted_scores[:-1]]))
    w = weights[:, order]
    pos = np.add.reduceat(w * labels[order], starts, axis=1)
    neg = np.add.reduceat(w * ~labels[order], starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    return np.divide(wins, pairs, out=np.full(len(w), np.nan), where=pairs > 0)


def auc_pvalue(
    scores_a: np.ndarray, scores_b: np.ndarray, labels: np.ndarray, n_resamples: int = 1000, seed: int = 0
) -> float:
    """Paired bootstrap p-value that two models' AUCs on the same images (same rows) differ."""
    labels = np.asarray(labels, dtype=bool)
    scores_a, scores_b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    observed = roc_auc(scores_a, labels) - roc_auc(scores_b, labels)
    if not np.isfinite(observed):
        return float("nan")
    diffs = [
        _resampled_aucs(scores_a, labels, w) - _resampled_aucs(scores_b, labels, w)
        for w in resample_weights(len(labels), n_resamples, seed)
    ]
    return shifted_pvalue(observed, np.concatenate(diffs))
