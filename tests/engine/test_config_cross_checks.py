"""Checks across config keys (and of the run's output folder), found before anything is built."""
import os

import pytest

from conftest import REPO
from wsdet.engine import ConfigError, check_config
from wsdet.engine.defaults import build_config

JOINT = os.path.join(REPO, "configs", "bus_joint.yaml")
CAM = os.path.join(REPO, "configs", "bus_cam.yaml")


@pytest.mark.parametrize(
    "opts, message",
    [
        (["MODEL.ROI_HEADS.NUM_CLASSES", "1"],
         r"WSDET.MIL.MALIGNANT_CLASS is 1 but MODEL.ROI_HEADS.NUM_CLASSES is 1: the malignant class of "
         r"MILROIHeads is one of the lesion classes \(set WSDET.MIL.MALIGNANT_CLASS 0\)"),
        (["WSDET.MIL.MALIGNANT_CLASS", "2"], r"MALIGNANT_CLASS is 2 but .* lesion classes \(0..1\)"),
        (["MODEL.ROI_HEADS.NUM_CLASSES", "0"], "MODEL.ROI_HEADS.NUM_CLASSES is 0; MILROIHeads needs at least"),
        (["WSDET.MIL.CLASS_WEIGHTS", "[0.3, 0.3, 0.4]"],
         "WSDET.MIL.CLASS_WEIGHTS has 3 weights but MODEL.ROI_HEADS.NUM_CLASSES is 2"),
        (["OUTPUT_DIR", ""], "OUTPUT_DIR is empty: no checkpoint would be saved"),
        (["OUTPUT_DIR", " "], "OUTPUT_DIR is empty"),
    ],
)
def test_impossible_combinations(opts, message):
    with pytest.raises(ConfigError, match=message):
        check_config(build_config(JOINT, opts))


def test_one_lesion_class_with_its_malignant_class_passes():
    check_config(build_config(JOINT, ["MODEL.ROI_HEADS.NUM_CLASSES", "1", "WSDET.MIL.MALIGNANT_CLASS", "0"]))


def test_mil_options_ignored_without_mil_heads():
    check_config(build_config(CAM, ["MODEL.ROI_HEADS.NUM_CLASSES", "1"]))
