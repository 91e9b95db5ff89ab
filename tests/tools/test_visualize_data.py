"""tools/visualize_data.py on a synthetic BUS set: per-image pictures, grids and the dataset summary."""
import os
import subprocess
import sys

import cv2
import pytest

from conftest import CONFIGS, TOOLS, unique_name
from wsdet.data.synthetic import generate_bus_dataset


@pytest.fixture(scope="module")
def bus(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("data"))
    splits = generate_bus_dataset(root, num_strong=4, num_weak=4, num_val=2, num_test=2, size=64)
    return splits, os.path.join(root, "bus_synth", "images")


def _run(args):
    result = subprocess.run(
        [sys.executable, os.path.join(TOOLS, "visualize_data.py"), *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout + result.stderr


def test_annotation_source(tmp_path, bus):
    splits, images = bus
    strong, weak = unique_name("vd_strong"), unique_name("vd_weak")
    out = tmp_path / "out"
    printed = _run(["--dataset", strong, splits["strong_train"], images, "--weak-dataset", weak,
                    splits["weak_train"], images, "--dataset-name", strong, weak, "--output-dir", str(out),
                    "--grid", "3"])
    assert len(os.listdir(out / strong)) == len(os.listdir(out / weak)) == 4
    picture = cv2.imread(str(out / strong / sorted(os.listdir(out / strong))[0]))
    assert picture.shape[0] > 512  # title, 512 px drawing, legend
    grid = cv2.imread(str(out / f"{strong}_grid.png"))
    assert grid is not None and grid.shape[1] == 3 * (320 + 4) + 4
    summary = (out / f"{weak}_summary.md").read_text()
    assert "| weak" in summary and "| all" in summary and summary in printed
    assert "Warning" not in printed


def test_dataloader_source_needs_a_config_and_augments(tmp_path, bus):
    splits, images = bus
    name = unique_name("vd_aug")
    flags = ["--dataset", name, splits["strong_train"], images, "--dataset-name", name]
    result = subprocess.run([sys.executable, os.path.join(TOOLS, "visualize_data.py"), *flags,
                             "--output-dir", str(tmp_path), "--source", "dataloader"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "needs --config-file" in result.stderr
    _run([*flags, "--output-dir", str(tmp_path / "aug"), "--source", "dataloader", "--num-images", "2",
          "--config-file", os.path.join(CONFIGS, "bus_joint.yaml"), "INPUT.MIN_SIZE_TRAIN", "(128,)",
          "INPUT.MAX_SIZE_TRAIN", "128"])
    assert len(os.listdir(tmp_path / "aug" / name)) == 2
