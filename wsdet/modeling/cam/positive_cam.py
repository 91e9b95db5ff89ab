"""Positive-weight CAM (Lu & Tong, AAAI 2019, stage 1): class maps from the positive classifier weights."""

import torch
import torch.nn.functional as F

from .heads import CAM_HEAD_REGISTRY, PooledCAMHead

__all__ = ["positive_cam", "PositiveCAMHead"]


def positive_cam(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """
    ``H'_c = sum_i max(0, w_ci) h_i`` at every pixel.

    Args:
        features: (N, C, H, W) feature maps h.
        weight: (K, C) or (K, C, 1, 1) classifier weights w.

    Returns:
        (N, K, H, W) maps.
    """
    weight = weight.reshape(weight.shape[0], -1, 1, 1)
    return F.conv2d(features, weight.clamp(min=0))


@CAM_HEAD_REGISTRY.register()
class PositiveCAMHead(PooledCAMHead):
    """
    :class:`PooledCAMHead` (GAP + linear classifier for the paper's CAM) whose heatmaps are the
    positive-weight CAMs of the lesion classes, unnormalized (extract boxes with min-max
    normalization). Stages 2 and 3 of Lu & Tong add attention mining and a mask decoder to the
    meta-architecture (:class:`AttentionMining`, :class:`MaskDecoder`).
    """

    def forward(self, x):
        outputs = super().forward(x)
        outputs["heatmaps"] = positive_cam(x, self.classifier.weight[: self.num_classes])
        return outputs
