"""Checks of a training config that concern several keys or the registered datasets, and would
otherwise fail late (mid-training or at the final evaluation).

Unknown keys and values of the wrong type are refused by yacs when the config is merged; a choice key
with an unknown value is refused by the object it configures, when that object is built.
"""
from typing import List

from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog


__all__ = ["ConfigError", "check_config", "config_problems"]


class ConfigError(ValueError):
    """A config with impossible values; the message lists every problem."""


def config_problems(cfg: CfgNode) -> List[str]:
    """Every problem found in a training config (empty when none)."""
    problems: List[str] = []
    registered = set(DatasetCatalog.list())
    for key in ("TRAIN", "TEST"):
        for name in getattr(cfg.DATASETS, key):
            if name not in registered:
                problems.append(
                    f"DATASETS.{key} names {name!r}, which is not registered (register it with "
                    "tools/train_net.py --dataset NAME JSON IMAGE_ROOT or wsdet.data.register_wsdet_coco)"
                )
    loader = cfg.WSDET.DATALOADER
    strong, weak = loader.STRONG_IMS_PER_BATCH, loader.WEAK_IMS_PER_BATCH
    if strong < 0 or weak < 0 or strong + weak == 0:
        problems.append(
            f"WSDET.DATALOADER.STRONG_IMS_PER_BATCH ({strong}) and WEAK_IMS_PER_BATCH ({weak}) must be "
            ">= 0 and not both 0"
        )
    elif loader.MODE in ("combined", "alternating") and cfg.SOLVER.IMS_PER_BATCH != strong + weak:
        problems.append(
            f"SOLVER.IMS_PER_BATCH is {cfg.SOLVER.IMS_PER_BATCH} but a combined batch holds "
            f"STRONG_IMS_PER_BATCH + WEAK_IMS_PER_BATCH = {strong + weak} images"
        )
    elif loader.MODE == "alternating" and not (strong and weak):
        problems.append(
            "WSDET.DATALOADER.MODE 'alternating' makes one step on box-annotated and one on image-labelled "
            "images each iteration: STRONG_IMS_PER_BATCH and WEAK_IMS_PER_BATCH must both be > 0"
        )
    problems += frozen_layers_problems(cfg)
    if cfg.SOLVER.REFERENCE_WORLD_SIZE:
        problems.append(
            "SOLVER.REFERENCE_WORLD_SIZE must be 0: automatic batch scaling does not scale "
            "WSDET.DATALOADER.STRONG/WEAK_IMS_PER_BATCH; set the batch for your number of processes"
        )
    for key in ("MAX_ITER", "CHECKPOINT_PERIOD"):
        if getattr(cfg.SOLVER, key) <= 0:
            problems.append(f"SOLVER.{key} is {getattr(cfg.SOLVER, key)}; it must be > 0")
    return problems


def frozen_layers_problems(cfg: CfgNode) -> List[str]:
    """A model whose frozen layers (``BACKBONE.FREEZE_AT``, ``FrozenBN``) would keep their random
    initialization: refused, since it can never learn what those layers should do."""
    frozen = []
    if cfg.MODEL.BACKBONE.FREEZE_AT > 0:
        frozen.append(f"MODEL.BACKBONE.FREEZE_AT {cfg.MODEL.BACKBONE.FREEZE_AT}")
    if cfg.MODEL.RESNETS.NORM == "FrozenBN":
        frozen.append("MODEL.RESNETS.NORM FrozenBN")
    if cfg.MODEL.WEIGHTS or not frozen:
        return []
    return [
        f"MODEL.WEIGHTS is empty but {' and '.join(frozen)} freeze layers at their random initialization: "
        "set MODEL.WEIGHTS to pretrained weights (e.g. a local copy of ImageNet R-50.pkl, see the README) "
        "or train every layer (FREEZE_AT 0, NORM BN)"
    ]


def check_config(cfg: CfgNode) -> None:
    """Raise :class:`ConfigError` listing every problem of :func:`config_problems`, if any."""
    problems = config_problems(cfg)
    if problems:
        raise ConfigError(
            "Invalid config:\n" + "\n".join(f"  - {problem}" for problem in problems)
        )
