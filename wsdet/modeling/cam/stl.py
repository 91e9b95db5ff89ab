"""Self-transfer learning (STL, Hwang & Kim, MICCAI 2016): a classifier branch and a localizer branch."""

import math
from typing import Optional, Sequence

from torch import nn

from detectron2.config import CfgNode, configurable
from detectron2.utils.events import get_event_storage

from ..schedules import IterationSchedule, milestone_scheduler, ramp_scheduler
from .heads import CAM_HEAD_REGISTRY, CAMHead
from .pooling import GlobalPool, build_pooling

__all__ = ["STLHead", "build_stl_alpha_schedule", "fixed_map_size"]


STL_ALPHA_SCHEDULES = ("step", "linear")
# Values of WSDET.CAM.STL.CLASSIFIER_INPUT.
STL_CLASSIFIER_INPUTS = ("flatten", "gap")


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


def fixed_map_size(cfg: CfgNode, stride: int) -> int:
    """Side of the (square) feature map at ``stride`` of square images resized by ``cfg.INPUT``, which
    must give one size in training and in inference."""
    inp = cfg.INPUT
    train = {min(size, inp.MAX_SIZE_TRAIN) for size in inp.MIN_SIZE_TRAIN}
    test = min(inp.MIN_SIZE_TEST, inp.MAX_SIZE_TEST)
    if train != {test}:
        raise ValueError(
            "STL's classifier is fully connected on the whole feature map, so it needs one input size: "
            f"INPUT.MIN_SIZE_TRAIN {tuple(inp.MIN_SIZE_TRAIN)} (MAX_SIZE_TRAIN {inp.MAX_SIZE_TRAIN}) and "
            f"MIN_SIZE_TEST {inp.MIN_SIZE_TEST} (MAX_SIZE_TEST {inp.MAX_SIZE_TEST}) give {sorted(train)} "
            f"and {test} px; use one size, or WSDET.CAM.STL.CLASSIFIER_INPUT \"gap\""
        )
    return math.ceil(test / stride)


@CAM_HEAD_REGISTRY.register()
class STLHead(CAMHead):
    """
    Self-transfer learning. Classifier branch: fully connected layers on the whole feature map
    (``"flatten"``: flatten -> FC -> ReLU -> FC, the paper's; it needs square inputs of the one size
    the config gives, see :func:`fixed_map_size`), or on its global average (``"gap"``, a wsdet option
    for inputs of any size). Localizer branch: 1x1 conv to class logit maps, pooled
    (``WSDET.CAM.POOLING``: max or average in the paper, whose best result uses average pooling) into
    image logits. The localizer gives the image logits and the heatmaps (probabilities of the logit
    maps); the classifier branch only trains the trunk, mostly early on. Losses:
    ``loss_cam_cls = (1 - alpha) CE_cls`` and ``loss_cam_loc = alpha CE_loc``.
    """

    @configurable
    def __init__(
        self,
        *,
        in_channels: int,
        fc_dim: int,
        pooling: GlobalPool,
        alpha_schedule: IterationSchedule,
        classifier_input: str = "flatten",
        map_size: Optional[int] = None,
        **kwargs,
    ):
        """
        Args:
            in_channels: channels of the trunk feature.
            fc_dim: hidden units of the classifier branch.
            pooling: pools the localizer's logit maps (a shared, not per-class, operator).
            alpha_schedule: alpha as a function of the iteration.
            classifier_input: "flatten" (the whole map) or "gap" (its global average).
            map_size: side of the square feature map; needed by "flatten".
            kwargs: arguments of :class:`CAMHead`.
        """
        super().__init__(**kwargs)
        if pooling.per_class:
            raise ValueError(f"STL pools its class maps directly; {type(pooling).__name__} is per-class")
        if classifier_input not in STL_CLASSIFIER_INPUTS:
            raise ValueError(
                f"Unknown WSDET.CAM.STL.CLASSIFIER_INPUT {classifier_input!r}; expected one of "
                f"{STL_CLASSIFIER_INPUTS}"
            )
        if classifier_input == "flatten" and not map_size:
            raise ValueError("STL's \"flatten\" classifier needs the feature map size")
        self.map_size = map_size if classifier_input == "flatten" else None
        fc_in = in_channels * map_size**2 if self.map_size else in_channels
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(fc_in, fc_dim), nn.ReLU(inplace=True), nn.Linear(fc_dim, self.num_outputs)
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
            alpha_schedule=build_stl_alpha_schedule(
                stl.ALPHA, stl.ALPHA_SCHEDULE, stl.SWITCH_ITER, cfg.SOLVER.MAX_ITER
            ),
            classifier_input=stl.CLASSIFIER_INPUT,
        )
        if stl.CLASSIFIER_INPUT == "flatten":
            ret["map_size"] = fixed_map_size(cfg, input_shape.stride)
        return ret

    def forward(self, x):
        if self.map_size is None:
            classifier_input = x.mean(dim=(2, 3))
        elif x.shape[-2:] == (self.map_size, self.map_size):
            classifier_input = x
        else:
            raise ValueError(
                f"STL's classifier is fully connected on a {self.map_size}x{self.map_size} feature map; "
                f"got {tuple(x.shape[-2:])}: the inputs must be square images resized to the config's size"
            )
        logit_maps = self.localizer(x)
        return {
            "logits": self.pooling(logit_maps),
            "classifier_logits": self.classifier(classifier_input),
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
