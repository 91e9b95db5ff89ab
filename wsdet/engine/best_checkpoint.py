"""Validation-based model selection: evaluate a validation set during training and keep the best model."""
import logging
import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from detectron2.data import DatasetCatalog
from detectron2.engine import DefaultTrainer, EvalHook, HookBase
from detectron2.evaluation.testing import flatten_results_dict

__all__ = ["BestValidationCheckpointer", "add_best_checkpointer"]

logger = logging.getLogger(__name__)

MODES = ("max", "min")


class BestValidationCheckpointer(EvalHook):
    """
    Every ``eval_period`` iterations and after the last one (Detectron2's :class:`EvalHook`), evaluates a
    validation set, logs its metrics as ``<dataset>/<task>/<metric>`` and saves the model as
    ``<file_prefix>.pth`` when it is the best so far: the best first criterion, ties broken by the
    next ones, then by the earliest iteration. An evaluation whose first metric is NaN is not a
    candidate. The best iteration and values are part of the trainer's state, so a resumed run goes on
    with the same selection.

    Unlike Detectron2's ``BestCheckpointer``, which reads a metric of the ``DATASETS.TEST`` evaluation,
    this hook evaluates its own (validation) set and breaks ties.
    """

    def __init__(
        self,
        eval_period: int,
        eval_function: Callable[[], Optional[Dict[str, Any]]],
        checkpointer: Any,
        dataset: str,
        criteria: Sequence[Tuple[str, str]],
        file_prefix: str = "model_best",
    ):
        """
        Args:
            eval_period: iterations between evaluations (0: only after training).
            eval_function: evaluates the model on the validation set: ``{task: {metric: value}}`` in the
                main process (anything in the others).
            checkpointer: saves the model (Detectron2 ``Checkpointer``).
            dataset: name of the validation set (a prefix of the logged metrics).
            criteria: ("task/metric", "max" or "min"), the first selects, the next break ties.
            file_prefix: name of the saved file, without ".pth".
        """
        super().__init__(eval_period, self._evaluate_and_select)
        if not criteria:
            raise ValueError("BestValidationCheckpointer needs at least one metric")
        for metric, mode in criteria:
            if mode not in MODES:
                raise ValueError(f"Unknown mode {mode!r} of metric {metric!r}; expected one of {MODES}")
        self._evaluate = eval_function
        self._checkpointer = checkpointer
        self._dataset = dataset
        self._criteria = list(criteria)
        self._file_prefix = file_prefix
        self.best_iter: Optional[int] = None
        self.best_values: List[float] = []

    def _key(self, values: Sequence[float]) -> Tuple[float, ...]:
        """Larger is better; a NaN tie-break value counts as the worst."""
        signs = [1.0 if mode == "max" else -1.0 for _, mode in self._criteria]
        return tuple(-math.inf if math.isnan(v) else s * v for s, v in zip(signs, values))

    def _describe(self, values: Sequence[float]) -> str:
        return ", ".join(f"{metric} {value:.5f}" for (metric, _), value in zip(self._criteria, values))

    def _evaluate_and_select(self) -> Optional[Dict[str, Any]]:
        results = self._evaluate()
        if not results:  # not the main process
            return results
        flat = flatten_results_dict(results)
        missing = [metric for metric, _ in self._criteria if metric not in flat]
        if missing:
            raise KeyError(
                f"model selection metric(s) {missing} not in the results on {self._dataset!r}; "
                f"available: {sorted(flat)}"
            )
        values = [float(flat[metric]) for metric, _ in self._criteria]
        iteration = min(self.trainer.iter, self.trainer.max_iter - 1)  # after training, trainer.iter is past it
        if math.isnan(values[0]):
            logger.warning("Iteration %d: %s is NaN on %s, not a candidate", iteration, self._criteria[0][0],
                           self._dataset)
        elif self.best_iter is None or self._key(values) > self._key(self.best_values):
            self.best_iter, self.best_values = iteration, values
            self._checkpointer.save(self._file_prefix, iteration=iteration)
            logger.info("Iteration %d is the best on %s so far (%s): saved %s.pth", iteration, self._dataset,
                        self._describe(values), self._file_prefix)
        else:
            logger.info("Iteration %d (%s) does not beat iteration %d (%s) on %s", iteration,
                        self._describe(values), self.best_iter, self._describe(self.best_values), self._dataset)
        return {self._dataset: results}

    def after_train(self):
        super().after_train()
        del self._evaluate  # a closure holding the trainer, like EvalHook's function
        if self.best_iter is not None:
            logger.info("%s.pth: iteration %d, the best on %s (%s)", self._file_prefix, self.best_iter,
                        self._dataset, self._describe(self.best_values))

    def state_dict(self) -> Dict[str, Any]:
        if self.best_iter is None:
            return {}
        return {"best_iter": self.best_iter, "best_values": list(self.best_values)}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.best_iter = state_dict["best_iter"]
        self.best_values = list(state_dict["best_values"])


def add_best_checkpointer(trainer: DefaultTrainer, hooks: List[Optional[HookBase]]) -> List[Optional[HookBase]]:
    """
    ``hooks`` with a :class:`BestValidationCheckpointer` right after the ``DATASETS.TEST`` evaluation
    when ``WSDET.BEST_CHECKPOINT.DATASET`` is set (every ``TEST.EVAL_PERIOD`` iterations, with
    ``trainer.test``), else ``hooks`` unchanged.
    """
    cfg = trainer.cfg
    best = cfg.WSDET.BEST_CHECKPOINT
    if not best.DATASET:
        return hooks
    if best.DATASET not in DatasetCatalog.list():
        raise ValueError(f"WSDET.BEST_CHECKPOINT.DATASET {best.DATASET!r} is not a registered dataset")
    val_cfg = cfg.clone()
    val_cfg.defrost()
    val_cfg.DATASETS.TEST = (best.DATASET,)
    val_cfg.freeze()
    criteria = [(best.METRIC, best.MODE)] + ([(best.TIE_METRIC, best.TIE_MODE)] if best.TIE_METRIC else [])
    hook = BestValidationCheckpointer(
        cfg.TEST.EVAL_PERIOD,
        lambda: trainer.test(val_cfg, trainer.model),
        trainer.checkpointer,
        best.DATASET,
        criteria,
    )
    at = next(i for i, h in enumerate(hooks) if isinstance(h, EvalHook)) + 1
    return hooks[:at] + [hook] + hooks[at:]
