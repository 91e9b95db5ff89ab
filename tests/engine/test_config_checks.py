"""Config errors are found before anything is built: unknown keys (yacs) and impossible values."""
import glob
import os

import pytest

from wsdet.engine import ConfigError, WSDetTrainer, check_config
from wsdet.engine.defaults import build_config
from conftest import REPO, instant_opts, unique_name
from wsdet.data import register_wsdet_coco

JOINT = os.path.join(REPO, "configs", "bus_joint.yaml")


@pytest.mark.parametrize("config", sorted(glob.glob(os.path.join(REPO, "configs", "*.yaml"))))
def test_shipped_configs_pass(config):
    if os.path.basename(config).startswith("Base-"):
        pytest.skip("base configs are completed by their leaf configs")
    check_config(build_config(config))


@pytest.mark.parametrize(
    "key", ["WSDET.DATALOADER.STRONG_IMS_PER_BATHC", "WSDET.MIL.ALPHA.PERIODS", "SOLVER.LR"]
)
def test_unknown_key_on_command_line(key):
    with pytest.raises(AssertionError, match=f"Non-existent key: {key}"):  # yacs' merge_from_list
        build_config(JOINT, [key, "1"])


def test_unknown_key_in_yaml(tmp_path):
    config = tmp_path / "typo.yaml"
    config.write_text(f'_BASE_: "{JOINT}"\nWSDET:\n  MIL:\n    MOI_VARIANT: "most_malignant"\n')
    with pytest.raises(KeyError, match="Non-existent config key: WSDET.MIL.MOI_VARIANT"):
        build_config(str(config))


def test_wrong_type():
    with pytest.raises(ValueError, match="Type mismatch.*WSDET.DATALOADER.WEAK_IMS_PER_BATCH"):
        build_config(JOINT, ["WSDET.DATALOADER.WEAK_IMS_PER_BATCH", "'two'"])


@pytest.mark.parametrize(
    "opts, message",
    [
        (["SOLVER.IMS_PER_BATCH", "8"], "SOLVER.IMS_PER_BATCH is 8 but a combined batch holds"),
        (["WSDET.DATALOADER.STRONG_IMS_PER_BATCH", "0", "WSDET.DATALOADER.WEAK_IMS_PER_BATCH", "0"],
         "must be >= 0 and not both 0"),
        (["SOLVER.REFERENCE_WORLD_SIZE", "8"], "SOLVER.REFERENCE_WORLD_SIZE must be 0"),
        (["SOLVER.CHECKPOINT_PERIOD", "0"], "SOLVER.CHECKPOINT_PERIOD is 0"),
        (["DATASETS.TEST", "('no_such_test_set',)"], "DATASETS.TEST names 'no_such_test_set'"),
    ],
)
def test_impossible_values(opts, message):
    with pytest.raises(ConfigError, match=message):
        check_config(build_config(JOINT, opts))


def test_every_problem_in_one_error():
    opts = ["SOLVER.REFERENCE_WORLD_SIZE", "8", "SOLVER.CHECKPOINT_PERIOD", "0", "SOLVER.IMS_PER_BATCH", "3"]
    cfg = build_config(JOINT, opts)
    with pytest.raises(ConfigError) as info:
        check_config(cfg)
    assert str(info.value).count("\n  - ") == 3


@pytest.mark.parametrize(
    "opts, message",
    [
        (["WSDET.DATALOADER.MODE", "mixed"], "WSDET.DATALOADER.MODE must be one of"),
        (["WSDET.MIL.MOI", "most_suspicious"], "Unknown MoI variant 'most_suspicious' \\(WSDET.MIL.MOI\\)"),
        (["WSDET.MIL.ALPHA.SCHEDULE", "cosine"], "Unknown alpha schedule 'cosine' \\(WSDET.MIL.ALPHA.SCHEDULE\\)"),
        (["WSDET.DATALOADER.ON_IMAGE_ERROR", "ignore"], "WSDET.DATALOADER.ON_IMAGE_ERROR must be one of"),
    ],
)
def test_choice_keys_are_refused_before_training(opts, message, tmp_path, tiny_coco):
    """A choice key with an unknown value is refused by what it configures, while the trainer is built."""
    strong_json, root, _ = tiny_coco(strong=True)
    weak_json, _, _ = tiny_coco(strong=False)
    names = [unique_name("checks_strong"), unique_name("checks_weak")]
    register_wsdet_coco(names[0], strong_json, root)
    register_wsdet_coco(names[1], weak_json, root)
    cfg = build_config(JOINT, [*instant_opts("rcnn"), "DATASETS.TRAIN", str(tuple(names)), "DATASETS.TEST", "()",
                               "OUTPUT_DIR", str(tmp_path), "MODEL.DEVICE", "cpu", *opts])
    with pytest.raises(ValueError, match=message):
        WSDetTrainer(cfg)
