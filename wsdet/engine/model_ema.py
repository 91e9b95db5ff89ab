"""An exponential moving average (EMA) of the model's weights, which becomes the final model."""
import logging
from typing import Any, Dict, List, Optional

import torch
from detectron2.engine import HookBase, hooks

__all__ = ["ModelEMA", "add_model_ema"]

logger = logging.getLogger(__name__)


class ModelEMA(HookBase):
    """
    Keeps the bias-corrected exponential average of every floating-point entry of the model's state dict
    (parameters and buffers such as BatchNorm statistics; integer buffers are copied) over the steps so
    far: after the n-th step, ``sum_k d^(n-k) (1 - d) w_k / (1 - d^n)``, so that step k weighs
    ``d^(n-k)`` relative to the last one, about the last ``1 / (1 - d)`` steps count, and the weights
    the run started from count for nothing. After the last step the model takes the averaged weights,
    before the final checkpoint (``model_final.pth``) is written and the final evaluation runs; the
    evaluations during training (``TEST.EVAL_PERIOD``) see the current weights.

    The average is part of the trainer's state, so a resumed run goes on with it.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self._model = getattr(model, "module", model)  # DDP: the wrapped model, whose keys checkpoints use
        self.decay = decay
        self.updates = 0
        self.averaged: Optional[Dict[str, torch.Tensor]] = None

    def before_train(self):
        weights = self._model.state_dict()
        if self.averaged is None:  # not loaded from a resumed checkpoint: start from the loaded weights
            self.averaged = {k: v.detach().clone() for k, v in weights.items()}
        else:  # a checkpoint's tensors are loaded on the CPU
            self.averaged = {k: v.to(weights[k].device) for k, v in self.averaged.items()}

    @torch.no_grad()
    def update(self) -> None:
        """One averaging step with the model's current weights."""
        self.updates += 1
        d, n = self.decay, self.updates
        keep = d * (1.0 - d ** (n - 1)) / (1.0 - d ** n)  # what the average so far weighs: 0 at n = 1
        for key, value in self._model.state_dict().items():
            average = self.averaged[key]
            if average.is_floating_point():
                average.lerp_(value.detach(), 1.0 - keep)
            else:
                average.copy_(value)

    def after_step(self):
        self.update()
        if self.trainer.iter == self.trainer.max_iter - 1:
            self._model.load_state_dict(self.averaged)
            logger.info("The model now holds the EMA of its weights (decay %g, %d updates)", self.decay,
                        self.updates)

    def state_dict(self) -> Dict[str, Any]:
        if self.averaged is None:
            return {}
        return {"updates": self.updates, "averaged": self.averaged}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.updates = state_dict["updates"]
        self.averaged = state_dict["averaged"]


def add_model_ema(trainer, hook_list: List[Optional[HookBase]]) -> List[Optional[HookBase]]:
    """``hook_list`` with a :class:`ModelEMA` right after the LR scheduler (so before the checkpointer
    and the evaluation) when ``WSDET.MODEL_EMA.ENABLED``, else ``hook_list`` unchanged."""
    ema = trainer.cfg.WSDET.MODEL_EMA
    if not ema.ENABLED:
        return hook_list
    at = next(i for i, h in enumerate(hook_list) if isinstance(h, hooks.LRScheduler)) + 1
    return hook_list[:at] + [ModelEMA(trainer.model, ema.DECAY)] + hook_list[at:]
