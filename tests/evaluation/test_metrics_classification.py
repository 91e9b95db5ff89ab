"""ROC AUC (rank based, ties), average precision, and the classification summary."""

import numpy as np
import pytest

from wsdet.evaluation.classification import binary_metrics, classification_metrics
from wsdet.evaluation.curves import average_precision, midranks, roc_auc


def _pairwise_auc(scores, labels):
    pos, neg = scores[labels], scores[~labels]
    return np.mean((pos[:, None] > neg[None]) + 0.5 * (pos[:, None] == neg[None]))


def test_auc_equals_brute_force_pairwise_count_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = rng.integers(2, 60)
        scores = np.round(rng.random(n), 1)  # many ties
        labels = rng.random(n) < 0.4
        if labels.all() or not labels.any():
            continue
        assert roc_auc(scores, labels) == pytest.approx(_pairwise_auc(scores, labels))


def test_auc_against_sklearn_when_installed():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    scores, labels = np.round(rng.random(200), 2), rng.random(200) < 0.3
    assert roc_auc(scores, labels) == pytest.approx(metrics.roc_auc_score(labels, scores))


def test_auc_edge_cases():
    labels = np.array([0, 0, 1, 1], dtype=bool)
    assert roc_auc([0.1, 0.2, 0.8, 0.9], labels) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], labels) == 0.0
    assert roc_auc([0.5] * 4, labels) == 0.5
    assert np.isnan(roc_auc([0.1, 0.2], [True, True]))
    np.testing.assert_allclose(midranks([3, 1, 3, 2]), [3.5, 1, 3.5, 2])


def test_average_precision_hand_values():
    # ranking: TP, FP, TP -> precision at the hits 1 and 2/3
    assert average_precision([0.9, 0.8, 0.7], [1, 0, 1]) == pytest.approx((1 + 2 / 3) / 2)
    # a missed positive (never ranked) halves the recall gained
    assert average_precision([0.9], [1], n_pos=2) == pytest.approx(0.5)
    # tied scores are one threshold: TP and FP tied at the top give precision 1/2
    assert average_precision([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    assert np.isnan(average_precision([0.5], [0]))


def test_binary_metrics_at_threshold():
    m = binary_metrics(np.array([0.9, 0.6, 0.4, 0.2]), np.array([1, 0, 1, 0]), threshold=0.5)
    assert m["sensitivity"] == 0.5 and m["specificity"] == 0.5 and m["accuracy"] == 0.5
    assert m["auc"] == pytest.approx(0.75)
    assert m["num_positive"] == 2 and m["num_negative"] == 2


def test_single_label_normal_plus_classes():
    # columns: benign, malignant; p_normal = 1 - sum
    probs = np.array([[0.1, 0.1], [0.7, 0.2], [0.2, 0.7], [0.3, 0.3]])
    labels = np.array([[0, 0], [1, 0], [0, 1], [0, 1]], dtype=bool)
    report = classification_metrics(probs, labels, ["benign", "malignant"], single_label=True)
    assert report["accuracy"] == pytest.approx(3 / 4)  # the last image is called normal (0.4)
    assert report["abnormal"]["auc"] == pytest.approx(1.0)  # sum(probs): 0.2 < 0.6, 0.9, 0.9
    assert report["per_class"]["malignant"]["auc"] == pytest.approx(1.0)
    assert report["per_class"]["benign"]["sensitivity"] == 1.0
    assert report["mean_auc"] == pytest.approx(
        np.mean([report["per_class"][c]["auc"] for c in ("benign", "malignant")])
    )


def test_multi_label_missing_class_gives_nan_auc_but_finite_mean():
    probs = np.array([[0.9, 0.1, 0.3], [0.2, 0.8, 0.4]])
    labels = np.array([[1, 1, 0], [0, 1, 0]], dtype=bool)
    report = classification_metrics(probs, labels, ["a", "b", "c"])
    assert report["per_class"]["a"]["auc"] == 1.0
    assert np.isnan(report["per_class"]["b"]["auc"]) and np.isnan(report["per_class"]["c"]["auc"])
    assert report["mean_auc"] == 1.0
    assert "accuracy" not in report
