"""ChestX-ray14 localization accuracy at IoBB > T and average false positives: hand-computed."""

import numpy as np
import pytest

from wsdet.evaluation.cxr_localization import cxr_localization
from wsdet.evaluation.tables import BoxTable


def test_hand_computed_accuracy_and_afp():
    gt = BoxTable([0, 1, 1], [[0, 0, 10, 10], [0, 0, 20, 20], [50, 50, 60, 60]], [0, 1, 0], np.ones(3))
    dets = BoxTable(
        [0, 0, 0, 0, 1, 1, 2],
        [
            [2, 2, 4, 4],
            [5, 0, 15, 10],
            [30, 30, 40, 40],
            [0, 0, 10, 10],
            [10, 10, 30, 30],
            [50, 50, 60, 60],
            [0, 0, 9, 9],
        ],
        [0, 0, 0, 1, 1, 0, 0],
        [0.9, 0.8, 0.7, 0.9, 0.6, 0.3, 0.9],
    )
    # IoBB of the class-0 boxes of image 0: 1.0, 0.5, 0.0; the class-1 box of image 1: 0.25.
    # Ignored: a class-1 box on image 0 (no class-1 finding there), the class-0 box of image 1 (score
    # 0.3 < 0.5, so that finding is missed) and the box on the normal image 2.
    result = cxr_localization(gt, dets, 3, ["a", "b", "c"])
    np.testing.assert_allclose(result["accuracy"], [2 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(result["afp"], [1 / 3, 2 / 3, 1, 1, 1])
    assert result["num_findings"] == 3
    np.testing.assert_allclose(result["per_class"]["a"]["accuracy"], [0.5] * 5)
    np.testing.assert_allclose(result["per_class"]["a"]["afp"], [0.5, 0.5, 1, 1, 1])
    np.testing.assert_allclose(result["per_class"]["b"]["accuracy"], [1, 0, 0, 0, 0])
    np.testing.assert_allclose(result["per_class"]["b"]["afp"], [0, 1, 1, 1, 1])
    assert np.isnan(result["per_class"]["c"]["accuracy"]).all()
    assert result["iobb_thresholds"] == [0.1, 0.25, 0.5, 0.75, 0.9]


def test_heatmap_models_use_every_box_of_the_gt_class():
    gt = BoxTable([0, 1, 1], [[0, 0, 10, 10], [0, 0, 20, 20], [50, 50, 60, 60]], [0, 1, 0], np.ones(3))
    dets = BoxTable(
        [0, 0, 1, 1],
        [[0, 0, 10, 10], [5, 0, 15, 10], [10, 10, 30, 30], [50, 50, 60, 60]],
        [0, 0, 1, 0],
        [0.9, 0.8, 0.6, 0.05],  # the last: a low class probability, its map still finds the lesion
    )
    # IoBB: image 0 class 0: 1.0 and 0.5; image 1 class 1: 0.25; image 1 class 0: 1.0 (ungated)
    result = cxr_localization(gt, dets, 2, ["a", "b"], score_thresh=None)
    np.testing.assert_allclose(result["accuracy"], [1, 2 / 3, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(result["afp"], [0, 1 / 3, 2 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(result["per_class"]["a"]["accuracy"], [1] * 5)
    gated = cxr_localization(gt, dets, 2, ["a", "b"])  # a detector's boxes with score >= 0.5
    np.testing.assert_allclose(gated["accuracy"], [2 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3])


def test_no_predictions_and_perfect_predictions():
    gt = BoxTable([0, 1], [[0, 0, 10, 10], [5, 5, 15, 15]], [0, 0], np.ones(2))
    none = cxr_localization(gt, BoxTable.from_per_image([], []), 2, ["a"])
    assert none["accuracy"] == [0.0] * 5 and none["afp"] == [0.0] * 5
    perfect = cxr_localization(
        gt, BoxTable(gt.image, gt.boxes, gt.classes, np.ones(2)), 2, ["a"], thresholds=[0.99]
    )
    assert perfect["accuracy"] == [pytest.approx(1.0)] and perfect["afp"] == [0.0]
