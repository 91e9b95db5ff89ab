"""Command-line parsers, config set-up and command-line dataset registration shared by wsdet's tools."""
import argparse
import logging
from argparse import ArgumentParser, Namespace
from typing import List, Optional, Sequence

import torch
from detectron2.config import CfgNode, get_cfg
from detectron2.data import DatasetCatalog
from detectron2.engine import default_setup

from ..config import add_wsdet_config
from ..data import register_wsdet_coco

logger = logging.getLogger(__name__)


def launch_argument_parser(description: str, epilog: Optional[str] = None) -> ArgumentParser:
    """
    A parser of what a config-driven tool started through Detectron2's ``launch`` takes:
    ``--config-file``, ``--num-gpus``, ``--num-machines``, ``--machine-rank``, ``--dist-url`` and
    trailing ``KEY VALUE`` config overrides (``opts``). Unlike ``default_argument_parser`` it has no
    ``--resume`` / ``--eval-only``, for tools that would ignore them; ``epilog`` (e.g. examples) is
    printed verbatim at the end of ``--help``.
    """
    parser = ArgumentParser(
        description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", required=True, metavar="FILE", help="a wsdet YAML config")
    parser.add_argument(
        "--num-gpus",
        type=int,
        default=1,
        help="processes per machine: one per GPU, or CPU processes (gloo) when no GPU is visible "
        "(default: %(default)s)",
    )
    parser.add_argument("--num-machines", type=int, default=1, help="machines (default: %(default)s)")
    parser.add_argument(
        "--machine-rank", type=int, default=0, help="this machine's rank, 0 on the first (default: %(default)s)"
    )
    parser.add_argument(
        "--dist-url",
        default="auto",
        help="tcp://IP_OF_MACHINE_0:PORT of the process group; 'auto' (default): a free local port, "
        "one machine only",
    )
    add_config_overrides(parser, "config overrides, e.g. MODEL.WEIGHTS model.pth SOLVER.BASE_LR 0.001")
    return parser


def model_tool_parser(
    description: str, config_help: str, epilog: Optional[str] = None, probed_dataset: Optional[str] = None
) -> ArgumentParser:
    """
    A parser of a tool that loads one trained model on one process: ``--config-file`` (required,
    described by ``config_help``), the :func:`add_dataset_arguments` flags and trailing ``KEY VALUE``
    config overrides. The tool adds its own flags to it. A tool that probes one dataset gives
    ``probed_dataset`` (what it must hold, for the help) and gets ``--dataset-name``, read with
    :func:`dataset_to_probe`.
    """
    parser = ArgumentParser(
        description=description, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config-file", required=True, metavar="FILE", help=config_help)
    if probed_dataset is not None:
        parser.add_argument(
            "--dataset-name", help=f"registered dataset {probed_dataset} (default: the config's first test set)"
        )
    add_dataset_arguments(parser)
    add_config_overrides(parser)
    return parser


def add_config_overrides(
    parser: ArgumentParser, help: str = "config overrides, e.g. MODEL.WEIGHTS model_final.pth"
) -> None:
    """Trailing ``KEY VALUE`` config overrides, read as ``args.opts`` (a list, empty by default)."""
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=[], metavar="KEY VALUE", help=help)


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
            help="register a COCO JSON with image-level labels as dataset NAME, images under "
            f"IMAGE_ROOT (repeatable); supervision: {supervision}",
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


def dataset_to_probe(args: Namespace, cfg: CfgNode) -> str:
    """The ``--dataset-name`` of a :func:`model_tool_parser` with ``probed_dataset``, else the config's
    first test set."""
    if args.dataset_name:
        return args.dataset_name
    if not cfg.DATASETS.TEST:
        raise SystemExit("the config has no test set (DATASETS.TEST): give --dataset-name")
    return cfg.DATASETS.TEST[0]


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
