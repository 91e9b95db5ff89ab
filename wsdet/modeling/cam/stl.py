"""Self-transfer learning (STL, Hwang & Kim, MICCAI 2016): a classifier branch and a localizer branch."""

from typing import Sequence

from torch import nn

from detectron2.config import configurable
from detectron2.utils.events import get_event_storage

from ..schedules import IterationSchedule, milestone_scheduler, ramp_scheduler
from .heads import CAM_HEAD_REGISTRY, CAMHead
from .pooling import GlobalPool, build_pooling

__all__ = ["STLHead", "build_stl_alpha_schedule"]


STL_ALPHA_SCHEDULES = ("step", "linear")


def build_stl_alpha_schedule(
    alphas: Sequence[float], schedule: str, switch_iter: int, max_iter: int
) -> IterationSchedule:
    """
    alpha(t) of ``(1 - alpha) CE_cls + alpha CE_loc``: ``alphas[0]`` early, ``alphas[1]`` late.

    * ``"step"``: switches at iteration ``switch_iter`` (paper: after 60 epochs);
    * ``"linear"``: rises linearly from ``alphas[0]`` at t=0 to ``alphas[1]`` at ``switch_iter``.
    """
    if schedule not in STL_ALPHA_SCHEDULES:
        raise ValueError(
            f"Unknown STL alpha schedule {schedule!r} (WSDET.CAM.STL.ALPHA_SCHEDULE); expected one of "
            f"{STL_ALPHA_SCHEDULES}"
        )
    if len(alphas) != 2:
        raise ValueError(f"STL needs (early, late) alphas (WSDET.CAM.STL.ALPHA), got {alphas}")
    early, late = alphas
    if schedule == "step":
        return IterationSchedule(milestone_scheduler([early, late], [switch_iter], max_iter), max_iter)
    return IterationSchedule(ramp_scheduler(early, late, switch_iter, max_iter), max_iter)


@CAM_HEAD_REGISTRY.register()
class STLHead(CAMHead):
    """
    Classifier branch: global average pooling -> FC -> ReLU -> FC. Localizer branch: 1x1 conv to
    class logit maps, pooled (``WSDET.CAM.POOLING``, GMP in the paper) into image logits. The
    localizer gives the image logits and the heatmaps; the classifier branch only trains the trunk
    early on. Losses: ``loss_cam_cls = (1 - alpha) CE_cls`` and ``loss_cam_loc = alpha CE_loc``.
    """

    @configurable
    def __init__(
        self,
        *,
        in_channels: int,
        fc_dim: int,
        pooling: GlobalPool,
        alpha_schedule: IterationSchedule,
        **kwargs,
    ):
        """
        Args:
            in_channels: channels of the trunk feature.
            fc_dim: hidden units of the classifier branch.
            pooling: pools the localizer's logit maps (a shared, not per-class, operator).
            alpha_schedule: alpha as a function of the iteration.
            kwargs: arguments of :class:`CAMHead`.
        """
        super().__init__(**kwargs)
        if pooling.per_class:
            raise ValueError(f"STL pools its class maps directly; {type(pooling).__name__} is per-class")
        self.classifier = nn.Sequential(
            nn.Linear(in_channels, fc_dim), nn.ReLU(inplace=True), nn.Linear(fc_dim, self.num_outputs)
        )
        self.localizer = nn.Conv2d(in_channels, self.num_outputs, 1)
        self.pooling = pooling
        self.alpha_schedule = alpha_schedule

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        stl = cfg.WSDET.CAM.STL
        num_outputs = ret["num_classes"] + int(ret["single_label"])
        ret.update(
            in_channels=input_shape.channels,
            fc_dim=stl.FC_DIM,
            pooling=build_pooling(cfg, num_outputs),
            alpha_schedule=build_stl_alpha_schedule(stl.ALPHA, stl.ALPHA_SCHEDULE, stl.SWITCH_ITER, cfg.SOLVER.MAX_ITER),
        )
        return ret

    def forward(self, x):
        logit_maps = self.localizer(x)
        return {
            "logits": self.pooling(logit_maps),
            "classifier_logits": self.classifier(x.mean(dim=(2, 3))),
            "heatmaps": self.activate(logit_maps),
        }

    def losses(self, outputs, labels):
        storage = get_event_storage()
        alpha = self.alpha_schedule(storage.iter)
        storage.put_scalar("stl/alpha", alpha, smoothing_hint=False)
        return {
            "loss_cam_cls": (1 - alpha) * self.classification_loss(outputs["classifier_logits"], labels),
            "loss_cam_loc": alpha * self.classification_loss(outputs["logits"], labels),
        }
