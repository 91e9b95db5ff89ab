"""Detectron2's training steps with a non-finite loss check that names the loss term."""
from typing import Mapping, Optional

import torch
from detectron2.engine import AMPTrainer, SimpleTrainer
from detectron2.utils import comm

__all__ = ["CheckedAMPTrainer", "CheckedSimpleTrainer", "check_finite_losses"]


def check_finite_losses(loss_dict: Mapping[str, torch.Tensor], iteration: int) -> None:
    """Raise ``FloatingPointError`` naming each NaN / infinite loss term and the iteration."""
    values = {name: loss.detach().float() for name, loss in loss_dict.items()}
    if bool(torch.stack([v.sum() for v in values.values()]).isfinite().all()):
        return
    bad = ", ".join(f"{name} is {v.sum().item()}" for name, v in values.items() if not v.isfinite().all())
    every = ", ".join(f"{name}={v.sum().item():.4g}" for name, v in values.items())
    raise FloatingPointError(
        f"{bad} at iteration {iteration} (rank {comm.get_rank()}); losses: {every}. Lower "
        "SOLVER.BASE_LR, lengthen SOLVER.WARMUP_ITERS or enable SOLVER.CLIP_GRADIENTS, then resume "
        "from the last checkpoint (--resume)."
    )


class _LossCheckMixin:
    """Checks the losses of every step before they are logged and before the optimizer steps."""

    def _write_metrics(
        self,
        loss_dict: Mapping[str, torch.Tensor],
        data_time: float,
        prefix: str = "",
        iter: Optional[int] = None,
    ) -> None:
        check_finite_losses(loss_dict, self.iter if iter is None else iter)
        super()._write_metrics(loss_dict, data_time, prefix, iter)


class CheckedSimpleTrainer(_LossCheckMixin, SimpleTrainer):
    """:class:`SimpleTrainer` whose non-finite loss error names the term (on every process)."""


class CheckedAMPTrainer(_LossCheckMixin, AMPTrainer):
    """:class:`AMPTrainer` whose non-finite loss error names the term (on every process)."""
