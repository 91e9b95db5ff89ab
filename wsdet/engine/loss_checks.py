"""Stop training at a non-finite or exploding loss, before the backward pass and the optimizer step."""
import math
from typing import Mapping

import torch
from detectron2.utils import comm
from detectron2.utils.events import get_event_storage
from torch.utils.hooks import RemovableHandle

__all__ = ["add_loss_check", "check_losses"]

_ADVICE = (
    "Lower SOLVER.BASE_LR, lengthen SOLVER.WARMUP_ITERS or enable SOLVER.CLIP_GRADIENTS, then resume "
    "from the last checkpoint with the new values (--resume SOLVER.BASE_LR ...: the resumed run uses them)."
)


def check_losses(loss_dict: Mapping[str, torch.Tensor], iteration: int, max_loss: float = math.inf) -> None:
    """
    Raise ``FloatingPointError`` naming each NaN / infinite loss term and the iteration, or when the
    total loss exceeds ``max_loss`` (weights that explode without a NaN).
    """
    values = {name: loss.detach().float() for name, loss in loss_dict.items()}
    total = torch.stack([v.sum() for v in values.values()]).sum()
    if bool(total.isfinite()) and total.item() <= max_loss:
        return
    every = ", ".join(f"{name}={v.sum().item():.4g}" for name, v in values.items())
    where = f"at iteration {iteration} (rank {comm.get_rank()}); losses: {every}."
    bad = ", ".join(f"{name} is {v.sum().item()}" for name, v in values.items() if not v.isfinite().all())
    if bad:
        raise FloatingPointError(f"{bad} {where} {_ADVICE}")
    raise FloatingPointError(
        f"the total loss {total.item():.4g} exceeds WSDET.SOLVER.MAX_LOSS ({max_loss:g}): training "
        f"diverged {where} {_ADVICE}"
    )


def add_loss_check(model: torch.nn.Module, max_loss: float = math.inf) -> RemovableHandle:
    """
    Check the losses that ``model`` returns in training (:func:`check_losses`) on every forward pass:
    a forward hook, so the check runs before the backward pass and the optimizer step, and the last
    checkpoint is never a diverged model. Returns the hook's handle.
    """

    def hook(module: torch.nn.Module, inputs, outputs) -> None:
        if module.training and isinstance(outputs, Mapping):
            check_losses(outputs, get_event_storage().iter, max_loss)

    return model.register_forward_hook(hook)
