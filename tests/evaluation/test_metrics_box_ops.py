"""Box geometry and the flat box tables: hand-computed values."""

import numpy as np
import pytest

from wsdet.evaluation.box_ops import box_iobb, box_iou, points_in_boxes, xywh_to_xyxy
from wsdet.evaluation.tables import BoxTable, pair_indices


def test_iou_hand_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], dtype=float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [10, 0, 20, 10]], dtype=float)
    np.testing.assert_allclose(box_iou(a, b), [1.0, 50 / 150, 0.0, 0.0])


def test_iou_pairwise_broadcast_and_degenerate():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], dtype=float)
    b = np.array([[0, 0, 5, 10], [0, 0, 10, 10], [3, 3, 3, 3]], dtype=float)
    iou = box_iou(a[:, None], b[None])
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou, [[0.5, 1.0, 0.0], [0.0, 0.0, 0.0]])


def test_iobb_is_intersection_over_prediction():
    gt = np.array([0, 0, 10, 10], dtype=float)
    inside = np.array([2, 2, 4, 4], dtype=float)  # small prediction inside the GT: IoBB 1, IoU 0.04
    half_out = np.array([5, 0, 15, 10], dtype=float)
    assert box_iobb(gt, inside) == pytest.approx(1.0)
    assert box_iou(gt, inside) == pytest.approx(0.04)
    assert box_iobb(gt, half_out) == pytest.approx(0.5)
    assert box_iobb(gt, np.array([1, 1, 1, 5.0])) == 0.0  # zero-area prediction


def test_points_in_boxes_euclidean_tolerance():
    box = np.array([0, 0, 10, 10], dtype=float)
    points = np.array([[5, 5], [10, 10], [25, 5], [21, 21], [20, 20]], dtype=float)
    np.testing.assert_array_equal(points_in_boxes(points, box), [True, True, False, False, False])
    # (21, 21) is sqrt(11^2 + 11^2) = 15.56 px from the corner; (20, 20) is 14.14 px away
    np.testing.assert_array_equal(points_in_boxes(points, box, 15), [True, True, True, False, True])


def test_xywh_to_xyxy():
    np.testing.assert_allclose(xywh_to_xyxy([[1, 2, 3, 4]]), [[1, 2, 4, 6]])


def test_pair_indices_same_image_and_class():
    a = BoxTable([0, 0, 1, 2], np.zeros((4, 4)), [0, 1, 0, 0], np.ones(4))
    b = BoxTable([1, 0, 0, 0], np.zeros((4, 4)), [0, 0, 1, 0], np.ones(4))
    rows_a, rows_b = pair_indices(a, b)
    assert sorted(zip(rows_a.tolist(), rows_b.tolist())) == [(0, 1), (0, 3), (1, 2), (2, 0)]
    rows_a, rows_b = pair_indices(a, b, same_class=False)
    assert len(rows_a) == 3 + 3 + 1
    empty = BoxTable.from_per_image([], [])
    assert len(empty) == 0 and all(len(x) == 0 for x in pair_indices(a, empty))


def test_from_per_image_and_boxes_per_image():
    table = BoxTable.from_per_image(
        [np.zeros((0, 4)), [[0, 0, 1, 1], [1, 1, 2, 2]]], [[], [0, 1]], [[], [0.3, 0.9]]
    )
    np.testing.assert_array_equal(table.image, [1, 1])
    np.testing.assert_allclose(table.scores, [0.3, 0.9])
    per_image = table.boxes_per_image(3)
    assert [len(b) for b in per_image] == [0, 2, 0]


def test_from_per_image_converts_mixed_inputs():
    boxes = [
        np.array([[0, 0, 1, 2]], dtype=np.float32),
        [[1.5, 2, 3, 4]],
        np.zeros((0, 4)),
        np.array([5, 6, 7, 8]),
    ]
    table = BoxTable.from_per_image(
        boxes, [[1], np.array([0]), [], np.array([2], dtype=np.int8)], [[0.5], [1], [], [0.25]]
    )
    assert table.boxes.dtype == np.float64 and table.classes.dtype == np.int64
    np.testing.assert_array_equal(table.boxes, [[0, 0, 1, 2], [1.5, 2, 3, 4], [5, 6, 7, 8]])
    np.testing.assert_array_equal(table.image, [0, 1, 3])
    np.testing.assert_array_equal(table.classes, [1, 0, 2])
    np.testing.assert_array_equal(table.scores, [0.5, 1.0, 0.25])
