"""Detectron2's DefaultTrainer adapted to wsdet data, evaluators and CPU (gloo) multi-process training."""
import logging
import os
import weakref
from typing import List, Optional

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, build_detection_test_loader
from detectron2.engine import AMPTrainer, DefaultTrainer, SimpleTrainer, TrainerBase
from detectron2.evaluation import COCOEvaluator, DatasetEvaluator, DatasetEvaluators
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger
from torch.nn.parallel import DistributedDataParallel

from ..data import WSDetDatasetMapper, build_wsdet_train_loader
from ..evaluation import EvalSettings, LocalizationEvaluator


def create_ddp_model(model: torch.nn.Module, **kwargs) -> torch.nn.Module:
    """Wrap in DistributedDataParallel when several processes run; CPU models get no ``device_ids``.

    (Detectron2's version always passes ``device_ids=[local_rank]``, which DDP rejects for CPU modules.)
    """
    if comm.get_world_size() == 1:
        return model
    if next(model.parameters()).device.type == "cuda":
        kwargs.setdefault("device_ids", [comm.get_local_rank()])
    return DistributedDataParallel(model, **kwargs)


def eval_settings_from_config(cfg: CfgNode) -> EvalSettings:
    """The localization evaluator's settings from ``cfg.WSDET.EVAL``."""
    e = cfg.WSDET.EVAL
    return EvalSettings(
        score_thresh=e.SCORE_THRESH,
        iou_thresh=e.IOU_THRESH,
        froc_criterion=e.FROC_CRITERION,
        n_resamples=e.BOOTSTRAP_RESAMPLES,
        seed=max(cfg.SEED, 0),
        cls_threshold=e.CLS_THRESH,
        pixel_threshold=e.PIXEL_THRESH if e.PIXEL_THRESH >= 0 else None,
    )


class WSDetTrainer(DefaultTrainer):
    """DefaultTrainer with the strong/weak training loader, wsdet mapper/evaluators and CPU DDP."""

    def __init__(self, cfg: CfgNode):
        TrainerBase.__init__(self)
        logger = logging.getLogger("detectron2")
        if not logger.isEnabledFor(logging.INFO):
            setup_logger()
        cfg = self.auto_scale_workers(cfg, comm.get_world_size())

        model = self.build_model(cfg)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)
        model = create_ddp_model(model, broadcast_buffers=False)
        self._trainer = (AMPTrainer if cfg.SOLVER.AMP.ENABLED else SimpleTrainer)(
            model, data_loader, optimizer
        )
        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = DetectionCheckpointer(model, cfg.OUTPUT_DIR, trainer=weakref.proxy(self))
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    @classmethod
    def build_train_loader(cls, cfg: CfgNode):
        return build_wsdet_train_loader(cfg)

    @classmethod
    def build_test_loader(cls, cfg: CfgNode, dataset_name: str):
        return build_detection_test_loader(
            cfg, dataset_name, mapper=WSDetDatasetMapper(cfg, is_train=False)
        )

    @classmethod
    def build_evaluator(
        cls, cfg: CfgNode, dataset_name: str, output_folder: Optional[str] = None
    ) -> DatasetEvaluator:
        output_folder = output_folder or os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name)
        evaluators: List[DatasetEvaluator] = [
            LocalizationEvaluator(
                dataset_name,
                output_folder,
                heatmap_size=cfg.WSDET.EVAL.HEATMAP_SIZE,
                settings=eval_settings_from_config(cfg),
            )
        ]
        if any("annotations" in d for d in DatasetCatalog.get(dataset_name)):
            evaluators.insert(
                0, COCOEvaluator(dataset_name, tasks=("bbox",), output_dir=output_folder)
            )
        return DatasetEvaluators(evaluators)
