"""Heatmap metrics: MaxBoxAccV2, PxAP, IoP / FPR / FNR, pointing game, STL localization AP."""

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from wsdet.evaluation.heatmap_ops import (
    boxes_to_mask,
    masks_from_boxes,
    segmentation_to_mask,
    threshold_levels,
)
from wsdet.evaluation.box_ops import box_iou
from wsdet.evaluation.contour_sweep import _box_iou, best_contour_iou, sweep_contour_boxes
from wsdet.evaluation.maxboxacc import CAM_THRESHOLDS, best_box_iou, max_box_acc
from wsdet.evaluation.peak_metrics import pointing_hits, stl_localization_ap
from wsdet.evaluation.pixel_metrics import choose_pixel_threshold, pixel_counts, pixel_scores, pxap
from wsdet.evaluation.tables import BoxTable
from wsdet.evaluation.suite import HeatmapSamples, _threshold_sweep
from wsdet.modeling.cam import normalize_heatmaps


def _indicator(shape, *boxes):
    return boxes_to_mask(np.array(boxes, dtype=float), shape).astype(np.float32)


def _gt(*per_sample):
    return BoxTable.from_per_image(
        [np.array(b, dtype=float).reshape(-1, 4) for b in per_sample], [np.zeros(len(b)) for b in per_sample]
    )


def _findcontours_boxes(binary: np.ndarray):
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    return sorted((x, y, x + w, y + h) for x, y, w, h in map(cv2.boundingRect, contours))


@pytest.mark.parametrize("kind", ["smooth", "noise", "few levels"])
def test_sweep_contour_boxes_equal_findcontours_at_every_threshold(kind):
    rng = np.random.default_rng(0)
    for _ in range(15):
        h, w = rng.integers(1, 30, 2)
        noise = rng.random((h, w)).astype(np.float32)
        heatmap = {
            "smooth": cv2.GaussianBlur(noise, (3, 3), 1),
            "noise": noise,  # many components, holes inside holes, diagonal touches
            "few levels": np.floor(noise * 3),  # plateaus: ties of level
        }[kind]
        heatmap = normalize_heatmaps(heatmap, "minmax")
        thresholds = CAM_THRESHOLDS.astype(np.float32)
        levels = np.searchsorted(thresholds, heatmap, side="right")[None]
        boxes, index, slot = sweep_contour_boxes(levels, len(thresholds))
        assert (index == 0).all()
        for k, t in enumerate(thresholds):
            found = sorted(map(tuple, boxes[slot == k].tolist()))
            assert found == _findcontours_boxes(heatmap >= t)


def test_sweep_contour_boxes_hand_cases():
    ring = np.ones((5, 5), dtype=int)
    ring[2, 2] = 0  # one hole: its border box is the hole grown by one pixel
    diagonal = np.eye(4, dtype=int)  # one 8-connected component
    checker = np.indices((4, 4)).sum(axis=0) % 2  # 8 ones touching diagonally: one component, holes
    for binary in (ring, diagonal, checker):
        boxes, _, _ = sweep_contour_boxes(binary[None], 1)
        assert sorted(map(tuple, boxes.tolist())) == _findcontours_boxes(binary)
    boxes, _, _ = sweep_contour_boxes(ring[None], 1)
    assert sorted(map(tuple, boxes.tolist())) == [(0, 0, 5, 5), (1, 1, 4, 4)]
    # two maps at once, three thresholds: level 2 reaches thresholds 0 and 1
    levels = np.array([[[0, 2, 0], [0, 0, 0]], [[3, 3, 3], [3, 0, 3]]])
    boxes, index, slot = sweep_contour_boxes(levels, 3)
    found = sorted(zip(index.tolist(), slot.tolist(), map(tuple, boxes.tolist())))
    assert all(len(x) == 0 for x in sweep_contour_boxes(np.zeros((0, 3, 3), dtype=int), 5))
    assert best_box_iou([np.ones((3, 3))], _gt([[0, 0, 1, 1]]), []).shape == (1, 0)
    u_shape = (0, 0, 3, 2)
    assert found == [
        (0, 0, (1, 0, 2, 1)),
        (0, 1, (1, 0, 2, 1)),
        (1, 0, u_shape),
        (1, 1, u_shape),
        (1, 2, u_shape),
    ]


def test_sweep_contour_boxes_many_contours_and_bad_levels():
    # more contours than the first output buffer holds (4 per map and threshold): it grows
    binary = (np.random.default_rng(3).random((40, 40)) < 0.5).astype(int)
    boxes, _, _ = sweep_contour_boxes(binary[None], 1)
    assert len(boxes) > 4 and sorted(map(tuple, boxes.tolist())) == _findcontours_boxes(binary)
    with pytest.raises(ValueError, match="0..2"):
        sweep_contour_boxes(np.full((1, 2, 2), 3), 2)
    with pytest.raises(ValueError, match=r"\(n, h, w\)"):
        sweep_contour_boxes(np.zeros((2, 2), dtype=int), 2)


def test_compiled_iou_equals_box_iou():
    rng = np.random.default_rng(5)
    # XYXY boxes with x0 <= x1, y0 <= y1: corners sorted coordinate by coordinate
    a = np.sort(rng.integers(0, 12, (500, 2, 2)), axis=1).reshape(-1, 4).astype(float)
    b = np.sort(rng.uniform(-1, 12, (500, 2, 2)), axis=1).reshape(-1, 4)
    a[:50, 2] = a[:50, 0]  # empty boxes: IoU 0
    a[50:60] = b[50:60] = [1, 2, 5, 7]  # equal boxes: IoU 1
    expected = box_iou(a, b)
    compiled = np.array([_box_iou(*x, *y) for x, y in zip(a, b)])
    assert (expected[:50] == 0).all() and (expected[50:60] == 1).all()
    np.testing.assert_array_equal(compiled, expected)  # bit for bit


def test_best_contour_iou_equals_the_best_of_the_contour_boxes():
    rng = np.random.default_rng(6)
    levels = rng.integers(0, 6, (7, 9, 11))
    levels[2] = 0  # nothing above any threshold: 0
    gt_count = np.array([1, 2, 1, 0, 3, 1, 2])  # map 3 has no GT box: 0
    gt_first = np.cumsum(gt_count) - gt_count
    gt_boxes = np.sort(rng.uniform(0, 11, (gt_count.sum(), 2, 2)), axis=1).reshape(-1, 4)
    best = best_contour_iou(levels, 5, gt_boxes, gt_first, gt_count)
    boxes, index, slot = sweep_contour_boxes(levels, 5)
    expected = np.zeros((7, 5))
    for box, m, k in zip(boxes.astype(float), index, slot):
        mine = gt_boxes[gt_first[m] : gt_first[m] + gt_count[m]]
        expected[m, k] = max(expected[m, k], box_iou(box, mine).max(initial=0))
    assert expected[[0, 1, 4, 5, 6]].min(axis=1).max() > 0 and not expected[[2, 3]].any()
    np.testing.assert_array_equal(best, expected)
    with pytest.raises(ValueError, match="each of the 7 maps"):
        best_contour_iou(levels, 5, gt_boxes, gt_first[:-1], gt_count)
    with pytest.raises(ValueError, match="0..4"):
        best_contour_iou(levels, 4, gt_boxes, gt_first, gt_count)


def test_maxboxacc_and_pxap_threshold_the_maps_alike():
    # float32(0.06) lies below 0.06: no metric counts it as reaching threshold 0.06 (earlier versions of
    # MaxBoxAccV2 compared with float32(0.06) and did)
    value = np.float32(0.06)
    assert float(value) < 0.06
    heatmap = np.array([[0.0, value], [0.0, 1.0]], dtype=np.float32)
    k = int(np.flatnonzero(CAM_THRESHOLDS == 0.06)[0])
    iou = best_box_iou([heatmap], _gt([[1, 1, 2, 2]]))[0]
    assert iou[k - 1] == 0.5 and iou[k] == 1.0  # the box around both pixels, then the top pixel alone
    predicted = pixel_counts([heatmap], [heatmap > 0.5]).predicted[0]
    assert predicted[k - 1] == 2 and predicted[k] == 1


def test_suite_threshold_sweep_equals_each_metric_alone():
    rng = np.random.default_rng(4)
    maps = [cv2.GaussianBlur(rng.random((12, 10)).astype(np.float32), (3, 3), 1) for _ in range(5)]
    maps.append(rng.random((6, 6)).astype(np.float32))  # another shape: another chunk
    gt = _gt(*([[1, 2, 6, 8]] if i % 2 else [[0, 0, 4, 4], [5, 5, 9, 11]] for i in range(5)), [[1, 1, 3, 3]])
    masks = masks_from_boxes(gt, [m.shape for m in maps])
    samples = HeatmapSamples(np.arange(6), np.zeros(6, int), maps, gt, gt, masks)
    best, counts = _threshold_sweep(samples)
    np.testing.assert_array_equal(best, best_box_iou(maps, gt))
    alone = pixel_counts(maps, masks)
    for field in ("overlap", "predicted", "positive", "total"):
        np.testing.assert_array_equal(getattr(counts, field), getattr(alone, field))
    assert pixel_scores(counts, 0.5) == pixel_scores(pixel_counts(maps, masks, [0.5]), 0.5)


def test_maxboxacc_perfect_worst_and_hand_case():
    shape = (16, 16)
    perfect = _indicator(shape, [2, 2, 8, 8])
    assert max_box_acc(best_box_iou([perfect], _gt([[2, 2, 8, 8]])))["maxboxaccv2"] == 1.0
    far = _indicator(shape, [12, 12, 16, 16])
    worst = best_box_iou([far], _gt([[0, 0, 4, 4]]))
    assert worst.max() == pytest.approx(16 / 256)  # only threshold 0 (the whole map) overlaps
    assert max_box_acc(worst)["maxboxaccv2"] == 0.0
    # IoU 0.5 at every threshold: counted at deltas 0.3 and 0.5 (>=), not at 0.7
    half = best_box_iou([_indicator(shape, [0, 0, 8, 8]), perfect], _gt([[0, 0, 8, 16]], [[2, 2, 8, 8]]))
    result = max_box_acc(half)
    np.testing.assert_allclose(result["maxboxacc"], [1.0, 1.0, 0.5])
    assert result["maxboxaccv2"] == pytest.approx(2.5 / 3)
    assert result["best_threshold"][0] == 0.01  # the first threshold reaching it (0: whole-map box)


def test_maxboxacc_uses_all_contours_and_constant_maps():
    shape = (20, 20)
    two_blobs = _indicator(shape, [1, 1, 5, 5], [12, 12, 18, 18])
    assert best_box_iou([two_blobs], _gt([[12, 12, 18, 18]])).max() == 1.0  # not one box around both
    flat = np.full(shape, 0.3, dtype=np.float32)
    iou = best_box_iou([flat], _gt([[0, 0, 20, 10]]))
    assert iou[0, 0] == pytest.approx(0.5) and (iou[0, 1:] == 0).all()
    empty = max_box_acc(np.zeros((0, len(CAM_THRESHOLDS))))
    assert np.isnan(empty["maxboxaccv2"])


def test_pxap_hand_values():
    heatmap = np.array([[1.0, 0.6, 0.3, 0.0]], dtype=np.float32)
    mask = np.array([[1, 0, 1, 0]], dtype=bool)
    assert pxap(pixel_counts([heatmap], [mask])) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert pxap(pixel_counts([mask.astype(np.float32)], [mask])) == pytest.approx(1.0)
    constant = np.zeros((1, 4), dtype=np.float32)  # all pixels predicted only at threshold 0
    assert pxap(pixel_counts([constant], [mask])) == pytest.approx(0.5)


def test_iop_fpr_fnr_and_threshold_chosen_on_validation():
    heatmap = np.array([[1.0, 0.6, 0.3, 0.0]], dtype=np.float32)
    test_mask = np.array([[1, 0, 1, 0]], dtype=bool)
    scores = pixel_scores(pixel_counts([heatmap], [test_mask], [0.5]), 0.5)
    assert scores == {"threshold": 0.5, "iop": 0.5, "fpr": 0.5, "fnr": 0.5}
    val_mask = np.array([[1, 1, 0, 0]], dtype=bool)  # perfectly separated at any t in (0.3, 0.6]
    chosen = choose_pixel_threshold(pixel_counts([heatmap], [val_mask]))
    assert chosen == pytest.approx(0.31)
    on_test = pixel_scores(pixel_counts([heatmap], [test_mask]), chosen)
    assert on_test["iop"] == 0.5 and on_test["fpr"] == 0.5 and on_test["fnr"] == 0.5
    with pytest.raises(ValueError):
        pixel_scores(pixel_counts([heatmap], [test_mask], [0.5]), 0.4)
    nothing = pixel_scores(pixel_counts([np.zeros((2, 2), np.float32)], [np.ones((2, 2), bool)], [0.5]), 0.5)
    assert nothing["iop"] == 0.0 and nothing["fnr"] == 1.0 and np.isnan(nothing["fpr"])


def test_pointing_game_tolerance():
    gt = _gt([[10, 10, 20, 20]], [[10, 10, 20, 20]], [[10, 10, 20, 20]], [[0, 0, 1, 1], [40, 40, 50, 50]])
    points = np.array([[15, 15], [34, 15], [36, 15], [45, 30]], dtype=float)
    np.testing.assert_array_equal(pointing_hits(points, gt), [True, True, False, True])  # 10 px from box 2
    np.testing.assert_array_equal(pointing_hits(points, gt, tolerance=0), [True, False, False, False])


def test_stl_localization_ap_hand_value():
    gt = BoxTable([0, 1, 3], [[0, 0, 10, 10]] * 3, [0, 0, 0], np.ones(3))
    values = np.array([0.9, 0.8, 0.7, 0.6])  # image 2 is normal
    points = np.array([[5, 5], [100, 100], [5, 5], [20, 5]], dtype=float)  # image 3: 10 px away, < 16
    # ranking: TP, FP (peak outside), FP (normal), TP -> AP = (1 + 2/4) / 3
    assert stl_localization_ap(values, points, gt) == pytest.approx(0.5)
    assert np.isnan(stl_localization_ap(values, points, BoxTable.from_per_image([], [])))


def test_masks_from_boxes_and_segmentations():
    mask = boxes_to_mask(np.array([[1, 1, 3, 3]]), (4, 4))
    assert mask.sum() == 4 and mask[1:3, 1:3].all()
    assert boxes_to_mask(np.array([[1.2, 1.2, 1.4, 1.4]]), (4, 4))[1, 1]  # smaller than a pixel
    assert boxes_to_mask(np.zeros((0, 4)), (2, 3)).shape == (2, 3)
    masks = masks_from_boxes(_gt([[0, 0, 2, 2]], []), [(4, 4), (3, 3)])
    assert masks[0].sum() == 4 and masks[1].sum() == 0
    polygon = segmentation_to_mask([[0, 0, 20, 0, 20, 20, 0, 20]], (40, 40), (4, 4))
    assert polygon.sum() == 4 and polygon[:2, :2].all()
    full = np.zeros((40, 40), dtype=np.uint8, order="F")
    full[20:, :20] = 1
    rle = segmentation_to_mask(mask_utils.encode(full), (40, 40), (4, 4))
    assert rle.sum() == 4 and rle[2:, :2].all()


def test_minmax_normalize_each_map_of_a_stack():
    maps = np.array([[[1, 3], [5, 5]], [[2, 2], [2, 2]], [[-1, 0], [0, 1]]], dtype=np.float16)
    expected = [[[0, 0.5], [1, 1]], [[0, 0], [0, 0]], [[0, 0.5], [0.5, 1]]]
    normalized = normalize_heatmaps(maps, "minmax")
    assert normalized.dtype == np.float32
    np.testing.assert_array_equal(normalized, expected)
    np.testing.assert_array_equal(normalize_heatmaps(maps[0], "minmax"), expected[0])
    assert not normalize_heatmaps(np.array([[np.nan, 1.0]]), "minmax").any()  # NaN: as a constant map


@pytest.mark.parametrize(
    "thresholds",
    [
        CAM_THRESHOLDS,
        [0.5],
        [0.2, 0.2, 0.7],
        [0.0, 1e-9, 2e-9, 3e-9, 1.0],  # several in one bin
        [-np.inf, 0.0, np.inf],  # an unbounded span
        np.sort(np.random.default_rng(0).normal(0, 10, 50)),
    ],
)
def test_threshold_levels_equal_searchsorted(thresholds):
    thresholds = np.asarray(thresholds, dtype=np.float32)
    values = np.random.default_rng(1).normal(0.5, 2, 5000)
    special = [np.inf, -np.inf, 0.0, -0.0, 3.4e38, -3.4e38]
    values = np.concatenate(
        [values, thresholds, np.nextafter(thresholds, 2), np.nextafter(thresholds, -2), special]
    )
    values = values.astype(np.float32)
    np.testing.assert_array_equal(
        threshold_levels(values, thresholds), np.searchsorted(thresholds, values, side="right")
    )
    assert threshold_levels(np.array([np.nan], dtype=np.float32), thresholds)[0] == 0  # NaN reaches none
    assert threshold_levels(values, np.zeros(0, dtype=np.float32)).max() == 0


def test_masks_of_samples_of_two_shapes():
    gt = _gt([[0, 0, 2, 1], [1, 1, 3, 3]], [], [[0.2, 0.2, 0.4, 0.4]], [[4, 0, 6, 1]])
    masks = masks_from_boxes(gt, [(3, 3), (2, 2), (3, 3), (2, 6)])
    np.testing.assert_array_equal(masks[0], [[1, 1, 0], [0, 1, 1], [0, 1, 1]])
    assert masks[1].shape == (2, 2) and not masks[1].any()
    np.testing.assert_array_equal(
        masks[2], [[1, 0, 0], [0, 0, 0], [0, 0, 0]]
    )  # a sub-pixel box: its centre pixel
    np.testing.assert_array_equal(masks[3], [[0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0]])
