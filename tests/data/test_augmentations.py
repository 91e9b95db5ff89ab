"""The official training augmentations of Shin et al.: which images get which, and boxes that follow."""
import numpy as np
import pytest
import torch
from detectron2.data import transforms as T
from detectron2.structures import BoxMode

from conftest import CONFIGS, write_image
from wsdet.data import WSDetDatasetMapper
from wsdet.data.augmentations import BrightnessShift, RandomBrightnessShift, build_training_augmentations
from wsdet.engine.defaults import build_config

PAPER_AUGMENT = ["WSDET.AUGMENT.ROTATION", "5.0", "WSDET.AUGMENT.CROP", "0.05", "WSDET.AUGMENT.BRIGHTNESS", "0.2",
                 "WSDET.AUGMENT.CONTRAST", "(0.2, 1.8)"]


def _names(augs):
    return [type(a).__name__ for a in augs]


def test_off_by_default_and_official_values():
    cfg = build_config(f"{CONFIGS}/bus_joint.yaml")
    base = [T.ResizeShortestEdge((256,), 256, sample_style="choice"), T.RandomFlip()]
    strong, weak = build_training_augmentations(cfg, base)
    assert strong == weak == base
    strong, weak = build_training_augmentations(build_config(f"{CONFIGS}/bus_joint.yaml", PAPER_AUGMENT), base)
    assert _names(weak) == ["RandomRotation", "RandomCrop", "ResizeShortestEdge", "RandomFlip",
                            "RandomBrightnessShift", "RandomContrast"]
    assert _names(strong) == ["ResizeShortestEdge", "RandomFlip", "RandomBrightnessShift", "RandomContrast"]
    rotation, crop = weak[:2]
    assert list(rotation.angle) == [-5.0, 5.0] and crop.crop_type == "relative_range"
    assert tuple(crop.crop_size) == (0.95, 0.95)
    every = build_config(f"{CONFIGS}/bus_joint.yaml", [*PAPER_AUGMENT, "WSDET.AUGMENT.GEOMETRIC_ON", "all"])
    assert _names(build_training_augmentations(every, base)[0])[:2] == ["RandomRotation", "RandomCrop"]


@pytest.mark.parametrize(
    "opts, message",
    [
        (["WSDET.AUGMENT.GEOMETRIC_ON", "strong"], "GEOMETRIC_ON must be one of"),
        (["WSDET.AUGMENT.CROP", "1.0"], r"CROP \(1.0\) in \[0, 1\)"),
        (["WSDET.AUGMENT.CONTRAST", "(1.8, 0.2)"], "CONTRAST must be"),
    ],
)
def test_bad_values_name_the_key(opts, message):
    with pytest.raises(ValueError, match=message):
        build_training_augmentations(build_config(f"{CONFIGS}/bus_joint.yaml", opts), [])


def test_brightness_shift_adds_a_fraction_of_255():
    image = np.array([[0, 100, 250]], dtype=np.uint8)
    assert BrightnessShift(0.2).apply_image(image).tolist() == [[51, 151, 255]]  # 0.2 x 255 = 51, clipped
    assert BrightnessShift(-0.2).apply_image(image).tolist() == [[0, 49, 199]]
    boxes = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert np.array_equal(BrightnessShift(0.2).apply_box(boxes), boxes)
    np.random.seed(0)
    deltas = [RandomBrightnessShift(0.2).get_transform(image).delta for _ in range(200)]
    assert -0.2 <= min(deltas) < -0.15 and 0.15 < max(deltas) <= 0.2


def _record(tmp_path, supervision):
    path = str(tmp_path / f"{supervision}.png")
    write_image(path, height=100, width=100, value=90)
    record = {"file_name": path, "height": 100, "width": 100, "image_id": 1, "supervision": supervision,
              "image_labels": [1]}
    if supervision == "strong":
        record["annotations"] = [{"bbox": [10.0, 20.0, 30.0, 40.0], "bbox_mode": BoxMode.XYXY_ABS,
                                  "category_id": 1, "iscrowd": 0}]
    return record


def test_boxes_of_strong_images_follow_rotation_and_crop(tmp_path):
    # a 90 degree rotation about the centre (50, 50) maps (x, y) to (y, 100 - x): the corners of
    # [10, 20, 30, 40] go to x in {20, 40}, y in {90, 70}; then a crop at (5, 3) shifts by (-5, -3)
    mapper = WSDetDatasetMapper(
        is_train=True, augmentations=[T.RandomRotation([90, 90], expand=False), T.CropTransform(5, 3, 90, 95)],
        image_format="BGR", num_classes=2, weak_augmentations=[],
    )
    out = mapper(_record(tmp_path, "strong"))
    assert out["image"].shape == (3, 95, 90)
    assert torch.allclose(out["instances"].gt_boxes.tensor, torch.tensor([[15.0, 67.0, 35.0, 87.0]]))
    weak = mapper(_record(tmp_path, "weak"))  # the weak images' own list: nothing here
    assert weak["image"].shape == (3, 100, 100) and "instances" not in weak
