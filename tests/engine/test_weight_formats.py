"""Pretrained ResNet-50 weights in the MSRA (Caffe2 .pkl) and torchvision layouts load into the R-50 FPN
of configs/bus_joint_paper.yaml with no backbone key missing or unused, through the safe loader."""
import logging
import os
import pickle

import numpy as np
import torch
import torchvision
from detectron2.checkpoint.c2_model_loading import convert_basic_c2_names
from detectron2.modeling import build_model

from conftest import CONFIGS
from wsdet.engine import WSDetCheckpointer
from wsdet.engine.defaults import build_config
from wsdet.engine.weight_formats import torchvision_resnet_to_detectron2


def _load(path, caplog, *opts):
    cfg = build_config(os.path.join(CONFIGS, "bus_joint_paper.yaml"), ["MODEL.WEIGHTS", path, *opts])
    model = build_model(cfg)
    with caplog.at_level(logging.INFO):
        WSDetCheckpointer(model).load(path)
    not_found = caplog.text.split("not found in the checkpoint")[1].split("contains keys")[0]
    unused = caplog.text.split("not used by the model:")[1]
    assert "bottom_up" not in not_found and "backbone.fpn" in not_found  # only the new layers are new
    return model.backbone.bottom_up.state_dict(), unused


def test_msra_pkl_loads_every_backbone_weight(msra_r50, caplog):
    loaded, unused = _load(msra_r50, caplog)
    assert unused.split() == ["fc1000.{bias,", "weight}"]  # the ImageNet classifier only
    with open(msra_r50, "rb") as f:
        blobs = pickle.load(f)["blobs"]
    names = dict(zip(convert_basic_c2_names(list(blobs)), blobs))
    compared = 0
    for name, value in loaded.items():
        if name.endswith(("running_mean", "running_var")):  # FrozenBN folded into scale and bias
            continue
        assert np.array_equal(value.numpy(), blobs[names[name]]), name
        compared += 1
    assert compared == len(blobs) - 2


def test_torchvision_resnet_loads_every_backbone_weight(tmp_path, caplog):
    torch.manual_seed(0)
    source = torchvision.models.resnet50(weights=None).state_dict()
    path = str(tmp_path / "resnet50_torchvision.pth")
    torch.save(source, path)
    loaded, unused = _load(path, caplog, "MODEL.RESNETS.STRIDE_IN_1X1", "False", "INPUT.FORMAT", "RGB")
    assert unused.split() == ["fc.{bias,", "weight}"]
    assert "is a torchvision ResNet" in caplog.text and "STRIDE_IN_1X1 False" in caplog.text
    expected = torchvision_resnet_to_detectron2(source)
    assert set(loaded) == set(expected) - {"fc.weight", "fc.bias"}
    for name, value in loaded.items():
        assert torch.equal(value, expected[name]), name


def test_torchvision_renaming_is_limited_to_resnets():
    assert torchvision_resnet_to_detectron2({"backbone.conv.weight": 1}) is None
    renamed = torchvision_resnet_to_detectron2(
        {"conv1.weight": 0, "bn1.running_var": 1, "layer3.5.bn2.bias": 2, "layer1.0.downsample.1.weight": 3,
         "layer4.2.conv3.weight": 4, "bn1.num_batches_tracked": 5}
    )
    assert renamed == {"stem.conv1.weight": 0, "stem.conv1.norm.running_var": 1, "res4.5.conv2.norm.bias": 2,
                       "res2.0.shortcut.norm.weight": 3, "res5.2.conv3.weight": 4}
