"""Ground truth and detections from COCO JSON files and Detectron2 dataset dicts."""

import json

import numpy as np
import pytest
from detectron2.structures import BoxMode

from wsdet.evaluation.corloc import corloc_outcomes
from wsdet.evaluation.gt_io import detections_from_coco_results, gt_from_coco_json, gt_from_dataset_dicts

COCO = {
    "categories": [{"id": 7, "name": "malignant"}, {"id": 3, "name": "benign"}],
    "images": [
        {"id": 10, "height": 50, "width": 60, "pos_category_ids": [3]},
        {"id": 11, "height": 50, "width": 60, "pos_category_ids": []},
        {"id": 12, "height": 50, "width": 60},
    ],
    "annotations": [
        {"id": 1, "image_id": 10, "category_id": 3, "bbox": [5, 5, 10, 10], "iscrowd": 0},
        {"id": 2, "image_id": 12, "category_id": 7, "bbox": [0, 0, 20, 20], "iscrowd": 0},
        {"id": 3, "image_id": 12, "category_id": 3, "bbox": [30, 30, 5, 5], "iscrowd": 1},
    ],
}
RESULTS = [
    {"image_id": 10, "category_id": 3, "bbox": [5, 5, 10, 10], "score": 0.9},
    {"image_id": 12, "category_id": 7, "bbox": [30, 30, 10, 10], "score": 0.8},
    {"image_id": 99, "category_id": 7, "bbox": [0, 0, 1, 1], "score": 0.8},
]


def test_coco_json_round_trip(tmp_path):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(COCO))
    gt, names, to_contiguous = gt_from_coco_json(str(path))
    assert names == ["benign", "malignant"] and to_contiguous == {3: 0, 7: 1}
    assert gt.image_ids == [10, 11, 12]
    np.testing.assert_array_equal(gt.labels, [[1, 0], [0, 0], [1, 1]])  # image 12: derived, crowd too
    np.testing.assert_allclose(gt.boxes.boxes, [[5, 5, 15, 15], [0, 0, 20, 20]])  # crowd box left out
    np.testing.assert_array_equal(gt.normal, [False, True, False])
    assert gt.box_evaluable().all()
    dets = detections_from_coco_results(RESULTS, gt, to_contiguous)
    np.testing.assert_array_equal(dets.image, [0, 2])
    correct, has_gt = corloc_outcomes(gt.boxes, dets, 3, 2)
    np.testing.assert_array_equal(correct[has_gt], [True, False])


def test_dataset_dicts_and_select():
    dicts = [
        {
            "image_id": "a",
            "height": 10,
            "width": 10,
            "image_labels": [1],
            "annotations": [{"bbox": [1, 1, 4, 4], "bbox_mode": BoxMode.XYXY_ABS, "category_id": 1}],
        },
        {"image_id": "b", "height": 10, "width": 10, "image_labels": [0]},  # weak, no annotations
        {"image_id": "c", "height": 10, "width": 10, "image_labels": [0], "annotations": []},
        {
            "image_id": "d",
            "height": 10,
            "width": 10,
            "image_labels": [],
            "annotations": [{"bbox": [2, 2, 3, 3], "bbox_mode": BoxMode.XYWH_ABS, "category_id": 0}],
        },
    ]
    gt = gt_from_dataset_dicts(dicts, 2)
    np.testing.assert_array_equal(gt.annotated, [True, False, True, True])
    np.testing.assert_array_equal(gt.box_evaluable(), [True, False, False, True])
    np.testing.assert_array_equal(gt.normal, [False, False, False, False])  # "d" has a box
    np.testing.assert_allclose(gt.boxes.boxes, [[1, 1, 4, 4], [2, 2, 5, 5]])
    sub = gt.select(np.array([3, 0]))
    assert sub.image_ids == ["d", "a"]
    np.testing.assert_array_equal(sub.boxes.image, [1, 0])
    np.testing.assert_array_equal(sub.labels, [[0, 0], [0, 1]])  # given labels win over the boxes
    assert sub.segmentations == [None, None]
    with pytest.raises(KeyError):
        detections_from_coco_results(
            [{"image_id": "a", "category_id": 5, "bbox": [0, 0, 1, 1], "score": 1}], gt, {}
        )
