"""Detectron2's DefaultTrainer adapted to wsdet data and evaluators, multi-process CPU training and faults."""
import logging
import os
import weakref
from typing import List, Optional

import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, build_detection_test_loader
from detectron2.engine import AMPTrainer, DefaultTrainer, HookBase, SimpleTrainer, TrainerBase, hooks
from detectron2.evaluation import COCOEvaluator, DatasetEvaluator, DatasetEvaluators
from detectron2.solver import get_default_optimizer_params
from detectron2.solver.build import maybe_add_gradient_clipping
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from ..data import WSDetDatasetMapper, build_wsdet_train_loader
from ..evaluation import EvalSettings, LocalizationEvaluator, save_results_json
from ..evaluation.report import json_safe
from ..modeling import class_weights_from_counts
from ..visualization.evaluation_figures import EvaluationFigures
from .alternating import AlternatingStepTrainer
from .best_checkpoint import add_best_checkpointer
from .checkpoint import WSDetCheckpointer
from .config_checks import check_config
from .distributed import broadcast_buffers, create_ddp_model
from .hooks import IterationSeeder, SkippedImagesReport
from .loss_checks import add_loss_check
from .model_ema import add_model_ema

logger = logging.getLogger(__name__)


def set_mil_class_weights_from_data(cfg: CfgNode, model: torch.nn.Module) -> None:
    """``WSDET.MIL.CLASS_WEIGHTS "auto"``: the MIL class weights from the weak training images."""
    weak = [d for name in cfg.DATASETS.TRAIN for d in DatasetCatalog.get(name) if d["supervision"] == "weak"]
    counts = [0] * cfg.MODEL.ROI_HEADS.NUM_CLASSES
    for d in weak:
        for c in d["image_labels"]:
            counts[c] += 1
    weights = class_weights_from_counts(counts)
    model.roi_heads.set_mil_class_weights(weights)
    logger.info("MIL class weights from %d weak images (lesion counts %s): %s", len(weak), counts,
                [round(w, 4) for w in weights])


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
    """
    DefaultTrainer with the strong/weak training loader, wsdet mapper/evaluators, CPU DDP, and:

    * the config checked before anything is built (:func:`check_config`);
    * exact resumption: checkpoints (written atomically, loaded safely: :class:`WSDetCheckpointer`) hold
      the model, optimizer, scheduler and iteration; the training loader restarts at the resumed
      iteration and the random state of each step is a function of (``SEED``, rank, iteration);
    * a non-finite loss, or a total loss above ``WSDET.SOLVER.MAX_LOSS``, stops training before the
      optimizer step, naming the loss terms and iteration; a resumed run uses the config's LR;
    * evaluation with the main process's BatchNorm statistics on every process.
    """

    def __init__(self, cfg: CfgNode):
        # DefaultTrainer.__init__ written out: it wraps the model in DDP with device_ids=[local rank],
        # which fails in CPU (gloo) processes, and no public method lets a subclass change that.
        TrainerBase.__init__(self)
        for name in ("detectron2", "wsdet"):
            if not logging.getLogger(name).isEnabledFor(logging.INFO):
                setup_logger(distributed_rank=comm.get_rank(), name=name)
        check_config(cfg)
        cfg = self.auto_scale_workers(cfg, comm.get_world_size())

        model = self.build_model(cfg)
        if cfg.WSDET.MIL.CLASS_WEIGHTS == "auto":
            set_mil_class_weights_from_data(cfg, model)
        optimizer = self.build_optimizer(cfg, model)
        data_loader = self.build_train_loader(cfg)
        self._configured_lrs = [group["lr"] for group in optimizer.param_groups]
        model = create_ddp_model(model, sync_buffers=False)
        add_loss_check(model, cfg.WSDET.SOLVER.MAX_LOSS)
        self.weak_optimizer = self.weak_scheduler = None
        if cfg.WSDET.DATALOADER.MODE == "alternating":
            self.weak_optimizer = self.build_optimizer(cfg, model)
            self.weak_scheduler = self.build_lr_scheduler(cfg, self.weak_optimizer)
            self._trainer = AlternatingStepTrainer(model, data_loader, optimizer, self.weak_optimizer)
        else:
            self._trainer = (AMPTrainer if cfg.SOLVER.AMP.ENABLED else SimpleTrainer)(model, data_loader, optimizer)
        self.scheduler = self.build_lr_scheduler(cfg, optimizer)
        self.checkpointer = WSDetCheckpointer(
            model,
            cfg.OUTPUT_DIR,
            allow_unsafe=cfg.WSDET.ALLOW_UNSAFE_CHECKPOINTS,
            trainer=weakref.proxy(self),
        )
        if self.weak_optimizer is not None:
            self.checkpointer.add_checkpointable("weak_optimizer", self.weak_optimizer)
            self.checkpointer.add_checkpointable("weak_scheduler", self.weak_scheduler)
        self.start_iter = 0
        self.max_iter = cfg.SOLVER.MAX_ITER
        self.cfg = cfg
        self.register_hooks(self.build_hooks())

    def resume_or_load(self, resume: bool = True) -> None:
        """
        As DefaultTrainer; a resumed run also restarts the training loader at ``start_iter`` and
        follows the config's ``SOLVER.BASE_LR`` (and per-group factors) rather than the checkpoint's.
        """
        super().resume_or_load(resume)
        if self.start_iter == 0:
            return
        self._use_configured_lrs()
        if self.cfg.SEED < 0:
            logger.warning(
                "SEED < 0: the resumed run draws a new image order and new random numbers; "
                "set SEED >= 0 for runs that resume exactly"
            )
        self._trainer.reset_data_loader(
            lambda: self.build_train_loader(self.cfg, start_iter=self.start_iter)
        )

    def _use_configured_lrs(self) -> None:
        """Base LRs of the config, not of the loaded optimizer/scheduler state (which resuming restores)."""
        loaded = [group.get("initial_lr", group["lr"]) for group in self.optimizer.param_groups]
        if loaded == self._configured_lrs:
            return
        logger.warning(
            "Resuming with the config's base LR %g instead of the checkpoint's %g",
            self._configured_lrs[0],
            loaded[0],
        )
        pairs = [(self.optimizer, self.scheduler), (self.weak_optimizer, self.weak_scheduler)]
        for optimizer, scheduler in pairs[: 2 if self.weak_optimizer is not None else 1]:
            for group, new in zip(optimizer.param_groups, self._configured_lrs):
                old = group.get("initial_lr", group["lr"])
                group["lr"] = group["lr"] * new / old if old else new  # same schedule multiplier
                group["initial_lr"] = new
            scheduler.base_lrs = list(self._configured_lrs)

    def build_hooks(self) -> List[Optional[HookBase]]:
        """DefaultTrainer's hooks, after the per-step seeding (``SEED >= 0``), with the weight average
        (``WSDET.MODEL_EMA``) and the validation-based selection (``WSDET.BEST_CHECKPOINT``), then the LR
        schedule of the second optimizer (``WSDET.DATALOADER.MODE "alternating"``) and the skip report."""
        seeder = [IterationSeeder(self.cfg.SEED)] if self.cfg.SEED >= 0 else []
        weak_lr = []
        if self.weak_optimizer is not None:
            weak_lr = [hooks.LRScheduler(optimizer=self.weak_optimizer, scheduler=self.weak_scheduler)]
        default_hooks = add_model_ema(self, add_best_checkpointer(self, super().build_hooks()))
        return seeder + default_hooks + weak_lr + [SkippedImagesReport()]

    @classmethod
    def build_optimizer(cls, cfg: CfgNode, model: torch.nn.Module) -> torch.optim.Optimizer:
        """Detectron2's SGD, or Adam (``WSDET.SOLVER.OPTIMIZER``) with the same parameter groups."""
        name = cfg.WSDET.SOLVER.OPTIMIZER
        if name == "SGD":
            return super().build_optimizer(cfg, model)
        if name != "Adam":
            raise ValueError(f"WSDET.SOLVER.OPTIMIZER must be 'SGD' or 'Adam', got {name!r}")
        params = get_default_optimizer_params(
            model,
            base_lr=cfg.SOLVER.BASE_LR,
            weight_decay_norm=cfg.SOLVER.WEIGHT_DECAY_NORM,
            bias_lr_factor=cfg.SOLVER.BIAS_LR_FACTOR,
            weight_decay_bias=cfg.SOLVER.WEIGHT_DECAY_BIAS,
        )
        adam = torch.optim.Adam(
            params, lr=cfg.SOLVER.BASE_LR, eps=cfg.WSDET.SOLVER.ADAM_EPSILON, weight_decay=cfg.SOLVER.WEIGHT_DECAY
        )
        return maybe_add_gradient_clipping(cfg, adam)

    @classmethod
    def build_train_loader(cls, cfg: CfgNode, start_iter: int = 0):
        return build_wsdet_train_loader(cfg, start_iter=start_iter)

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
        settings = eval_settings_from_config(cfg)
        figures = None
        if cfg.WSDET.EVAL.FIGURES:
            figures = EvaluationFigures(
                dataset_name, output_folder, settings, num_examples=cfg.WSDET.EVAL.NUM_EXAMPLES
            )
        evaluators: List[DatasetEvaluator] = [
            LocalizationEvaluator(
                dataset_name,
                output_folder,
                heatmap_size=cfg.WSDET.EVAL.HEATMAP_SIZE,
                settings=settings,
                figure_writer=figures,
            )
        ]
        if any("annotations" in d for d in DatasetCatalog.get(dataset_name)):
            evaluators.insert(
                0, COCOEvaluator(dataset_name, tasks=("bbox",), output_dir=output_folder)
            )
        return DatasetEvaluators(evaluators)

    @classmethod
    def test(cls, cfg: CfgNode, model: torch.nn.Module, evaluators=None):
        """
        As DefaultTrainer; every process first takes the main process's buffers (BatchNorm), and the
        main process saves each test set's ``{task: {metric: value}}`` results (COCO AP included) as
        ``OUTPUT_DIR/inference/<dataset>/results.json``.
        """
        broadcast_buffers(model)
        results = super().test(cfg, model, evaluators)
        if comm.is_main_process() and results:
            # DefaultTrainer.test unwraps the results of a single test set
            per_dataset = results if len(set(cfg.DATASETS.TEST)) > 1 else {cfg.DATASETS.TEST[0]: results}
            for dataset_name, dataset_results in per_dataset.items():
                save_results_json(  # NaN (a metric without data) as null: strict JSON
                    json_safe(dataset_results),
                    os.path.join(cfg.OUTPUT_DIR, "inference", dataset_name, "results.json"),
                )
        return results
