"""Summaries shared by the metrics: ranking operating points, average precision, ROC AUC, NaN-aware mean."""

from typing import Optional, Tuple

import numpy as np


def operating_points(scores: np.ndarray, positives: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Operating points of a ranking: one per distinct score, from the highest score down.

    Returns ``(thresholds, n_positive, n_selected)``: for each distinct score ``s`` (descending), the
    number of positives and of items with score >= ``s``. Tied scores form a single point.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # within tied finite scores the order does not change the points; each non-finite score is a
    # point of its own (their differences are NaN), in input order
    order = np.argsort(-scores, kind="quicksort" if np.isfinite(scores).all() else "stable")
    sorted_scores = scores[order]
    cum_pos = np.cumsum(np.asarray(positives, dtype=np.int64)[order])
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, which counts as a change of score, as intended
        changes = np.diff(sorted_scores)
    last = np.append(np.flatnonzero(changes), len(scores) - 1)
    return sorted_scores[last], cum_pos[last], last + 1


def ap_from_counts(n_true: np.ndarray, n_selected: np.ndarray, n_pos: int) -> float:
    """Average precision from operating points ordered by increasing permissiveness.

    ``n_true`` / ``n_selected``: true positives / selected items at each point (non-decreasing).
    AP = sum over points of (recall increase) x precision (no interpolation); NaN when ``n_pos`` is 0.
    """
    if n_pos == 0:
        return float("nan")
    n_true = np.asarray(n_true, dtype=np.float64)
    precision = np.divide(n_true, n_selected, out=np.zeros_like(n_true), where=np.asarray(n_selected) > 0)
    recall_gain = np.diff(n_true, prepend=0.0) / n_pos
    return float(np.sum(recall_gain * precision))


def average_precision(scores: np.ndarray, positives: np.ndarray, n_pos: Optional[int] = None) -> float:
    """AP of a ranking; ``n_pos`` defaults to ``positives.sum()`` (pass more to count missed items)."""
    positives = np.asarray(positives, dtype=bool)
    _, n_true, n_selected = operating_points(scores, positives)
    return ap_from_counts(n_true, n_selected, int(positives.sum()) if n_pos is None else n_pos)


def midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``, tied values sharing the mean of their ranks."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    _, first, inverse, counts = np.unique(
        values[order], return_index=True, return_inverse=True, return_counts=True
    )
    ranks = np.empty(len(values))
    ranks[order] = (first + (counts + 1) / 2.0)[inverse]
    return ranks


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney rank statistic (ties count 1/2); NaN without both classes."""
    labels = np.asarray(labels, dtype=bool)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = midranks(scores)[labels].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def nanmean(values) -> float:
    """Mean of the non-NaN values (e.g. over classes); NaN when there is none."""
    values = np.asarray(list(values), dtype=np.float64)
    return float(values[~np.isnan(values)].mean()) if (~np.isnan(values)).any() else float("nan")
