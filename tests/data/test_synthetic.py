"""Embedded synthetic datasets: rendering, COCO output, determinism, idempotency, DICOM, CLI."""

import json
import os
import runpy
import sys

import cv2
import numpy as np
import pydicom
import pytest

from wsdet.data import load_wsdet_coco_json
from wsdet.data.synthetic import (
    BUS_SPEC,
    CXR_SPEC,
    IMAGE_DIR,
    generate_bus_dataset,
    generate_cxr_dataset,
    mask_to_bbox,
    render_bus_image,
    render_cxr_image,
)
from wsdet.data.synthetic.cxr import _anatomy
from conftest import REPO

SIZE = 128
BUS_TINY = dict(num_strong=8, num_weak=8, num_val=8, num_test=8, size=SIZE)
CXR_TINY = dict(num_train=8, num_masks=8, num_val=8, num_test=8, size=SIZE)


def _tree(directory):
    """Relative path -> bytes of every file under ``directory``."""
    files = {}
    for base, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, directory)] = f.read()
    return files


def _box(mask):
    return [int(v) for v in mask_to_bbox(mask)]


def _posterior_ratio(image, mask):
    """Mean grey below the mass (central half of its width) over the same depth beside it."""
    x, y, w, h = _box(mask)
    top, bottom = y + h + 2, min(image.shape[0], y + h + 2 + max(4, h // 2))
    below = image[top:bottom, x + w // 4 : x + w - w // 4]
    beside = np.r_[
        image[top:bottom, max(0, x - w // 2) : x].ravel(), image[top:bottom, x + w : x + w + w // 2].ravel()
    ]
    return below.mean() / beside.mean()


@pytest.fixture(scope="module")
def bus_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("bus"))
    generate_bus_dataset(root, **BUS_TINY)
    return root


@pytest.fixture(scope="module")
def cxr_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cxr"))
    generate_cxr_dataset(root, **CXR_TINY)
    return root


@pytest.mark.parametrize("kind", ["normal", "benign", "malignant"])
def test_bus_boxes_match_dark_masses(kind):
    for seed in range(4):
        image, lesions = render_bus_image(np.random.default_rng(seed), SIZE, kind)
        assert image.shape == (SIZE, SIZE) and image.dtype == np.uint8
        assert len(lesions) == (kind != "normal")
        for category, mask in lesions:
            assert category == {"benign": 1, "malignant": 2}[kind]
            rows, cols = np.nonzero(mask)
            assert _box(mask) == [cols.min(), rows.min(), np.ptp(cols) + 1, np.ptp(rows) + 1]
            x, y, w, h = _box(mask)
            m = max(w, h) // 2
            around = image[max(0, y - m) : y + h + m, max(0, x - m) : x + w + m]
            assert image[mask].mean() < 0.8 * around.mean()


def test_bus_benign_vs_malignant_appearance():
    stats = {}
    for kind in ("benign", "malignant"):
        ratios, aspects = [], []
        for seed in range(10):
            image, [(_, mask)] = render_bus_image(np.random.default_rng(seed), SIZE, kind)
            _, _, w, h = _box(mask)
            ratios.append(_posterior_ratio(image, mask))
            aspects.append(w / h)
        stats[kind] = np.mean(ratios), np.mean(aspects)
    assert stats["benign"][0] > 1.05 and stats["malignant"][0] < 0.9  # enhancement vs shadowing
    assert stats["benign"][1] > 1.2 and stats["malignant"][1] < 0.9  # wider than tall vs taller


def test_bus_multiple_masses_do_not_overlap():
    _, lesions = render_bus_image(np.random.default_rng(0), 256, "benign", num_masses=3)
    assert len(lesions) == 3
    assert sum(m.sum() for _, m in lesions) == np.logical_or.reduce([m for _, m in lesions]).sum()


def test_cxr_findings_inside_lungs_and_visible():
    for seed in range(4):
        _, left, right = _anatomy(np.random.default_rng(seed), SIZE)
        plain, none = render_cxr_image(np.random.default_rng(seed), SIZE, ())
        image, lesions = render_cxr_image(np.random.default_rng(seed), SIZE, (1, 2, 3, 4))
        assert none == [] and [c for c, _ in lesions] == [1, 2, 3, 4]
        for _, mask in lesions:
            assert mask.sum() > 10
            assert not (mask & ~(left | right)).any()
            assert image[mask].mean() > plain[mask].mean() + 5  # same anatomy, denser with the finding
        effusion = lesions[3][1]
        assert np.nonzero(effusion)[0].mean() > np.nonzero(left | right)[0].mean()  # at the lung base


def _check_split(json_file, image_root, spec, split, num_images):
    with open(json_file) as f:
        coco = json.load(f)
    assert coco["categories"] == list(spec.categories)
    assert "annotations" in coco and len(coco["images"]) == num_images
    by_image = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], set()).add(ann["category_id"])
        x, y, w, h = ann["bbox"]
        assert w > 0 and h > 0 and 0 <= x and x + w <= SIZE and 0 <= y and y + h <= SIZE
        assert ann["iscrowd"] == 0 and ann["segmentation"] and 0 < ann["area"] <= w * h
    for img in coco["images"]:
        assert os.path.isfile(os.path.join(image_root, img["file_name"]))
        if spec.supervision[split] == "strong":
            assert img["pos_category_ids"] == sorted(by_image.get(img["id"], ()))
    if spec.supervision[split] == "weak":
        assert coco["annotations"] == []
        assert any(img["pos_category_ids"] for img in coco["images"])
    assert any(img["pos_category_ids"] == [] for img in coco["images"])  # normal images everywhere
    dicts = load_wsdet_coco_json(json_file, image_root, supervision=spec.supervision[split])
    assert len(dicts) == num_images
    return coco


def test_bus_json_splits(bus_root):
    image_root = os.path.join(bus_root, BUS_SPEC.dirname, IMAGE_DIR)
    for split, rel in BUS_SPEC.splits.items():
        _check_split(os.path.join(bus_root, BUS_SPEC.dirname, rel), image_root, BUS_SPEC, split, 8)


def test_cxr_json_splits(cxr_root):
    image_root = os.path.join(cxr_root, CXR_SPEC.dirname, IMAGE_DIR)
    for split, rel in CXR_SPEC.splits.items():
        coco = _check_split(os.path.join(cxr_root, CXR_SPEC.dirname, rel), image_root, CXR_SPEC, split, 8)
        assert all(len(img["pos_category_ids"]) <= 3 for img in coco["images"])


def test_determinism(bus_root, tmp_path):
    reference = _tree(os.path.join(bus_root, BUS_SPEC.dirname))
    generate_bus_dataset(str(tmp_path / "same"), **BUS_TINY)
    assert _tree(str(tmp_path / "same" / BUS_SPEC.dirname)) == reference
    generate_bus_dataset(str(tmp_path / "other"), **BUS_TINY, seed=1)
    other = _tree(str(tmp_path / "other" / BUS_SPEC.dirname))
    assert other.keys() == reference.keys()
    assert other["images/val/0000.png"] != reference["images/val/0000.png"]


def test_idempotent_and_force(tmp_path, caplog):
    root = str(tmp_path)
    generate_cxr_dataset(root, **CXR_TINY)
    marker = tmp_path / CXR_SPEC.dirname / IMAGE_DIR / "marker"
    marker.touch()
    with caplog.at_level("INFO"):
        generate_cxr_dataset(root, **CXR_TINY)
    assert marker.exists() and "skipping" in caplog.text
    generate_cxr_dataset(root, **CXR_TINY, force=True)
    assert not marker.exists()
    marker.touch()
    paths = generate_cxr_dataset(root, **dict(CXR_TINY, num_val=4))  # other options: regenerated
    assert not marker.exists()
    with open(paths["val"]) as f:
        assert len(json.load(f)["images"]) == 4


@pytest.mark.parametrize(
    "generate,tiny,spec,modality",
    [
        (generate_bus_dataset, BUS_TINY, BUS_SPEC, "US"),
        (generate_cxr_dataset, CXR_TINY, CXR_SPEC, "CR"),
    ],
)
def test_dicom_matches_png(generate, tiny, spec, modality, tmp_path):
    small = {key: (2 if key.startswith("num_") else value) for key, value in tiny.items()}
    png = generate(str(tmp_path / "png"), **small)
    dcm = generate(str(tmp_path / "dcm"), **small, dicom=True)
    generate(str(tmp_path / "dcm2"), **small, dicom=True)
    assert _tree(str(tmp_path / "dcm")) == _tree(str(tmp_path / "dcm2"))
    for split in spec.splits:
        with open(png[split]) as f:
            png_images = json.load(f)["images"]
        with open(dcm[split]) as f:
            dcm_images = json.load(f)["images"]
        for a, b in zip(png_images, dcm_images):
            assert b["file_name"].endswith(".dcm") and a["pos_category_ids"] == b["pos_category_ids"]
            ds = pydicom.dcmread(str(tmp_path / "dcm" / spec.dirname / IMAGE_DIR / b["file_name"]))
            assert ds.Modality == modality and ds.PhotometricInterpretation == "MONOCHROME2"
            expected = cv2.imread(
                str(tmp_path / "png" / spec.dirname / IMAGE_DIR / a["file_name"]), cv2.IMREAD_UNCHANGED
            )
            np.testing.assert_array_equal(ds.pixel_array, expected)


@pytest.mark.parametrize(
    "script,dirname",
    [
        ("prepare_synthetic_bus.py", BUS_SPEC.dirname),
        ("prepare_synthetic_cxr.py", CXR_SPEC.dirname),
    ],
)
def test_cli(script, dirname, tmp_path, monkeypatch, capsys):
    counts = ["--num-val", "2", "--num-test", "2"]
    counts += (
        ["--num-strong", "2", "--num-weak", "2"]
        if "bus" in script
        else ["--num-train", "2", "--num-masks", "2"]
    )
    argv = [script, "--root", str(tmp_path), "--size", "64", "--seed", "3", *counts]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(os.path.join(REPO, "datasets", script), run_name="__main__")
    with open(tmp_path / dirname / "meta.json") as f:
        meta = json.load(f)
    assert meta["size"] == 64 and meta["seed"] == 3 and set(meta["counts"].values()) == {2}
    assert "val:" in capsys.readouterr().out
