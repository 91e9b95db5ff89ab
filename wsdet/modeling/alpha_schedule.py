"""Weight alpha(t) of the weak-image loss in L = L_strong + alpha(t) * L_mil."""
from detectron2.config import configurable

__all__ = ["AlphaSchedule"]


class AlphaSchedule:
    """
    alpha as a function of the training iteration t:

    * ``"static"``: ``value``.
    * ``"step_exp"``: ``value * (1 - 0.99 * 0.9 ** (t // period))``, the schedule of the official code
      of Shin et al. (TMI 2019) with ``value=1, period=2000``: 0.01 at the start, rising towards ``value``.
    * ``"linear"``: rises linearly from 0 at t=0 to ``value`` at ``t=ramp_iters``, then stays there.
    """

    SCHEDULES = ("static", "step_exp", "linear")

    @configurable
    def __init__(self, *, name: str, value: float, period: int = 2000, ramp_iters: int = 0):
        if name not in self.SCHEDULES:
            raise ValueError(f"Unknown alpha schedule {name!r}; expected one of {self.SCHEDULES}.")
        if name == "step_exp" and period <= 0:
            raise ValueError("The 'step_exp' alpha schedule needs period > 0.")
        self.name = name
        self.value = value
        self.period = period
        self.ramp_iters = ramp_iters

    @classmethod
    def from_config(cls, cfg):
        return {
            "name": cfg.WSDET.MIL.ALPHA.SCHEDULE,
            "value": cfg.WSDET.MIL.ALPHA.VALUE,
            "period": cfg.WSDET.MIL.ALPHA.PERIOD,
            "ramp_iters": cfg.WSDET.MIL.ALPHA.RAMP_ITERS,
        }

    def __call__(self, iteration: int) -> float:
        if self.name == "static":
            return self.value
        if self.name == "step_exp":
            return self.value * (1.0 - 0.99 * 0.9 ** (iteration // self.period))
        if self.ramp_iters <= 0:
            return self.value
        return self.value * min(max(iteration, 0) / self.ramp_iters, 1.0)
