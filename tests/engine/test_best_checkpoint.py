"""BestValidationCheckpointer: when it evaluates, which iteration it keeps (ties, NaN, min mode), its state."""
import math
from types import SimpleNamespace

import pytest

from detectron2.utils.events import EventStorage

from wsdet.engine import BestValidationCheckpointer


class FakeCheckpointer:
    def __init__(self):
        self.saved = []

    def save(self, name, **kwargs):
        self.saved.append((name, kwargs["iteration"]))


def run(results_by_iter, criteria, period=10, max_iter=40):
    """Steps a fake trainer through ``max_iter`` iterations as Detectron2 does (its counter is max_iter after
    training); the evaluation after iteration t returns ``results_by_iter[t]``. Returns the hook, the
    checkpointer, the iterations evaluated and the logged metrics."""
    checkpointer = FakeCheckpointer()
    evaluated = []
    trainer = SimpleNamespace(iter=0, max_iter=max_iter)

    def evaluate():
        evaluated.append(min(trainer.iter, max_iter - 1))
        return results_by_iter[evaluated[-1]]

    hook = BestValidationCheckpointer(period, evaluate, checkpointer, "val", criteria)
    hook.trainer = trainer
    with EventStorage() as storage:
        trainer.storage = storage
        for t in range(max_iter):
            trainer.iter = storage.iter = t
            hook.after_step()
        trainer.iter = storage.iter = max_iter
        hook.after_train()
        logged = storage.latest()
    return hook, checkpointer, evaluated, logged


def metrics(accuracy, pxap=0.0):
    return {"classification": {"mean_accuracy": accuracy}, "heatmap": {"pxap": pxap}}


def test_best_iteration_with_tie_break():
    results = {9: metrics(0.6, 0.2), 19: metrics(0.8, 0.1), 29: metrics(0.8, 0.3), 39: metrics(0.8, 0.3)}
    criteria = [("classification/mean_accuracy", "max"), ("heatmap/pxap", "max")]
    hook, checkpointer, evaluated, logged = run(results, criteria)
    assert evaluated == [9, 19, 29, 39]  # every period, the last one after training
    # 19 beats 9 on accuracy; 29 ties 19 on accuracy and wins on PxAP; 39 ties 29 on both: the earlier stays
    assert checkpointer.saved == [("model_best", 9), ("model_best", 19), ("model_best", 29)]
    assert (hook.best_iter, hook.best_values) == (29, [0.8, 0.3])
    assert logged["val/heatmap/pxap"] == (0.3, 40)  # the evaluation is logged under the dataset name

    without_tie_break = run(results, criteria[:1])[1]
    assert without_tie_break.saved == [("model_best", 9), ("model_best", 19)]


def test_min_mode_nan_and_state():
    results = {9: metrics(math.nan), 19: metrics(0.5), 29: metrics(0.2), 39: metrics(0.3)}
    hook, checkpointer, _, _ = run(results, [("classification/mean_accuracy", "min")])
    assert checkpointer.saved == [("model_best", 19), ("model_best", 29)]  # NaN is no candidate
    state = hook.state_dict()
    assert state == {"best_iter": 29, "best_values": [0.2]}
    resumed = BestValidationCheckpointer(10, dict, FakeCheckpointer(), "val", [("classification/mean_accuracy", "min")])
    assert resumed.state_dict() == {}
    resumed.load_state_dict(state)
    assert (resumed.best_iter, resumed.best_values) == (29, [0.2])


def test_missing_metric_and_bad_mode_are_refused():
    with pytest.raises(KeyError, match="'classification/auc'.*available"):
        run({9: metrics(0.5)}, [("classification/auc", "max")], max_iter=10)
    with pytest.raises(ValueError, match="Unknown mode 'best'"):
        BestValidationCheckpointer(10, dict, FakeCheckpointer(), "val", [("classification/mean_auc", "best")])
