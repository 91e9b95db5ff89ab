"""Exported models (TorchScript, ONNX) give the eager model's outputs on images they were not traced on."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch
from detectron2.modeling import build_model

from conftest import CONFIGS, TOOLS
from wsdet.engine.defaults import build_config
from wsdet.export import (
    export_onnx,
    export_torchscript,
    load_torchscript,
    max_difference,
    output_names,
    run_onnx,
    tracing_adapter,
)

TINY = ["MODEL.DEVICE", "cpu", "INPUT.MIN_SIZE_TEST", "64", "INPUT.MAX_SIZE_TEST", "96"]
# random weights score every box 0.36-0.47: a threshold inside leaves a varying number of them
MODELS = {
    "mil_rcnn": ("bus_joint.yaml", ["MODEL.ROI_HEADS.SCORE_THRESH_TEST", "0.43"]),
    "cam_classifier": ("bus_cam.yaml", []),
}
# images of the traced size and of another size
SIZES = {
    "mil_rcnn": [(64, 80), (64, 80), (64, 96)],
    "cam_classifier": [(64, 80), (64, 80), (64, 96)],
}
OUTPUTS = {
    "mil_rcnn": [
        "image_probs",
        "instances.pred_boxes",
        "instances.pred_classes",
        "instances.scores",
        "instances.image_size",
    ],
    "cam_classifier": ["heatmaps", "image_probs"],
}


def random_images(sizes):
    generator = torch.Generator().manual_seed(0)
    return [torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=generator) for h, w in sizes]


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request):
    config, opts = MODELS[request.param]
    torch.manual_seed(0)
    return request.param, build_model(build_config(os.path.join(CONFIGS, config), TINY + opts)).eval()


def eager_outputs(model, image):
    with torch.no_grad():
        return tracing_adapter(model, image)(image)


def test_torchscript_matches_eager(model, tmp_path):
    name, model = model
    traced_on, *others = random_images(SIZES[name])
    path = str(tmp_path / "model.ts")
    assert export_torchscript(model, traced_on, path) == OUTPUTS[name]
    exported = load_torchscript(path)
    counts = set()
    for image in [traced_on, *others]:
        reference = eager_outputs(model, image)
        with torch.no_grad():
            assert max_difference(reference, exported(image)) < 1e-4
        counts.add(len(reference[-2]))
    assert name != "mil_rcnn" or len(counts) > 1  # the images gave different numbers of detections


def test_onnx_matches_eager(model, tmp_path):
    pytest.importorskip("onnxruntime")
    name, model = model
    traced_on, *others = random_images(SIZES[name])
    path = str(tmp_path / "model.onnx")
    assert export_onnx(model, traced_on, path) == OUTPUTS[name]
    for image in [traced_on, *others]:
        assert max_difference(eager_outputs(model, image), run_onnx(path, image)) < 1e-4


def test_output_names_follow_the_outputs(model):
    name, model = model
    (image,) = random_images([(64, 80)])
    adapter = tracing_adapter(model, image)
    with torch.no_grad():
        rebuilt = adapter.outputs_schema(adapter(image))[0]
    assert sorted(rebuilt) == sorted({n.split(".")[0] for n in output_names(adapter)})
    assert "heatmaps" in rebuilt if name == "cam_classifier" else "instances" in rebuilt


@pytest.mark.slow
def test_export_model_tool(tmp_path):
    onnx = importlib.util.find_spec("onnxruntime") is not None
    files = ["model.ts", "model.onnx"] if onnx else ["model.ts"]
    config = os.path.join(CONFIGS, "bus_joint_with_cam.yaml")
    result = subprocess.run(
        [sys.executable, os.path.join(TOOLS, "export_model.py"), "--config-file", config,
         "--output", str(tmp_path), "--format", "all" if onnx else "torchscript", "--allow-untrained", *TINY[2:]],
        capture_output=True, text=True, timeout=600,
    )
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed[-4000:]
    assert "Warning" not in printed, printed
    assert printed.count("largest difference to the eager model") == len(files)
    names = json.loads((tmp_path / "outputs.json").read_text())["outputs"]
    assert names[:2] == ["heatmaps", "image_probs"] and "instances.scores" in names
    assert all((tmp_path / f).is_file() for f in files)
