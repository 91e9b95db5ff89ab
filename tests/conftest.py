"""Shared fixtures: tiny COCO datasets with image-level labels written into a temporary folder."""
import itertools
import json
import os

import cv2
import numpy as np
import pytest

CATEGORIES = [{"id": 1, "name": "benign"}, {"id": 2, "name": "malignant"}]
_unique = itertools.count()


def unique_name(prefix: str) -> str:
    """A dataset name not used by any other test (Detectron2's catalogs are global)."""
    return f"{prefix}_{next(_unique)}_{os.getpid()}"


def write_image(path: str, height: int = 64, width: int = 80, value: int = 0) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = np.full((height, width), value, dtype=np.uint8)
    cv2.imwrite(path, image)


def make_coco(image_root: str, *, strong: bool, num_images: int = 4) -> dict:
    """A valid COCO dict: images cycle through normal / benign / malignant (boxes when strong)."""
    images, annotations = [], []
    for i in range(num_images):
        file_name = f"img_{i}.png"
        write_image(os.path.join(image_root, file_name), value=10 * i)
        label = i % 3  # 0 normal, 1 benign, 2 malignant
        images.append(
            {"id": i + 1, "file_name": file_name, "height": 64, "width": 80,
             "pos_category_ids": [label] if label else []}
        )
        if strong and label:
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i + 1, "category_id": label,
                 "bbox": [10.0, 12.0, 20.0, 16.0], "area": 320.0, "iscrowd": 0}
            )
    coco = {"images": images, "categories": [dict(c) for c in CATEGORIES]}
    coco["annotations"] = annotations
    return coco


def dump(coco: dict, path: str) -> str:
    with open(path, "w") as f:
        json.dump(coco, f)
    return path


@pytest.fixture
def tiny_coco(tmp_path):
    """Factory: ``tiny_coco(strong=True)`` -> (json_file, image_root, coco dict)."""

    def factory(strong: bool = True, num_images: int = 4, mutate=None):
        root = str(tmp_path / "images")
        coco = make_coco(root, strong=strong, num_images=num_images)
        if mutate is not None:
            mutate(coco)
        name = "strong.json" if strong else "weak.json"
        return dump(coco, str(tmp_path / name)), root, coco

    return factory
