"""WSDET.MODEL_EMA: the exponential moving average of the weights, by hand and through the trainer."""
import os
import shutil
from types import SimpleNamespace

import pytest
import torch
from detectron2.engine import PeriodicCheckpointer

from conftest import CONFIGS, instant_opts, unique_name
from wsdet.data import register_wsdet_coco
from wsdet.engine import ConfigError, ModelEMA, WSDetTrainer, check_config
from wsdet.engine.defaults import build_config


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(1, 1, bias=False)
        self.norm = torch.nn.BatchNorm1d(1)


def set_weights(model, value):
    with torch.no_grad():
        model.linear.weight.fill_(value)
        model.norm.running_mean.fill_(10 * value)
        model.norm.num_batches_tracked.fill_(int(value))


def test_average_by_hand_and_final_weights():
    model = Tiny()
    set_weights(model, 5.0)  # the loaded weights count for nothing
    ema = ModelEMA(model, decay=0.5)
    ema.trainer = SimpleNamespace(iter=0, max_iter=2)
    ema.before_train()
    set_weights(model, 1.0)
    ema.after_step()  # n = 1: (0.5 * 1) / (1 - 0.5) = 1
    assert ema.averaged["linear.weight"].item() == pytest.approx(1.0)
    assert ema.averaged["norm.running_mean"].item() == pytest.approx(10.0)
    assert model.linear.weight.item() == 1.0  # not the last step: the model keeps its weights
    ema.trainer.iter = 1
    set_weights(model, 2.0)
    ema.after_step()  # n = 2: (0.25 * 1 + 0.5 * 2) / (1 - 0.25) = 5/3
    assert ema.averaged["linear.weight"].item() == pytest.approx(5 / 3)
    assert ema.averaged["norm.num_batches_tracked"].item() == 2  # integers are copied
    # after the last step the model holds the average
    assert model.linear.weight.item() == pytest.approx(5 / 3)
    assert model.norm.running_mean.item() == pytest.approx(50 / 3)
    assert ema.updates == 2


def test_each_step_weighs_decay_to_its_age_and_state_round_trip():
    model = Tiny()
    ema = ModelEMA(model, decay=0.9)
    ema.trainer = SimpleNamespace(iter=0, max_iter=100)
    ema.before_train()
    steps = [float(k % 7) for k in range(1, 51)]
    for value in steps:
        set_weights(model, value)
        ema.update()
    weights = [0.9 ** (len(steps) - k) for k in range(1, len(steps) + 1)]  # step k of n: 0.9^(n-k)
    expected = sum(w * v for w, v in zip(weights, steps)) / sum(weights)
    assert ema.averaged["linear.weight"].item() == pytest.approx(expected, rel=1e-5)

    resumed = ModelEMA(Tiny(), decay=0.9)
    resumed.load_state_dict(ema.state_dict())
    resumed.before_train()  # keeps the loaded average instead of starting from the model
    assert resumed.updates == 50 and resumed.averaged["linear.weight"].item() == pytest.approx(expected, rel=1e-5)
    assert ModelEMA(Tiny(), decay=0.5).state_dict() == {}
    with pytest.raises(ValueError, match="EMA decay must be in"):
        ModelEMA(Tiny(), decay=1.0)


@pytest.fixture
def joint_cfg(tmp_path, tiny_coco):
    strong_json, root, _ = tiny_coco(strong=True, num_images=6)
    weak_json, _, _ = tiny_coco(strong=False, num_images=6)
    names = [unique_name("ema_strong"), unique_name("ema_weak")]
    register_wsdet_coco(names[0], strong_json, root)
    register_wsdet_coco(names[1], weak_json, root)

    def make(out, *opts):
        return build_config(os.path.join(CONFIGS, "bus_joint.yaml"), [
            *instant_opts("rcnn"), "DATASETS.TRAIN", str(tuple(names)), "DATASETS.TEST", "()",
            "OUTPUT_DIR", str(out), "WSDET.MODEL_EMA.ENABLED", "True", "WSDET.MODEL_EMA.DECAY", "0.6", *opts])

    return make


def test_bad_decay_is_refused(joint_cfg, tmp_path):
    with pytest.raises(ConfigError, match=r"WSDET.MODEL_EMA.DECAY is 1.5; it must be in \(0, 1\)"):
        check_config(joint_cfg(tmp_path, "WSDET.MODEL_EMA.DECAY", "1.5"))


@pytest.mark.slow
def test_final_model_is_the_average_and_a_resumed_run_keeps_it(joint_cfg, tmp_path):
    def train(out, resume=False):
        trainer = WSDetTrainer(joint_cfg(out, "SOLVER.MAX_ITER", "4", "SOLVER.CHECKPOINT_PERIOD", "2"))
        trainer.resume_or_load(resume=resume)
        trainer.train()
        return trainer

    full = train(tmp_path / "full")
    ema = next(h for h in full._hooks if isinstance(h, ModelEMA))
    order = [type(h) for h in full._hooks]
    assert order.index(ModelEMA) < order.index(PeriodicCheckpointer)  # model_final.pth gets the average
    final = torch.load(tmp_path / "full" / "model_final.pth", weights_only=True)
    assert ema.updates == 4 and final["trainer"]["hooks"]["ModelEMA"]["updates"] == 4
    assert all(torch.equal(final["model"][k], ema.averaged[k]) for k in ema.averaged)
    middle = torch.load(tmp_path / "full" / "model_0000001.pth", weights_only=True)
    averaged_then = middle["trainer"]["hooks"]["ModelEMA"]["averaged"]
    assert any(not torch.equal(middle["model"][k], averaged_then[k]) for k in averaged_then)  # weights kept

    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    shutil.copy(tmp_path / "full" / "model_0000001.pth", resumed_dir)
    (resumed_dir / "last_checkpoint").write_text("model_0000001.pth")
    train(resumed_dir, resume=True)
    again = torch.load(resumed_dir / "model_final.pth", weights_only=True)
    assert all(torch.equal(again["model"][k], final["model"][k]) for k in final["model"])
