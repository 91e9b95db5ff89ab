"""build_wsdet_train_loader: combined batches from registered strong + weak datasets, config errors."""
import json

import pytest
from detectron2.config import get_cfg

from conftest import unique_name
from wsdet import add_wsdet_config
from wsdet.data import build_wsdet_train_loader, register_wsdet_coco


def _cfg(train, strong=2, weak=2, mode="combined"):
    cfg = get_cfg()
    add_wsdet_config(cfg)
    cfg.DATASETS.TRAIN = tuple(train)
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 2
    cfg.DATALOADER.NUM_WORKERS = 0
    cfg.INPUT.MIN_SIZE_TRAIN = (64,)
    cfg.SEED = 0
    cfg.WSDET.DATALOADER.STRONG_IMS_PER_BATCH = strong
    cfg.WSDET.DATALOADER.WEAK_IMS_PER_BATCH = weak
    cfg.WSDET.DATALOADER.MODE = mode
    return cfg


@pytest.fixture
def strong_and_weak(tmp_path, tiny_coco):
    strong_json, root, _ = tiny_coco(strong=True, num_images=4)
    weak_json, _, _ = tiny_coco(strong=False, num_images=6)
    names = unique_name("s"), unique_name("w")
    register_wsdet_coco(names[0], strong_json, root)
    register_wsdet_coco(names[1], weak_json, root)
    return names


def test_combined_loader_batches(strong_and_weak):
    loader = build_wsdet_train_loader(_cfg(strong_and_weak, strong=1, weak=3))
    for _, batch in zip(range(3), loader):
        assert [d["supervision"] for d in batch] == ["strong", "weak", "weak", "weak"]
        assert "instances" in batch[0] and all("instances" not in d for d in batch[1:])


def test_alternating_loader_batches(strong_and_weak):
    loader = build_wsdet_train_loader(_cfg(strong_and_weak, strong=2, weak=3, mode="alternating_batches"))
    kinds = [tuple(d["supervision"] for d in batch) for _, batch in zip(range(4), loader)]
    assert kinds == [("strong",) * 2, ("weak",) * 3] * 2


def test_weak_dataset_but_no_weak_images_per_step(strong_and_weak):
    with pytest.raises(ValueError, match="WEAK_IMS_PER_BATCH is 0"):
        build_wsdet_train_loader(_cfg(strong_and_weak, weak=0))


def test_num_classes_must_match(strong_and_weak):
    cfg = _cfg(strong_and_weak)
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 3
    with pytest.raises(ValueError, match="NUM_CLASSES is 3 but the training datasets have 2"):
        build_wsdet_train_loader(cfg)


def test_strong_and_weak_with_different_categories(tmp_path, strong_and_weak, tiny_coco):
    weak_json, root, coco = tiny_coco(strong=False)
    coco["categories"] = [{"id": 1, "name": "benign"}, {"id": 2, "name": "cancer"}]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(coco))
    name = unique_name("other")
    register_wsdet_coco(name, str(other), root)
    with pytest.raises(ValueError, match="different category lists"):
        build_wsdet_train_loader(_cfg([strong_and_weak[0], name]))
