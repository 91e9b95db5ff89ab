"""CorLoc (official BUS and top-1), false positives per normal image, bootstrap CIs and p-values."""

import numpy as np
import pytest

from wsdet.evaluation.bootstrap import bootstrap_ci, bootstrap_cis, paired_bootstrap_pvalue
from wsdet.evaluation.corloc import (
    _top_per_group,
    corloc_outcomes,
    corloc_pvalue,
    corloc_report,
    corloc_sweep,
    false_positives_per_normal_image,
)
from wsdet.evaluation.tables import BoxTable

A = [0, 0, 10, 10]
FAR = [50, 50, 60, 60]
B = [20, 20, 40, 40]
NAMES = ["benign", "malignant"]


def _case():
    """Image 0: the top detection misses, a lower one (0.6) hits. Image 1: only a hit below 0.5.
    Image 2: a hit of the wrong class. Images 3, 4: normal, with 2 and 0 detections >= 0.5."""
    gt = BoxTable([0, 1, 2], [A, B, A], [0, 1, 0], np.ones(3))
    dets = BoxTable(
        [0, 0, 1, 2, 3, 3, 3],
        [FAR, A, B, A, FAR, FAR, FAR],
        [0, 0, 1, 1, 0, 1, 0],
        [0.9, 0.6, 0.4, 0.9, 0.7, 0.5, 0.2],
    )
    return gt, dets


def test_official_and_top1_differ_as_hand_computed():
    gt, dets = _case()
    correct, has_gt = corloc_outcomes(gt, dets, 5, 2, "official")
    np.testing.assert_array_equal(has_gt[:3], [[1, 0], [0, 1], [1, 0]])
    np.testing.assert_array_equal(correct[:3], [[1, 0], [0, 0], [0, 0]])
    correct, _ = corloc_outcomes(gt, dets, 5, 2, "top1")
    np.testing.assert_array_equal(correct[:3], [[0, 0], [0, 1], [0, 0]])

    report = corloc_report(gt, dets, 5, NAMES, n_resamples=200)
    assert report["official"]["corloc"] == pytest.approx(1 / 3)
    assert report["official"]["per_class"]["benign"]["corloc"] == pytest.approx(1 / 2)
    assert report["official"]["per_class"]["malignant"]["corloc"] == 0.0
    assert report["top1"]["corloc"] == pytest.approx(1 / 3)
    assert report["top1"]["per_class"]["benign"]["corloc"] == 0.0
    assert report["top1"]["per_class"]["malignant"]["corloc"] == 1.0
    assert report["official"]["num_images"] == 3
    assert report["fp_per_normal_image"] == pytest.approx(1.0)  # (2 + 0) / 2 normal images
    assert report["num_normal_images"] == 2


def test_iou_must_exceed_threshold_and_score_threshold_is_inclusive():
    gt = BoxTable([0], [A], [0], [1.0])
    half = BoxTable([0], [[0, 0, 5, 10]], [0], [0.9])  # IoU exactly 0.5
    assert not corloc_outcomes(gt, half, 1, 1)[0].any()
    exact = BoxTable([0], [A], [0], [0.5])
    assert corloc_outcomes(gt, exact, 1, 1)[0].all()


def test_duplicates_perfect_and_empty_cases():
    gt = BoxTable([0, 1], [A, B], [0, 0], np.ones(2))
    perfect = BoxTable([0, 0, 1], [A, A, B], [0, 0, 0], [0.9, 0.9, 0.8])  # duplicate detections
    assert corloc_report(gt, perfect, 2, ["lesion"], n_resamples=50)["official"]["corloc"] == 1.0
    assert corloc_report(gt, perfect, 2, ["lesion"], n_resamples=50)["top1"]["corloc"] == 1.0
    no_dets = BoxTable.from_per_image([], [])
    report = corloc_report(gt, no_dets, 2, ["lesion"], n_resamples=50)
    assert report["official"]["corloc"] == 0.0 and report["top1"]["corloc"] == 0.0
    assert np.isnan(report["fp_per_normal_image"])  # no normal image
    no_gt = corloc_report(no_dets, perfect, 2, ["lesion"], n_resamples=50)
    assert np.isnan(no_gt["official"]["corloc"]) and no_gt["official"]["num_images"] == 0
    assert np.isnan(no_gt["official"]["ci95"][0])
    assert no_gt["fp_per_normal_image"] == pytest.approx(1.5)  # 3 detections on 2 normal images


def test_two_classes_in_one_image_pool_pairs():
    gt = BoxTable([0, 0], [A, B], [0, 1], np.ones(2))
    dets = BoxTable([0], [A], [0], [0.9])
    report = corloc_report(gt, dets, 1, NAMES, n_resamples=50)
    assert report["official"]["corloc"] == pytest.approx(0.5)
    assert report["official"]["num_images"] == 1


def test_explicit_normal_flags():
    dets = BoxTable([0, 1, 1], [A, A, A], [0, 0, 0], [0.9, 0.9, 0.1])
    assert false_positives_per_normal_image(dets, np.array([False, True])) == 1.0
    assert false_positives_per_normal_image(dets, np.array([True, True]), score_thresh=0.05) == 1.5


def test_bootstrap_ci_contains_estimate_narrows_and_is_seeded():
    rng = np.random.default_rng(1)
    widths = []
    for n in (100, 10000):
        outcome = (rng.random(n) < 0.7).astype(float)
        low, high = bootstrap_ci(outcome, n_resamples=500, seed=3)
        assert low <= outcome.mean() <= high
        widths.append(high - low)
        assert bootstrap_ci(outcome, n_resamples=500, seed=3) == (low, high)
    assert widths[1] < widths[0] / 5  # width ~ 1/sqrt(n): 10x narrower for 100x the images
    ratio_low, ratio_high = bootstrap_ci(np.array([1, 0, 2.0]), np.array([1, 1, 2.0]), n_resamples=300)
    assert ratio_low <= 0.75 <= ratio_high
    assert bootstrap_ci(np.ones(20), n_resamples=100) == (1.0, 1.0)


def test_paired_pvalue():
    rng = np.random.default_rng(0)
    a = (rng.random(300) < 0.8).astype(float)
    assert paired_bootstrap_pvalue(a, a, n_resamples=200) == 1.0
    assert paired_bootstrap_pvalue(np.ones(300), np.zeros(300), n_resamples=200) == pytest.approx(1 / 201)
    correct_ones = np.flatnonzero(a == 1)
    few, many = a.copy(), a.copy()
    few[correct_ones[:3]] = 0  # B misses 3 of A's 240 hits: no evidence of a difference
    many[correct_ones[:30]] = 0  # 30: strong evidence
    assert paired_bootstrap_pvalue(a, few, n_resamples=500) > 0.05
    assert paired_bootstrap_pvalue(a, many, n_resamples=500) < 0.01
    gt, dets = _case()
    correct, has_gt = corloc_outcomes(gt, dets, 5, 2, "official")
    assert corloc_pvalue(correct, correct, has_gt, n_resamples=100) == 1.0
    assert 0 < corloc_pvalue(correct, ~correct, has_gt, class_index=0, n_resamples=100) <= 1


def test_top_detection_per_image_and_class():
    nan = float("nan")
    dets = BoxTable(
        [0, 0, 0, 1, 1, 1, 2, 2],
        np.zeros((8, 4)),
        [0, 0, 1, 0, 0, 0, 1, 1],
        [0.5, 0.9, 0.1, 0.7, 0.7, nan, nan, nan],
    )
    # (0, 0): the 0.9; (0, 1): the only one; (1, 0): the first of the tied 0.7s, NaN loses;
    # (2, 1): only NaN scores, the first
    np.testing.assert_array_equal(_top_per_group(dets, per_class=True), [1, 2, 3, 6])
    assert len(_top_per_group(BoxTable.from_per_image([], []), per_class=True)) == 0
    # over all classes: image 0's 0.9 (class 0), image 1's first 0.7, image 2's first NaN
    np.testing.assert_array_equal(_top_per_group(dets, per_class=False), [1, 3, 6])


def test_bootstrap_cis_are_those_of_bootstrap_ci_from_one_draw():
    rng = np.random.default_rng(0)
    den = rng.integers(1, 3, 80).astype(float)
    nums = [rng.binomial(den.astype(int), p).astype(float) for p in (0.2, 0.5, 0.9)]
    cis = bootstrap_cis(nums, den, n_resamples=300, seed=4)
    assert cis == [bootstrap_ci(num, den, n_resamples=300, seed=4) for num in nums]
    assert all(np.isnan(v) for ci in bootstrap_cis([np.zeros(0)] * 2) for v in ci)


def test_top1_over_all_classes_counts_a_classification_error():
    # image 0: a benign lesion; the top detection (0.9) is a malignant box on it, a benign box (0.6) too
    gt = BoxTable([0, 1], [A, B], [0, 1], np.ones(2))
    dets = BoxTable([0, 0, 1], [A, A, B], [1, 0, 1], [0.9, 0.6, 0.8])
    per_class, _ = corloc_outcomes(gt, dets, 2, 2, "top1")
    any_class, _ = corloc_outcomes(gt, dets, 2, 2, "top1_any_class")
    np.testing.assert_array_equal(per_class, [[1, 0], [0, 1]])
    np.testing.assert_array_equal(any_class, [[0, 0], [0, 1]])
    report = corloc_report(gt, dets, 2, NAMES, n_resamples=50)
    assert report["top1"]["corloc"] == 1.0 and report["top1_any_class"]["corloc"] == 0.5


def test_corloc_and_false_positives_at_every_score_threshold():
    gt, dets = _case()
    normal = np.array([False, False, False, True, True])
    sweep = corloc_sweep(gt, dets, 5, 2, normal, thresholds=[0.2, 0.4, 0.5, 0.7, 0.95])
    # best hitting score per lesion: 0.6, 0.4 and none (image 2's box has the wrong class)
    assert sweep["corloc_official"] == pytest.approx([2 / 3, 2 / 3, 1 / 3, 0, 0])
    # scores on the normal images: 0.7, 0.5, 0.2
    assert sweep["fp_per_normal_image"] == pytest.approx([1.5, 1.0, 1.0, 0.5, 0])
    # detections overlapping no GT box of their class: 0.9, 0.9, 0.7, 0.5, 0.2, over 5 images
    assert sweep["fp_per_image"] == pytest.approx([1.0, 0.8, 0.8, 0.6, 0])
    report = corloc_report(gt, dets, 5, NAMES, normal, n_resamples=20)
    at_half = report["sweep"]["score_thresholds"].index(0.5)
    assert report["sweep"]["corloc_official"][at_half] == pytest.approx(report["official"]["corloc"])
    assert report["sweep"]["fp_per_normal_image"][at_half] == pytest.approx(report["fp_per_normal_image"])
