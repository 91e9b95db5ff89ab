"""Trainer options of the official recipe: "auto" MIL class weights, Adam, alternating optimizer steps,
and frozen layers without pretrained weights refused."""
import os

import pytest
import torch

from conftest import CONFIGS, instant_opts, unique_name
from wsdet.data import register_wsdet_coco
from wsdet.engine import ConfigError, WSDetTrainer, check_config
from wsdet.engine.defaults import build_config


@pytest.fixture
def joint_cfg(tmp_path, tiny_coco):
    """``joint_cfg(*opts)``: bus_joint.yaml on tiny data whose weak set has 3 benign and 1 malignant image."""

    def mostly_benign(coco):
        for image in coco["images"]:
            if image["pos_category_ids"] == [2] and image["id"] != 3:
                image["pos_category_ids"] = [1]

    strong_json, root, _ = tiny_coco(strong=True, num_images=6)
    weak_json, _, coco = tiny_coco(strong=False, num_images=6, mutate=mostly_benign)
    names = [unique_name("opt_strong"), unique_name("opt_weak")]
    register_wsdet_coco(names[0], strong_json, root)
    register_wsdet_coco(names[1], weak_json, root)

    def make(*opts):
        return build_config(os.path.join(CONFIGS, "bus_joint.yaml"), [
            *instant_opts("rcnn"), "DATASETS.TRAIN", str(tuple(names)), "DATASETS.TEST", "()",
            "OUTPUT_DIR", str(tmp_path / "out"), *opts])

    return make


def test_auto_mil_class_weights_are_the_other_class_share(joint_cfg):
    trainer = WSDetTrainer(joint_cfg("WSDET.MIL.CLASS_WEIGHTS", "auto", "WSDET.MIL.NORMAL_WEIGHT", "0.5"))
    # weak lesion images: 3 benign, 1 malignant -> benign 1/4, malignant 3/4; the normal weight is kept
    weights = trainer.model.roi_heads.mil_class_weights
    assert torch.allclose(weights, torch.tensor([0.25, 0.75, 0.5]))


def test_given_and_default_mil_class_weights(joint_cfg):
    given = WSDetTrainer(joint_cfg("WSDET.MIL.CLASS_WEIGHTS", "[0.2209, 0.7791]")).model.roi_heads
    # the last entry is the weight of normal images (WSDET.MIL.NORMAL_WEIGHT, default 1.0)
    assert torch.allclose(given.mil_class_weights, torch.tensor([0.2209, 0.7791, 1.0]))
    assert torch.equal(WSDetTrainer(joint_cfg()).model.roi_heads.mil_class_weights, torch.tensor([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="CLASS_WEIGHTS must be a list, None or 'auto'"):
        WSDetTrainer(joint_cfg("WSDET.MIL.CLASS_WEIGHTS", "inverse"))


def test_adam_optimizer(joint_cfg):
    optimizer = WSDetTrainer(joint_cfg("WSDET.SOLVER.OPTIMIZER", "Adam", "WSDET.SOLVER.ADAM_EPSILON", "0.1",
                                       "SOLVER.BASE_LR", "0.0005")).optimizer
    assert isinstance(optimizer, torch.optim.Adam)
    assert {g["eps"] for g in optimizer.param_groups} == {0.1} and optimizer.param_groups[0]["initial_lr"] == 0.0005
    with pytest.raises(ValueError, match="WSDET.SOLVER.OPTIMIZER must be 'SGD' or 'Adam'"):
        WSDetTrainer(joint_cfg("WSDET.SOLVER.OPTIMIZER", "RMSprop"))


@pytest.mark.slow
def test_alternating_mode_makes_two_optimizer_steps_per_iteration(joint_cfg, tmp_path):
    cfg = joint_cfg("WSDET.DATALOADER.MODE", "alternating", "WSDET.SOLVER.OPTIMIZER", "Adam",
                    "SOLVER.MAX_ITER", "2", "SOLVER.CHECKPOINT_PERIOD", "2")
    trainer = WSDetTrainer(cfg)
    trainer.resume_or_load(resume=False)
    trainer.train()

    def steps(optimizer, parameter):
        return int(optimizer.state[parameter]["step"]) if parameter in optimizer.state else 0

    rpn = next(trainer.model.proposal_generator.parameters())  # moved by the box images' losses only
    cls = trainer.model.roi_heads.box_predictor.cls_score.weight  # by both losses
    assert steps(trainer.optimizer, rpn) == 2 and steps(trainer.weak_optimizer, cls) == 2
    assert steps(trainer.optimizer, cls) == 2 and steps(trainer.weak_optimizer, rpn) == 2  # zero gradients
    saved = torch.load(tmp_path / "out" / "model_final.pth", weights_only=False)
    assert {"weak_optimizer", "weak_scheduler", "trainer"} <= set(saved)  # "trainer" holds the first optimizer


@pytest.mark.parametrize("opts", [["MODEL.BACKBONE.FREEZE_AT", "2"], ["MODEL.RESNETS.NORM", "FrozenBN"]])
def test_frozen_layers_without_weights_are_refused(joint_cfg, opts):
    with pytest.raises(ConfigError, match="MODEL.WEIGHTS is empty but .* freeze layers at their random"):
        check_config(joint_cfg(*opts))
    check_config(joint_cfg(*opts, "MODEL.WEIGHTS", "R-50.pkl"))
