"""tools/benchmark_speed.py on tiny settings: the report has every section's keys and positive numbers.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python -m pytest tests/tools/test_benchmark_speed.py -q``
(``-m "not slow"`` skips the training sections, which spawn one process per model for peak memory).
"""
import json
import os
import subprocess
import sys

import pytest

from conftest import TOOLS

TINY = [
    "INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MAX_SIZE_TRAIN", "64",
    "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "64",
    "WSDET.DATALOADER.WEAK_IMS_PER_BATCH", "2",
]


@pytest.fixture
def run_benchmark(tmp_path):
    """``run_benchmark(*sections)`` -> the JSON report of a 1-step run of those sections."""

    def run(*sections: str) -> dict:
        output = str(tmp_path / "speed.json")
        only = [arg for section in sections for arg in ("--only", section)]
        argv = [*only, "--device", "cpu", "--steps", "1", "--warmup", "0", "--io-images", "2",
                "--io-side", "32", "--output", output, *TINY]
        result = subprocess.run([sys.executable, os.path.join(TOOLS, "benchmark_speed.py"), *argv],
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-4000:]
        with open(output) as f:
            report = json.load(f)
        assert set(report) == {"machine", "settings", *sections}
        assert report["machine"]["cpu"] and report["machine"]["torch"]
        return report

    return run


def test_inference_io_and_loader(run_benchmark):
    report = run_benchmark("inference", "io", "loader")
    models = report["inference"]["models"]
    assert {"bus_joint", "plain Faster R-CNN", "gap", "poscam_stage3"} <= set(models)
    assert all(m["latency_ms_median"] > 0 and len(m["latency_ms"]) == 1 for m in models.values())
    io = report["io"]
    assert io["images"] == 2 and io["image_side"] == 32
    assert io["png"]["images_per_s"] > 0 and io["dicom"]["images_per_s"] > 0 and io["dicom_time_ratio"] > 0
    loader = report["loader"]
    for fmt in ("png", "dicom"):
        assert loader[fmt]["no_workers"]["workers"] == 0 and loader[fmt]["no_workers"]["images_per_s"] > 0
        assert loader[fmt]["config_workers"]["images_per_s"] > 0
    assert loader["training_images_per_s"] > 0


@pytest.mark.slow
def test_training_sections(run_benchmark):
    report = run_benchmark("mil", "paper", "cam")
    assert "RSS" in report["settings"]["memory_method"]
    mil, cam = report["mil"]["models"], report["cam"]["models"]
    assert report["mil"]["reference"] == "plain Faster R-CNN" and report["cam"]["reference"] == "gap"
    assert mil["plain Faster R-CNN"]["meta_architecture"] == "GeneralizedRCNN"
    assert mil["MIL, 2 strong + 2 weak"]["meta_architecture"] == "WSDetMILRCNN"
    assert [(m["strong_images"], m["weak_images"]) for m in mil.values()] == [(4, 0), (4, 0), (2, 2)]
    assert len(cam) == 12 and cam["poscam_stage3"]["strong_images"] == 2
    for m in [*mil.values(), *cam.values()]:
        assert m["step_s_median"] > 0 and m["time_ratio"] > 0 and m["cpu_time_ratio"] > 0
        assert m["peak_memory_mib"] > 0 and m["memory_ratio"] > 0
    assert report["mil"]["weak_images_time_ratio"] > 0
    paper = list(report["paper"]["models"].values())
    assert [(m["strong_images"], m["weak_images"]) for m in paper] == [(3, 0), (1, 2)]
    assert all(m["images_per_s"] > 0 for m in paper)
