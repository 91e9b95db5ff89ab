"""Exact CIs of proportions, DeLong CIs of AUCs, and paired bootstrap tests of AUC and FROC."""
import numpy as np
import pytest
from scipy import stats

from wsdet.evaluation import BoxTable, roc_auc
from wsdet.evaluation.froc_bootstrap import froc_pvalue, resampled_sensitivities
from wsdet.evaluation.intervals import _resampled_aucs, auc_pvalue, clopper_pearson, delong_ci


@pytest.mark.parametrize(
    "k, n, expected", [(0, 10, (0.0, 0.30850)), (5, 10, (0.18709, 0.81291)), (10, 10, (0.69150, 1.0))]
)
def test_clopper_pearson(k, n, expected):
    assert clopper_pearson(k, n) == pytest.approx(expected, abs=1e-5)
    assert np.isnan(clopper_pearson(0, 0)).all()


def _delong_by_pairs(scores, labels, confidence=0.95):
    """DeLong's definition with the pair kernel psi written out (O(m n))."""
    pos, neg = scores[labels], scores[~labels]
    psi = (pos[:, None] > neg[None]) + 0.5 * (pos[:, None] == neg[None])
    auc = psi.mean()
    var = psi.mean(axis=1).var(ddof=1) / len(pos) + psi.mean(axis=0).var(ddof=1) / len(neg)
    z = stats.norm.ppf(0.5 + confidence / 2)
    return max(0.0, auc - z * np.sqrt(var)), min(1.0, auc + z * np.sqrt(var))


def test_delong_matches_its_definition_with_ties():
    rng = np.random.default_rng(0)
    labels = rng.random(60) < 0.4
    scores = np.round(rng.random(60) + labels * 0.5, 1)  # many ties
    assert delong_ci(scores, labels) == pytest.approx(_delong_by_pairs(scores, labels))
    low, high = delong_ci(scores, labels)
    assert low < roc_auc(scores, labels) < high
    assert np.isnan(delong_ci(scores[:3], np.array([True, False, False]))).all()  # one positive


def test_weighted_auc_and_paired_auc_test():
    rng = np.random.default_rng(1)
    labels = rng.random(200) < 0.5
    good = labels + rng.normal(0, 0.5, 200)
    weak = labels + rng.normal(0, 3.0, 200)
    assert _resampled_aucs(good, labels, np.ones((1, 200)))[0] == pytest.approx(roc_auc(good, labels))
    assert auc_pvalue(good, good, labels, n_resamples=200) == 1.0
    assert auc_pvalue(good, weak, labels, n_resamples=200) < 0.01


def test_paired_froc_test():
    rng = np.random.default_rng(2)
    n, lesions, false = 40, 20, 120
    box, elsewhere = [10.0, 10.0, 30.0, 30.0], [50.0, 50.0, 60.0, 60.0]
    gt = BoxTable(np.arange(lesions), np.tile(box, (lesions, 1)), np.zeros(lesions), np.ones(lesions))
    misses = BoxTable(rng.integers(0, n, false), np.tile(elsewhere, (false, 1)), np.zeros(false), rng.random(false))
    finds = BoxTable(
        np.concatenate([np.arange(lesions), misses.image]),
        np.concatenate([np.tile(box, (lesions, 1)), misses.boxes]),
        np.zeros(lesions + false),
        np.concatenate([rng.uniform(0.5, 1.0, lesions), misses.scores]),
    )
    assert froc_pvalue(gt, finds, finds, n, n_resamples=200) == 1.0
    assert froc_pvalue(gt, finds, misses, n, n_resamples=200) < 0.01
    sens = np.concatenate(list(resampled_sensitivities(gt, finds, n, n_resamples=50)))
    assert sens.shape == (50, 7) and np.all(np.diff(sens, axis=1) >= 0)  # non-decreasing in the rate
