"""Checks of a training config that concern several keys or the registered datasets, and would
otherwise fail late (mid-training or at the final evaluation).

Unknown keys and values of the wrong type are refused by yacs when the config is merged; a choice key
with an unknown value is refused by the object it configures, when that object is built.
"""
from typing import List

from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog
from detectron2.modeling.roi_heads import ROI_HEADS_REGISTRY

from ..modeling.mil_roi_heads import MILROIHeadsMixin

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
    ema = cfg.WSDET.MODEL_EMA
    if ema.ENABLED and not 0.0 < ema.DECAY < 1.0:
        problems.append(f"WSDET.MODEL_EMA.DECAY is {ema.DECAY}; it must be in (0, 1)")
    problems += mil_class_problems(cfg) + output_dir_problems(cfg)
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


def mil_class_problems(cfg: CfgNode) -> List[str]:
    """The MIL heads' per-class options against ``MODEL.ROI_HEADS.NUM_CLASSES`` (when MIL heads are used)."""
    name = cfg.MODEL.ROI_HEADS.NAME
    if name not in ROI_HEADS_REGISTRY or not issubclass(ROI_HEADS_REGISTRY.get(name), MILROIHeadsMixin):
        return []
    num_classes, mil = cfg.MODEL.ROI_HEADS.NUM_CLASSES, cfg.WSDET.MIL
    if num_classes < 1:
        return [f"MODEL.ROI_HEADS.NUM_CLASSES is {num_classes}; {name} needs at least one lesion class"]
    problems = []
    if not 0 <= mil.MALIGNANT_CLASS < num_classes:
        hint = "set WSDET.MIL.MALIGNANT_CLASS 0" if num_classes == 1 else f"0..{num_classes - 1}"
        problems.append(
            f"WSDET.MIL.MALIGNANT_CLASS is {mil.MALIGNANT_CLASS} but MODEL.ROI_HEADS.NUM_CLASSES is "
            f"{num_classes}: the malignant class of {name} is one of the lesion classes ({hint})"
        )
    if isinstance(mil.CLASS_WEIGHTS, (list, tuple)) and mil.CLASS_WEIGHTS and len(mil.CLASS_WEIGHTS) != num_classes:
        problems.append(
            f"WSDET.MIL.CLASS_WEIGHTS has {len(mil.CLASS_WEIGHTS)} weights but MODEL.ROI_HEADS.NUM_CLASSES "
            f"is {num_classes}: give one per lesion class, [] for 1 each, or \"auto\""
        )
    return problems


def output_dir_problems(cfg: CfgNode) -> List[str]:
    """A training run needs an output folder: without one Detectron2 silently saves no checkpoint."""
    if cfg.OUTPUT_DIR.strip():
        return []
    return [
        "OUTPUT_DIR is empty: no checkpoint would be saved and logs and metrics would go to the current "
        "folder; set OUTPUT_DIR to the run's folder"
    ]


def check_config(cfg: CfgNode) -> None:
    """Raise :class:`ConfigError` listing every problem of :func:`config_problems`, if any."""
    problems = config_problems(cfg)
    if problems:
        raise ConfigError(
            "Invalid config:\n" + "\n".join(f"  - {problem}" for problem in problems)
        )
