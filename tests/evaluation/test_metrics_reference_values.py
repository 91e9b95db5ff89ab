"""Metrics pinned to the values the previous per-map / per-sample implementations (commit a6f6c96)
produced on seeded random inputs; the vectorized code reproduces them bit for bit."""

import cv2
import numpy as np
import pytest

from wsdet.evaluation import corloc_report, froc
from wsdet.evaluation.heatmap_ops import masks_from_boxes
from wsdet.evaluation.maxboxacc import best_box_iou, max_box_acc
from wsdet.evaluation.pixel_metrics import choose_pixel_threshold, pixel_counts, pixel_scores, pxap
from wsdet.evaluation.tables import BoxTable


def _maps_and_boxes():
    """24 maps of two shapes (smooth, noisy, few-level, constant or float16) and 0-2 GT boxes each."""
    rng = np.random.default_rng(0)
    maps = []
    for i in range(24):
        shape = (20, 28) if i % 2 else (31, 17)
        noise = rng.random(shape).astype(np.float32)
        kind = i % 4
        if kind == 0:
            maps.append(cv2.GaussianBlur(noise, (5, 5), 2))
        elif kind == 1:
            maps.append(noise)
        elif kind == 2:
            maps.append(np.floor(noise * 4))
        else:
            maps.append(np.full(shape, 0.5, dtype=np.float32) if i % 8 == 3 else noise.astype(np.float16))
    image = np.repeat(np.arange(24), rng.integers(0, 3, 24))
    xy = rng.uniform(0, 16, (len(image), 2))
    boxes = np.hstack([xy, xy + rng.uniform(2, 14, (len(image), 2))])
    return maps, BoxTable(image, boxes, np.zeros(len(image)), np.ones(len(image)))


def _detections(num_images=40):
    """GT boxes on about 3/4 of the images, 0-12 detections per image (some near a GT box), tied scores."""
    rng = np.random.default_rng(1)
    count = np.where(rng.random(num_images) < 0.75, rng.integers(1, 3, num_images), 0)
    gt_image = np.repeat(np.arange(num_images), count)
    xy = rng.uniform(0, 60, (len(gt_image), 2))
    gt_boxes = np.hstack([xy, xy + rng.uniform(8, 30, (len(gt_image), 2))])
    gt_classes = rng.integers(0, 2, len(gt_image))
    n = int(rng.integers(0, 13, num_images).sum())
    image = rng.integers(0, num_images, n)
    xy = rng.uniform(0, 60, (n, 2))
    boxes = np.hstack([xy, xy + rng.uniform(8, 30, (n, 2))])
    near = rng.random(n) < 0.3
    source = rng.integers(0, len(gt_image), n)
    image[near] = gt_image[source[near]]
    boxes[near] = gt_boxes[source[near]] + rng.normal(0, 2, (near.sum(), 4))
    gt = BoxTable(gt_image, gt_boxes, gt_classes, np.ones(len(gt_image)))
    return gt, BoxTable(image, boxes, rng.integers(0, 2, n), np.round(rng.random(n), 2))


def test_maxboxacc_reference_values():
    maps, gt = _maps_and_boxes()
    best = best_box_iou(maps, gt)
    per_map = [0.0, 0.0, 0.0, 0.05665081964033717, 0.2984876855065404, 0.0, 0.0, 0.43589614473722266]
    per_map += [0.4978516789359653, 0.0, 0.0, 0.08199402395342385, 0.5701895381208233, 0.480098115480715]
    per_map += [0.0, 0.0, 0.0, 0.40421813059986167, 0.26776857271348875, 0.057004402284060285, 0.0]
    per_map += [0.5095793321149688, 0.0, 0.5054402805127084]
    assert best.max(axis=1).tolist() == per_map
    assert best.sum(axis=0)[::10].tolist() == [
        1.4921124039110816,
        1.7492054159764319,
        2.188157081453544,
        2.3638902263388,
        2.261334575760072,
        1.8312275437511918,
        2.2772598896217655,
        1.899516884123151,
        1.1708308746840517,
        0.712373117357223,
    ]
    assert max_box_acc(best) == {
        "maxboxaccv2": 0.08333333333333333,
        "deltas": [0.3, 0.5, 0.7],
        "maxboxacc": [0.20833333333333334, 0.041666666666666664, 0.0],
        "best_threshold": [0.61, 0.34, 0.0],
    }


def test_pixel_metrics_reference_values():
    maps, gt = _maps_and_boxes()
    masks = masks_from_boxes(gt, [m.shape for m in maps])
    counts = pixel_counts(maps, masks)
    assert counts.predicted.sum(axis=0)[::10].tolist() == [
        13044,
        10054,
        9458,
        8733,
        6969,
        5740,
        4508,
        2714,
        1981,
        1336,
    ]
    assert counts.overlap.sum(axis=0)[::10].tolist() == [1023, 825, 746, 647, 512, 390, 298, 213, 141, 93]
    assert (counts.positive.sum(), counts.total.sum()) == (1023, 13044)
    assert pxap(counts) == 0.0722097660705934
    assert choose_pixel_threshold(counts) == 0.01
    assert pixel_scores(pixel_counts(maps, masks, [0.5]), 0.5) == {
        "threshold": 0.5,
        "iop": 0.060419123085621425,
        "fpr": 0.4450544879793694,
        "fnr": 0.6187683284457478,
    }
    raw = pixel_counts(maps, masks, [0.07, 0.5, 0.93], normalize=False)
    assert raw.predicted.sum(axis=0).tolist() == [11927, 8445, 2734]
    assert raw.overlap.sum(axis=0).tolist() == [956, 542, 116]


def test_corloc_reference_values():
    gt, dets = _detections()
    report = corloc_report(gt, dets, 40, ["a", "b"], n_resamples=500, seed=3)
    pinned = ("official", "top1", "fp_per_normal_image", "num_normal_images")
    assert {k: report[k] for k in pinned} == {
        "official": {
            "corloc": 0.2571428571428571,
            "ci95": [0.13193112467306023, 0.37330357142857135],
            "num_images": 29,
            "per_class": {
                "a": {
                    "corloc": 0.22727272727272727,
                    "ci95": [0.045454545454545456, 0.4090909090909091],
                    "num_images": 22,
                },
                "b": {
                    "corloc": 0.3076923076923077,
                    "ci95": [0.07692307692307693, 0.5384615384615384],
                    "num_images": 13,
                },
            },
        },
        "top1": {
            "corloc": 0.14285714285714285,
            "ci95": [0.03075284090909092, 0.2647058823529412],
            "num_images": 29,
            "per_class": {
                "a": {
                    "corloc": 0.18181818181818182,
                    "ci95": [0.045454545454545456, 0.36363636363636365],
                    "num_images": 22,
                },
                "b": {"corloc": 0.07692307692307693, "ci95": [0.0, 0.23076923076923078], "num_images": 13},
            },
        },
        "fp_per_normal_image": 1.8181818181818181,
        "num_normal_images": 11,
    }


@pytest.mark.parametrize(
    "options, sensitivity",
    [
        (
            {},
            [
                0.0,
                0.022222222222222223,
                0.044444444444444446,
                0.06666666666666667,
                0.13333333333333333,
                0.26666666666666666,
                0.4444444444444444,
            ],
        ),
        (
            {"criterion": "center", "class_aware": False},
            [
                0.044444444444444446,
                0.06666666666666667,
                0.15555555555555556,
                0.3111111111111111,
                0.5111111111111111,
                0.7777777777777778,
                0.8666666666666667,
            ],
        ),
    ],
)
def test_froc_reference_values(options, sensitivity):
    gt, dets = _detections()
    assert froc(gt, dets, 40, **options)["sensitivity"] == sensitivity
