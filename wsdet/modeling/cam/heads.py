"""CAM heads: image-level class logits and per-class heatmaps from one backbone feature map."""

from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

from detectron2.config import CfgNode, configurable
from detectron2.layers import ShapeSpec
from detectron2.utils.registry import Registry

from .loss import CLASS_REDUCTIONS, image_classification_loss
from .pooling import GlobalPool, build_pooling

__all__ = ["CAM_HEAD_REGISTRY", "build_cam_head", "CAMHead", "PooledCAMHead"]

# Values of WSDET.CAM.HEAD.MAP_TYPE: what PooledCAMHead's heatmaps are.
POOLED_HEATMAPS = ("probability", "cam")

CAM_HEAD_REGISTRY = Registry("CAM_HEAD")
CAM_HEAD_REGISTRY.__doc__ = """
CAM heads, built as ``cls(cfg, input_shape)`` (``@configurable``) with the :class:`ShapeSpec` of the
feature ``cfg.WSDET.CAM.IN_FEATURE``. See :class:`CAMHead` for the interface.
"""


def build_cam_head(cfg: CfgNode, input_shape: ShapeSpec) -> "CAMHead":
    """The head ``cfg.WSDET.CAM.HEAD.NAME`` on a feature of shape ``input_shape``."""
    return CAM_HEAD_REGISTRY.get(cfg.WSDET.CAM.HEAD.NAME)(cfg, input_shape)


class CAMHead(nn.Module):
    """
    Base class of CAM heads over K lesion classes, in one of two modes:

    * multi-label (default): K outputs, one sigmoid per class;
    * single-label: K + 1 outputs, softmax over the K classes and normal (last index).

    ``forward(x)`` returns a dict with at least ``logits`` (N, K or K + 1) and ``heatmaps``
    (N, K, h, w), the lesion-class maps at the feature's resolution; :meth:`losses` returns losses
    named ``loss_cam_*``, the same keys at every step.
    """

    @configurable
    def __init__(
        self,
        *,
        num_classes: int,
        single_label: bool = False,
        balance_bce: bool = False,
        class_reduction: str = "mean",
    ):
        """
        Args:
            num_classes: number of lesion classes K.
            single_label: softmax over the K classes + normal instead of K sigmoids.
            balance_bce: batch-balanced BCE, see :func:`image_classification_loss`.
            class_reduction: "mean" or "sum" of the per-class BCEs, see :func:`image_classification_loss`.
        """
        super().__init__()
        if class_reduction not in CLASS_REDUCTIONS:
            raise ValueError(
                f"Unknown WSDET.CAM.CLASS_REDUCTION {class_reduction!r}; expected one of {CLASS_REDUCTIONS}"
            )
        self.num_classes = num_classes
        self.single_label = single_label
        self.balance_bce = balance_bce
        self.class_reduction = class_reduction

    @classmethod
    def from_config(cls, cfg: CfgNode, input_shape: ShapeSpec):
        return {
            "num_classes": cfg.MODEL.ROI_HEADS.NUM_CLASSES,
            "single_label": cfg.WSDET.CAM.SINGLE_LABEL,
            "balance_bce": cfg.WSDET.CAM.BALANCE_BCE,
            "class_reduction": cfg.WSDET.CAM.CLASS_REDUCTION,
        }

    @property
    def num_outputs(self) -> int:
        """Logits per image: K, or K + 1 in single-label mode."""
        return self.num_classes + int(self.single_label)

    def image_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, K) probabilities of the lesion classes (single-label: softmax, normal dropped)."""
        return self.activate(logits[:, :, None, None])[:, :, 0, 0]

    def activate(self, maps: torch.Tensor) -> torch.Tensor:
        """Per-pixel probabilities (N, K, h, w) of logit maps (N, K or K + 1, h, w)."""
        if self.single_label:
            return maps.softmax(dim=1)[:, : self.num_classes]
        return torch.sigmoid(maps)

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Loss of image logits against (N, K) multi-hot labels, in the head's mode."""
        return image_classification_loss(
            logits, labels, self.single_label, self.balance_bce, self.class_reduction
        )

    def losses(self, outputs: Dict[str, torch.Tensor], labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Training losses from the outputs of :meth:`forward` and (N, K) multi-hot image labels."""
        return {"loss_cam_cls": self.classification_loss(outputs["logits"], labels)}

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        raise NotImplementedError


def classify_pooled(pooled: torch.Tensor, classifier: nn.Conv2d) -> torch.Tensor:
    """Logits of the 1x1 ``classifier`` on pooled features: (N, C) shared or (N, K, C) one per class."""
    weight = classifier.weight.flatten(1)  # (K, C)
    if pooled.dim() == 2:
        return F.linear(pooled, weight, classifier.bias)
    return (pooled * weight).sum(dim=2) + classifier.bias


@CAM_HEAD_REGISTRY.register()
class PooledCAMHead(CAMHead):
    """
    Global pooling of the features, then a linear classifier (CAM with GAP, Zhou et al. 2016 /
    CheXNet; Wang et al. 2017 with LSE; PCAM with its per-class pooling). Any operator of
    ``WSDET_POOLING_REGISTRY`` can be used. The same classifier applied as a 1x1 conv to every pixel
    gives the class logit maps ``w_c^T x_ij + b_c``; the heatmaps are either their probabilities
    (``"probability"``, PCAM's map) or the class activation maps ``w_c^T x_ij`` themselves (``"cam"``,
    the CAM of Zhou et al. and CheXNet, to be min-max normalized).
    """

    @configurable
    def __init__(self, *, in_channels: int, pooling: GlobalPool, heatmap: str = "probability", **kwargs):
        """
        Args:
            in_channels: channels of the input feature.
            pooling: global pooling operator.
            heatmap: "probability" or "cam".
            kwargs: arguments of :class:`CAMHead`.
        """
        super().__init__(**kwargs)
        if heatmap not in POOLED_HEATMAPS:
            raise ValueError(f"Unknown WSDET.CAM.HEAD.MAP_TYPE {heatmap!r}; expected one of {POOLED_HEATMAPS}")
        self.pooling = pooling
        self.classifier = nn.Conv2d(in_channels, self.num_outputs, 1)
        self.heatmap = heatmap

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        ret.update(
            in_channels=input_shape.channels,
            pooling=build_pooling(cfg, input_shape.channels),
            heatmap=cfg.WSDET.CAM.HEAD.MAP_TYPE,
        )
        return ret

    def forward(self, x):
        logit_maps = self.classifier(x)
        logits = classify_pooled(self.pooling(x, logit_maps), self.classifier)
        if self.heatmap == "cam":
            heatmaps = logit_maps[:, : self.num_classes] - self.classifier.bias[: self.num_classes, None, None]
        else:
            heatmaps = self.activate(logit_maps)
        return {"logits": logits, "heatmaps": heatmaps}
