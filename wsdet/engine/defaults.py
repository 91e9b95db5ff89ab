"""Config set-up and command-line dataset registration shared by wsdet's tools."""
import logging
from argparse import ArgumentParser, Namespace
from typing import List, Sequence

import torch
from detectron2.config import CfgNode, get_cfg
from detectron2.data import DatasetCatalog
from detectron2.engine import default_setup

from ..config import add_wsdet_config
from ..data import register_wsdet_coco

logger = logging.getLogger(__name__)


def add_dataset_arguments(parser: ArgumentParser) -> None:
    """``--dataset`` / ``--strong-dataset`` / ``--weak-dataset NAME JSON IMAGE_ROOT`` (repeatable)."""
    for flag, supervision in (
        ("--dataset", "inferred from the file"),
        ("--strong-dataset", "strong"),
        ("--weak-dataset", "weak"),
    ):
        parser.add_argument(
            flag,
            nargs=3,
            action="append",
            default=[],
            metavar=("NAME", "JSON", "IMAGE_ROOT"),
            help="register a COCO JSON with image-level labels before the config is read "
            f"(repeatable); supervision: {supervision}",
        )


def register_cli_datasets(args: Namespace) -> None:
    """Register the datasets given by :func:`add_dataset_arguments` flags."""
    for specs, supervision in (
        (args.dataset, None),
        (args.strong_dataset, "strong"),
        (args.weak_dataset, "weak"),
    ):
        for name, json_file, image_root in specs:
            register_wsdet_coco(name, json_file, image_root, supervision=supervision)


def training_datasets(cfg: CfgNode, supervision: str) -> List[str]:
    """The datasets of ``cfg.DATASETS.TRAIN`` whose images have ``supervision`` ("strong" or "weak")."""
    names = []
    for name in cfg.DATASETS.TRAIN:
        dicts = DatasetCatalog.get(name)
        if dicts and dicts[0]["supervision"] == supervision:
            names.append(name)
    return names


def build_config(config_file: str, opts: Sequence[str] = ()) -> CfgNode:
    """Detectron2 defaults + wsdet keys, merged with a YAML file and ``KEY VALUE`` overrides.

    ``MODEL.DEVICE`` falls back to "cpu" when CUDA is not available, so one config serves both.
    """
    cfg = get_cfg()
    add_wsdet_config(cfg)
    cfg.merge_from_file(config_file)
    cfg.merge_from_list(list(opts))
    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        logger.warning("CUDA is not available: running on the CPU")
        cfg.MODEL.DEVICE = "cpu"
    return cfg


def setup(args: Namespace) -> CfgNode:
    """Build the frozen config of a run and set up logging/output (Detectron2's ``default_setup``)."""
    cfg = build_config(args.config_file, args.opts)
    cfg.freeze()
    default_setup(cfg, args)
    return cfg
