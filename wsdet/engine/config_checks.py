"""Checks of a training config that would otherwise fail late (mid-training or at the final evaluation).

Unknown keys and values of the wrong type are already refused by yacs when the config is merged.
"""
from typing import List

from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog
from detectron2.modeling.roi_heads import ROI_HEADS_REGISTRY

from ..data.build import ON_IMAGE_ERROR
from ..data.samplers import MODES
from ..modeling import MOI_VARIANTS, AlphaSchedule
from ..modeling.cam.attention_mining import ACCURACY_MODES
from ..modeling.mil_roi_heads import MILROIHeadsMixin

__all__ = ["ConfigError", "check_config", "config_problems"]


class ConfigError(ValueError):
    """A config with impossible values; the message lists every problem."""


def _one_of(problems: List[str], key: str, value, allowed) -> None:
    if value not in allowed:
        problems.append(f"{key} is {value!r}; expected one of {tuple(allowed)}")


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
    _one_of(problems, "WSDET.DATALOADER.MODE", loader.MODE, MODES)
    _one_of(problems, "WSDET.DATALOADER.ON_IMAGE_ERROR", loader.ON_IMAGE_ERROR, ON_IMAGE_ERROR)
    strong, weak = loader.STRONG_IMS_PER_BATCH, loader.WEAK_IMS_PER_BATCH
    if strong < 0 or weak < 0 or strong + weak == 0:
        problems.append(
            f"WSDET.DATALOADER.STRONG_IMS_PER_BATCH ({strong}) and WEAK_IMS_PER_BATCH ({weak}) must be "
            ">= 0 and not both 0"
        )
    elif loader.MODE == "combined" and cfg.SOLVER.IMS_PER_BATCH != strong + weak:
        problems.append(
            f"SOLVER.IMS_PER_BATCH is {cfg.SOLVER.IMS_PER_BATCH} but a combined batch holds "
            f"STRONG_IMS_PER_BATCH + WEAK_IMS_PER_BATCH = {strong + weak} images"
        )
    if cfg.SOLVER.REFERENCE_WORLD_SIZE:
        problems.append(
            "SOLVER.REFERENCE_WORLD_SIZE must be 0: automatic batch scaling does not scale "
            "WSDET.DATALOADER.STRONG/WEAK_IMS_PER_BATCH; set the batch for your number of processes"
        )
    mil = cfg.WSDET.MIL
    _one_of(problems, "WSDET.MIL.MOI", mil.MOI, MOI_VARIANTS)
    _one_of(problems, "WSDET.MIL.ALPHA.SCHEDULE", mil.ALPHA.SCHEDULE, AlphaSchedule.SCHEDULES)
    _one_of(
        problems,
        "WSDET.CAM.ATTENTION_MINING.ACCURACY",
        cfg.WSDET.CAM.ATTENTION_MINING.ACCURACY,
        ACCURACY_MODES,
    )
    for key in ("MAX_ITER", "CHECKPOINT_PERIOD"):
        if getattr(cfg.SOLVER, key) <= 0:
            problems.append(f"SOLVER.{key} is {getattr(cfg.SOLVER, key)}; it must be > 0")
    problems += mil_class_problems(cfg) + output_dir_problems(cfg)
    return problems


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
    if mil.CLASS_WEIGHTS and len(mil.CLASS_WEIGHTS) != num_classes:
        problems.append(
            f"WSDET.MIL.CLASS_WEIGHTS has {len(mil.CLASS_WEIGHTS)} weights but MODEL.ROI_HEADS.NUM_CLASSES "
            f"is {num_classes}: give one per lesion class, or [] for 1 each"
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
