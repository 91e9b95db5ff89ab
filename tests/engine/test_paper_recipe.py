"""configs/bus_joint_paper.yaml keeps the official recipe of Shin et al. (docs/PAPER_RECIPE.md) whatever
the defaults of the CPU configs become."""
import os

from conftest import CONFIGS
from wsdet.engine.defaults import build_config

OFFICIAL = {
    "WSDET.MIL.MOI": "most_malignant",
    "WSDET.MIL.SELECT_ON": "logit",
    "WSDET.MIL.CLASS_WEIGHTS": "auto",
    "WSDET.MIL.NORMAL_WEIGHT": 0.0,
    "WSDET.MIL.POST_NMS_TOPK_TRAIN": 2000,
    "WSDET.MIL.ALPHA.SCHEDULE": "step_exp",
    "WSDET.MIL.ALPHA.VALUE": 1.0,
    "WSDET.MIL.ALPHA.PERIOD": 2000,
    "WSDET.SOLVER.OPTIMIZER": "Adam",
    "WSDET.SOLVER.ADAM_EPSILON": 0.1,
    "SOLVER.BASE_LR": 0.0005,
    "SOLVER.WEIGHT_DECAY": 0.0005,
    "SOLVER.MAX_ITER": 60000,
    "SOLVER.STEPS": (),
    "WSDET.DATALOADER.STRONG_IMS_PER_BATCH": 1,
    "WSDET.DATALOADER.WEAK_IMS_PER_BATCH": 2,
    "WSDET.AUGMENT.ROTATION": 5.0,
    "WSDET.AUGMENT.CROP": 0.05,
    "WSDET.AUGMENT.BRIGHTNESS": 0.2,
    "WSDET.AUGMENT.CONTRAST": (0.2, 1.8),
    "WSDET.RPN.BACKGROUND_NEGATIVES_ONLY": True,
    "MODEL.ROI_HEADS.NMS_THRESH_TEST": 0.3,
    "TEST.DETECTIONS_PER_IMAGE": 300,
    "MODEL.RPN.POST_NMS_TOPK_TRAIN": 2000,
    "MODEL.RPN.POST_NMS_TOPK_TEST": 300,
}


def value(cfg, key):
    for part in key.split("."):
        cfg = cfg[part]
    return tuple(cfg) if isinstance(cfg, list) else cfg


def test_paper_config_follows_the_official_recipe():
    cfg = build_config(os.path.join(CONFIGS, "bus_joint_paper.yaml"), ["MODEL.WEIGHTS", "R-50.pkl"])
    assert {key: value(cfg, key) for key in OFFICIAL} == OFFICIAL


def test_cpu_joint_config_uses_the_measured_default_mass_of_interest():
    cfg = build_config(os.path.join(CONFIGS, "bus_joint.yaml"), [])
    mil = cfg.WSDET.MIL
    assert (mil.MOI, mil.NORMAL_WEIGHT, mil.NORMAL_REGIONS) == ("most_abnormal", 1.0, 1)
