"""Image-level classification metrics: per-class ROC AUC, accuracy, sensitivity and specificity.

Inputs are ``probs`` (N, K), the probability of each lesion class (the models' ``image_probs``), and
``labels`` (N, K), multi-hot (all zeros = normal image). Every class is scored as a binary problem
(AUC from the ranks, ties counted 1/2; accuracy, sensitivity, specificity at ``threshold``, which must
come from validation). Single-label data (normal + K exclusive classes, e.g. BUS) also gets the
(K+1)-way accuracy of the argmax over (p_normal = 1 - sum(probs), probs) and the abnormal-vs-normal
problem scored by sum(probs) = 1 - p_normal.
"""

from typing import Dict, Sequence

import numpy as np

from .curves import nanmean, roc_auc


def binary_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> Dict[str, float]:
    """AUC, and accuracy / sensitivity / specificity of ``scores >= threshold``, for one binary problem."""
    labels = np.asarray(labels, dtype=bool)
    predicted = np.asarray(scores) >= threshold
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    nan = float("nan")
    return {
        "auc": roc_auc(scores, labels),
        "accuracy": float(np.mean(predicted == labels)) if len(labels) else nan,
        "sensitivity": float(np.sum(predicted & labels) / n_pos) if n_pos else nan,
        "specificity": float(np.sum(~predicted & ~labels) / n_neg) if n_neg else nan,
        "num_positive": n_pos,
        "num_negative": n_neg,
    }


def classification_metrics(
    probs: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    threshold: float = 0.5,
    single_label: bool = False,
) -> Dict[str, object]:
    """Per-class binary metrics and their means; with ``single_label``, the (K+1)-way and abnormal metrics."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    per_class = {
        name: binary_metrics(probs[:, c], labels[:, c], threshold) for c, name in enumerate(class_names)
    }
    report: Dict[str, object] = {
        f"mean_{key}": nanmean(m[key] for m in per_class.values())
        for key in ("auc", "accuracy", "sensitivity", "specificity")
    }
    report["per_class"] = per_class
    if single_label:
        with_normal = np.concatenate([1.0 - probs.sum(axis=1, keepdims=True), probs], axis=1)
        truth = np.where(labels.any(axis=1), labels.argmax(axis=1) + 1, 0)
        report["accuracy"] = (
            float(np.mean(with_normal.argmax(axis=1) == truth)) if len(truth) else float("nan")
        )
        report["abnormal"] = binary_metrics(probs.sum(axis=1), labels.any(axis=1), threshold)
    return report
