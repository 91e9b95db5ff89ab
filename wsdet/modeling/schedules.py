"""Loss weights that change over training, as fvcore ``ParamScheduler``s evaluated at iterations."""
from typing import Sequence

from fvcore.common.param_scheduler import (
    CompositeParamScheduler,
    ConstantParamScheduler,
    LinearParamScheduler,
    MultiStepParamScheduler,
    ParamScheduler,
)

__all__ = ["IterationSchedule", "milestone_scheduler", "ramp_scheduler", "build_mil_alpha_schedule"]

MIL_ALPHA_SCHEDULES = ("static", "step_exp", "linear")


class IterationSchedule:
    """A ``ParamScheduler`` (a function of the fraction of training done) read at training iterations,
    as Detectron2's ``LRMultiplier`` reads the LR scheduler."""

    def __init__(self, scheduler: ParamScheduler, max_iter: int):
        if max_iter <= 0:
            raise ValueError(f"max_iter must be > 0, got {max_iter}")
        self.scheduler = scheduler
        self.max_iter = max_iter

    def __call__(self, iteration: int) -> float:
        return float(self.scheduler(min(max(iteration, 0), self.max_iter - 1) / self.max_iter))


def milestone_scheduler(values: Sequence[float], milestones: Sequence[int], max_iter: int) -> ParamScheduler:
    """``values[i]`` from iteration ``milestones[i - 1]`` (0 for i = 0) until ``milestones[i]``;
    milestones at or after ``max_iter`` are never reached."""
    inside = [m for m in milestones if 0 < m < max_iter]
    first = sum(1 for m in milestones if m <= 0)  # values already passed at iteration 0
    values = list(values[first : first + len(inside) + 1])
    if len(values) == 1:
        return ConstantParamScheduler(values[0])
    return MultiStepParamScheduler(values, num_updates=max_iter, milestones=inside)


def ramp_scheduler(start: float, end: float, ramp_iters: int, max_iter: int) -> ParamScheduler:
    """Linear from ``start`` at iteration 0 to ``end`` at ``ramp_iters``, then ``end``."""
    if ramp_iters <= 0:
        return ConstantParamScheduler(end)
    if ramp_iters >= max_iter:  # the ramp is cut by the end of training
        return LinearParamScheduler(start, start + (end - start) * max_iter / ramp_iters)
    fraction = ramp_iters / max_iter
    return CompositeParamScheduler(
        [LinearParamScheduler(start, end), ConstantParamScheduler(end)],
        lengths=[fraction, 1.0 - fraction],
        interval_scaling=["rescaled", "fixed"],
    )


def build_mil_alpha_schedule(
    name: str, value: float, period: int, ramp_iters: int, max_iter: int
) -> IterationSchedule:
    """
    alpha(t) of L = L_strong + alpha(t) * L_mil (``cfg.WSDET.MIL.ALPHA``):

    * ``"static"``: ``value``.
    * ``"step_exp"``: ``value * (1 - 0.99 * 0.9 ** (t // period))``, the schedule of the official code
      of Shin et al. (TMI 2019) with ``value=1, period=2000``: 0.01 at the start, rising towards ``value``.
    * ``"linear"``: rises linearly from 0 at t=0 to ``value`` at ``t=ramp_iters``, then stays there.
    """
    if name not in MIL_ALPHA_SCHEDULES:
        raise ValueError(
            f"Unknown alpha schedule {name!r} (WSDET.MIL.ALPHA.SCHEDULE); expected one of {MIL_ALPHA_SCHEDULES}."
        )
    if name == "static":
        scheduler = ConstantParamScheduler(value)
    elif name == "step_exp":
        if period <= 0:
            raise ValueError("The 'step_exp' alpha schedule needs WSDET.MIL.ALPHA.PERIOD > 0.")
        steps = -(-max_iter // period)
        values = [value * (1.0 - 0.99 * 0.9**k) for k in range(steps)]
        scheduler = milestone_scheduler(values, [period * k for k in range(1, steps)], max_iter)
    else:
        scheduler = ramp_scheduler(0.0, value, ramp_iters, max_iter)
    return IterationSchedule(scheduler, max_iter)
