"""FROC: one-to-one greedy matching, no hit without overlap, hand-computed sensitivities."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from wsdet.evaluation.box_ops import box_iou
from wsdet.evaluation.curves import operating_points
from wsdet.evaluation.froc import froc, match_detections
from wsdet.evaluation.matching import greedy_match
from wsdet.evaluation.tables import BoxTable, pair_indices

L = [0, 0, 10, 10]
FAR = [50, 50, 60, 60]


def test_hand_computed_curve():
    gt = BoxTable([0, 1, 1, 3], [L, [20, 20, 40, 40], [50, 50, 70, 70], L], [0, 0, 0, 0], np.ones(4))
    dets = BoxTable(
        [0, 0, 0, 1, 1, 2, 2],
        [L, L, FAR, [50, 50, 70, 70], [20, 20, 40, 40], L, L],
        np.zeros(7),
        [0.9, 0.8, 0.3, 0.7, 0.2, 0.6, 0.4],
    )
    np.testing.assert_array_equal(match_detections(gt, dets), [0, -1, -1, 2, 1, -1, -1])  # duplicate = FP
    result = froc(gt, dets, num_images=4)
    np.testing.assert_allclose(result["sensitivity"], [0.25, 0.5, 0.5, 0.75, 0.75, 0.75, 0.75])
    assert result["mean_sensitivity"] == pytest.approx(4.25 / 7)
    curve = result["curve"]
    np.testing.assert_allclose(curve["fp_per_image"], [0, 0, 0.25, 0.25, 0.5, 0.75, 1.0, 1.0])
    np.testing.assert_allclose(curve["sensitivity"], [0, 0.25, 0.25, 0.5, 0.5, 0.5, 0.5, 0.75])
    assert result["num_lesions"] == 4 and result["num_images"] == 4


def test_non_overlapping_pair_is_never_a_hit():
    gt = BoxTable([0, 0], [L, [20, 0, 30, 10]], [0, 0], np.ones(2))
    dets = BoxTable([0, 0], [L, FAR], [0, 0], [0.9, 0.8])
    result = froc(gt, dets, num_images=1)
    assert result["sensitivity"][-1] == 0.5  # only the overlapping detection hits
    assert result["curve"]["fp_per_image"][-1] == 1.0
    # coco-froc-analysis fills a cost matrix (1e6 where a pair does not match), runs a Hungarian
    # assignment and counts every assigned pair as a hit: here both lesions would be "found".
    iou = box_iou(gt.boxes[:, None], dets.boxes[None])
    cost = np.where(iou > 0.5, 1.0, 1e6)
    rows, _ = linear_sum_assignment(cost)
    assert len(rows) == 2
    lone = froc(BoxTable([0], [L], [0], [1.0]), BoxTable([0], [FAR], [0], [0.9]), num_images=1)
    assert lone["sensitivity"] == [0.0] * 7 and lone["curve"]["fp_per_image"][-1] == 1.0


def test_greedy_by_score_and_one_gt_per_detection():
    gt = BoxTable([0, 0], [[0, 0, 10, 10], [2, 0, 12, 10]], [0, 0], np.ones(2))
    # det 0 hits both lesions (IoU 0.90 with the first, 0.74 with the second): it takes the best one;
    # det 1 then takes the other; det 2 (a copy of the first) has nothing left: a false positive.
    dets = BoxTable(
        [0, 0, 0], [[0.5, 0, 10.5, 10], [2, 0, 12, 10], [0, 0, 10, 10]], [0, 0, 0], [0.9, 0.8, 0.7]
    )
    np.testing.assert_array_equal(match_detections(gt, dets), [0, 1, -1])
    # the higher score wins a lesion even with the lower IoU
    one = BoxTable([0], [L], [0], [1.0])
    dets = BoxTable([0, 0], [[0, 0, 10, 6.5], L], [0, 0], [0.9, 0.5])
    np.testing.assert_array_equal(match_detections(one, dets), [0, -1])


def test_center_criterion_class_awareness_and_normal_images():
    gt = BoxTable([0], [[10, 10, 20, 20]], [0], [1.0])
    big = BoxTable([0], [[0, 0, 30, 30]], [0], [0.9])  # centre inside, IoU 1/9
    assert froc(gt, big, 1)["sensitivity"][-1] == 0.0
    assert froc(gt, big, 1, criterion="center")["sensitivity"][-1] == 1.0
    wrong_class = BoxTable([0], [[10, 10, 20, 20]], [1], [0.9])
    assert froc(gt, wrong_class, 1)["sensitivity"][-1] == 0.0
    assert froc(gt, wrong_class, 1, class_aware=False)["sensitivity"][-1] == 1.0
    on_normal = BoxTable([0, 1, 1], [[10, 10, 20, 20], L, L], [0, 0, 0], [0.9, 0.8, 0.7])
    result = froc(gt, on_normal, num_images=2)
    np.testing.assert_allclose(result["curve"]["fp_per_image"], [0, 0, 0.5, 1.0])
    assert result["sensitivity"][0] == 1.0
    with pytest.raises(ValueError):
        froc(gt, big, 1, criterion="distance")


def test_empty_inputs():
    gt = BoxTable([0], [L], [0], [1.0])
    none = BoxTable.from_per_image([], [])
    result = froc(gt, none, num_images=3)
    assert result["sensitivity"] == [0.0] * 7 and result["mean_sensitivity"] == 0.0
    assert len(result["curve"]["fp_per_image"]) == 1
    assert np.isnan(froc(none, BoxTable([0], [L], [0], [0.5]), num_images=1)["mean_sensitivity"])


def test_tied_scores_form_one_operating_point():
    gt = BoxTable([0], [L], [0], [1.0])
    dets = BoxTable([0, 0], [FAR, L], [0, 0], [0.5, 0.5])
    result = froc(gt, dets, num_images=1)
    np.testing.assert_allclose(result["curve"]["fp_per_image"], [0, 1])
    np.testing.assert_allclose(result["curve"]["sensitivity"], [0, 1])
    assert result["sensitivity"][0] == 0.0  # at 1/8 FP per image nothing is reachable


def _reference_greedy(gt, dets, thresh):
    """Plain loops: per image, detections by decreasing score take the best free GT with IoU > thresh."""
    matched = np.full(len(dets), -1)
    for image in np.unique(dets.image):
        free = set(np.flatnonzero((gt.image == image)).tolist())
        for d in sorted(np.flatnonzero(dets.image == image), key=lambda d: (-dets.scores[d], d)):
            options = [
                (box_iou(dets.boxes[d], gt.boxes[g]), -g) for g in free if gt.classes[g] == dets.classes[d]
            ]
            options = [o for o in options if o[0] > thresh]
            if options:
                g = -max(options)[1]
                matched[d] = g
                free.remove(g)
    return matched


def test_vectorized_greedy_equals_plain_loops():
    rng = np.random.default_rng(0)
    n_img = 40

    def random_table(n, scores):
        xy = rng.uniform(0, 40, (n, 2))
        wh = rng.uniform(5, 25, (n, 2))
        return BoxTable(rng.integers(0, n_img, n), np.hstack([xy, xy + wh]), rng.integers(0, 2, n), scores)

    gt = random_table(60, np.ones(60))
    dets = random_table(400, np.round(rng.random(400), 1))  # many tied scores
    for thresh in (0.1, 0.3, 0.5):
        np.testing.assert_array_equal(match_detections(gt, dets, thresh), _reference_greedy(gt, dets, thresh))
    rows_det, rows_gt = pair_indices(dets, gt)
    assert (greedy_match(dets.image, dets.scores, rows_det[:0], rows_gt[:0], np.zeros(0)) == -1).all()


def test_operating_points_of_tied_and_non_finite_scores():
    scores = [0.5, np.inf, 0.5, 0.9, np.inf, np.nan, -np.inf, 0.9]
    positives = [1, 0, 0, 1, 1, 1, 0, 0]
    thresholds, n_positive, n_selected = operating_points(scores, positives)
    # tied finite scores: one point; each non-finite score a point of its own, in input order
    np.testing.assert_array_equal(thresholds, [np.inf, np.inf, 0.9, 0.5, -np.inf, np.nan])
    np.testing.assert_array_equal(n_positive, [0, 1, 2, 3, 3, 4])
    np.testing.assert_array_equal(n_selected, [1, 2, 4, 6, 7, 8])
