"""Shared test helpers: paths, the instant-test options of configs/quick_schedules/, running
tools/train_net.py, and tiny COCO datasets with image-level labels written into a temporary folder."""
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import types
from typing import List, Sequence

import cv2
import numpy as np
import pytest
import yaml

from wsdet.warning_filters import filter_third_party_warnings


def pytest_configure(config):
    """The tools' warning filters (``import wsdet``), which pytest's per-test filters would drop."""
    filter_third_party_warnings()


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


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(REPO, "configs")
TOOLS = os.path.join(REPO, "tools")
TRAIN_NET = os.path.join(TOOLS, "train_net.py")


def instant_opts(family: str) -> List[str]:
    """``KEY VALUE`` options of ``configs/quick_schedules/<family>_instant_test.yaml`` ("rcnn" or "cam"):
    what makes a config of that family train and test in seconds."""
    with open(os.path.join(CONFIGS, "quick_schedules", f"{family}_instant_test.yaml")) as f:
        tree = yaml.safe_load(f)

    def flatten(node: dict, prefix: str) -> List[str]:
        opts = []
        for key, value in node.items():
            if isinstance(value, dict):
                opts += flatten(value, f"{prefix}{key}.")
            else:
                opts += [f"{prefix}{key}", str(value)]
        return opts

    return flatten(tree, "")


def load_tool(name: str) -> types.ModuleType:
    """``tools/<name>.py`` imported as a module (the tools are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"{name}_tool", os.path.join(TOOLS, f"{name}.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def run_train_net(args: Sequence[str], cwd: str) -> str:
    """Run ``tools/train_net.py`` with ``args``; its output, after asserting that it succeeded."""
    result = subprocess.run(
        [sys.executable, TRAIN_NET, *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout + result.stderr


def write_msra_r50(path: str) -> str:
    """A ResNet-50 in the layout of Detectron2's ``ImageNetPretrained/MSRA/R-50.pkl`` (Caffe2 blob names,
    FrozenBN folded into scale ``_bn_s`` and bias ``_bn_b``, plus the ImageNet classifier), with
    random values: what an offline user copies next to their data. Returns ``path``."""
    import pickle

    from detectron2.layers import ShapeSpec
    from detectron2.modeling.backbone import build_resnet_backbone

    from wsdet.engine.defaults import build_config

    cfg = build_config(os.path.join(CONFIGS, "bus_joint_paper.yaml"), ["MODEL.WEIGHTS", "unused"])
    backbone = build_resnet_backbone(cfg, ShapeSpec(channels=3))
    suffixes = {"weight": "w", "norm.weight": "bn_s", "norm.bias": "bn_b"}
    blobs = {}
    for name, value in backbone.state_dict().items():
        if name.endswith(("running_mean", "running_var")):
            continue
        if name.startswith("stem."):
            key = {"stem.conv1.weight": "conv1_w", "stem.conv1.norm.weight": "res_conv1_bn_s",
                   "stem.conv1.norm.bias": "res_conv1_bn_b"}[name]
        else:
            stage, block, layer, rest = name.split(".", 3)
            branch = "branch1" if layer == "shortcut" else "branch2" + "abc"[int(layer[-1]) - 1]
            key = f"{stage}_{block}_{branch}_{suffixes[rest]}"
        blobs[key] = value.numpy()
    blobs["fc1000_w"] = np.zeros((1000, 2048), np.float32)
    blobs["fc1000_b"] = np.zeros(1000, np.float32)
    with open(path, "wb") as f:
        pickle.dump({"blobs": blobs}, f)
    return path


@pytest.fixture(scope="session")
def msra_r50(tmp_path_factory) -> str:
    """Path of a :func:`write_msra_r50` file, written once per test session."""
    return write_msra_r50(str(tmp_path_factory.mktemp("weights") / "R-50.pkl"))
