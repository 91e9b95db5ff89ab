"""The training/inference mapper: image labels, instances only for strong images, consistent boxes."""
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.data import transforms as T

from wsdet import add_wsdet_config
from wsdet.data import WSDetDatasetMapper, image_labels_to_multi_hot, load_wsdet_coco_json


def _mapper(is_train, augmentations=()):
    return WSDetDatasetMapper(
        is_train, augmentations=list(augmentations), image_format="BGR", num_classes=2
    )


def test_multi_hot():
    assert image_labels_to_multi_hot([], 3).tolist() == [0.0, 0.0, 0.0]
    assert image_labels_to_multi_hot([0, 2], 3).tolist() == [1.0, 0.0, 1.0]


def test_strong_image_gets_instances_and_labels(tiny_coco):
    json_file, root, _ = tiny_coco(strong=True)
    dicts = load_wsdet_coco_json(json_file, root)
    out = _mapper(True)(dicts[2])
    assert out["image"].shape == (3, 64, 80) and out["image"].dtype == torch.uint8
    assert out["image_labels"].tolist() == [0.0, 1.0]
    assert out["supervision"] == "strong"
    assert out["instances"].gt_classes.tolist() == [1]
    assert out["instances"].gt_boxes.tensor.tolist() == [[10.0, 12.0, 30.0, 28.0]]
    assert "annotations" not in out
    assert "annotations" in dicts[2]  # the dataset dict itself is not modified


def test_normal_strong_image_gets_empty_instances(tiny_coco):
    json_file, root, _ = tiny_coco(strong=True)
    out = _mapper(True)(load_wsdet_coco_json(json_file, root)[0])
    assert len(out["instances"]) == 0 and out["image_labels"].sum() == 0


def test_weak_image_gets_labels_but_never_instances(tiny_coco):
    json_file, root, _ = tiny_coco(strong=True)
    dicts = load_wsdet_coco_json(json_file, root, supervision="weak")  # has boxes, used as weak
    out = _mapper(True)(dicts[1])
    assert "instances" not in out and "annotations" not in out
    assert out["image_labels"].tolist() == [1.0, 0.0]


def test_inference_drops_annotations(tiny_coco):
    json_file, root, _ = tiny_coco(strong=True)
    out = _mapper(False)(load_wsdet_coco_json(json_file, root)[1])
    assert "instances" not in out and out["height"] == 64 and out["width"] == 80


def test_flip_and_resize_keep_boxes_on_the_lesion(tiny_coco):
    json_file, root, _ = tiny_coco(strong=True)
    record = load_wsdet_coco_json(json_file, root)[1]
    augs = [T.ResizeShortestEdge(128, 1000), T.RandomFlip(prob=1.0, horizontal=True)]
    out = _mapper(True, augs)(record)
    assert out["image"].shape == (3, 128, 160)
    # 80 px wide image, box x in [10, 30] -> flipped [50, 70] -> x2 scale [100, 140]
    assert out["instances"].gt_boxes.tensor.tolist() == [[100.0, 24.0, 140.0, 56.0]]


def test_from_config():
    cfg = get_cfg()
    add_wsdet_config(cfg)
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 4
    cfg.WSDET.DICOM.WINDOW = [40.0, 400.0]
    mapper = WSDetDatasetMapper(cfg, is_train=True)
    assert mapper.num_classes == 4 and mapper.read_options.dicom_window == (40.0, 400.0)


def test_image_size_mismatch_is_reported(tiny_coco):
    json_file, root, _ = tiny_coco(strong=True)
    record = load_wsdet_coco_json(json_file, root)[0]
    record["height"] = 65
    with pytest.raises(Exception, match="Mismatched image shape"):
        _mapper(True)(record)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("FRAME", -1, "WSDET.DICOM.FRAME is -1; it must be >= 0"),
        ("WINDOW", [40.0, -400.0], r"WSDET.DICOM.WINDOW: a window is \(center, width\) with width > 0"),
    ],
)
def test_bad_dicom_options_refused_when_the_mapper_is_built(key, value, message):
    cfg = get_cfg()
    add_wsdet_config(cfg)
    setattr(cfg.WSDET.DICOM, key, value)
    with pytest.raises(ValueError, match=message):
        WSDetDatasetMapper(cfg, is_train=True)


def test_background_boxes_follow_the_transforms_of_strong_images(tiny_coco):
    def add(coco):
        coco["images"][2]["background_boxes"] = [[0, 0, 40, 64]]
        coco["images"][1]["background_boxes"] = [[0, 0, 40, 64]]

    json_file, root, _ = tiny_coco(strong=True, mutate=add)
    dicts = load_wsdet_coco_json(json_file, root)
    # horizontal flip of the 80 px wide image, then x0.5: [0, 0, 40, 64] -> [40, 0, 80, 64] -> [20, 0, 40, 32]
    mapper = _mapper(True, [T.HFlipTransform(80), T.ResizeTransform(64, 80, 32, 40)])
    out = mapper(dicts[2])
    assert out["background_boxes"].tensor.tolist() == [[20.0, 0.0, 40.0, 32.0]]
    assert "background_boxes" not in _mapper(False)(dicts[2])  # inference: not used
    weak = load_wsdet_coco_json(json_file, root, supervision="weak")
    assert "background_boxes" not in mapper(weak[1])
