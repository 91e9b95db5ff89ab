"""Global pooling operators of CAM heads (GAP, GMP, LSE, EXP, LINEAR, attention-MIL) and their registry.

An operator maps a feature map ``x`` (N, C, H, W) to one vector per image (N, C). Operators with
``per_class = True`` (PCAM, :mod:`.pcam`) weight the pixels by the class logit maps and return one
pooled vector per class (N, K, C).
"""

from typing import Optional

import torch
from torch import nn

from detectron2.config import CfgNode, configurable
from detectron2.utils.registry import Registry

__all__ = [
    "WSDET_POOLING_REGISTRY",
    "build_pooling",
    "GlobalPool",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "LogSumExpPool",
    "ExpPool",
    "LinearPool",
    "AttentionMILPool",
]

WSDET_POOLING_REGISTRY = Registry("WSDET_POOLING")
WSDET_POOLING_REGISTRY.__doc__ = """
Global pooling operators of CAM heads. A registered class is built as ``cls(cfg, in_channels)``
(``@configurable``) and called as ``op(x, logit_maps=None)``.
"""


def build_pooling(cfg: CfgNode, in_channels: int) -> "GlobalPool":
    """The operator ``cfg.WSDET.CAM.POOLING.NAME`` for maps of ``in_channels`` channels."""
    return WSDET_POOLING_REGISTRY.get(cfg.WSDET.CAM.POOLING.NAME)(cfg, in_channels)


class GlobalPool(nn.Module):
    """Base class; subclasses implement :meth:`forward`."""

    per_class = False  # True: returns (N, K, C), one pooled vector per class

    @configurable
    def __init__(self):
        super().__init__()

    @classmethod
    def from_config(cls, cfg: CfgNode, in_channels: int):
        return {}

    def forward(self, x: torch.Tensor, logit_maps: Optional[torch.Tensor] = None) -> torch.Tensor:
        """
        Args:
            x: (N, C, H, W) maps to pool.
            logit_maps: (N, K, H, W) class logit maps (used by per-class operators only).
        """
        raise NotImplementedError


@WSDET_POOLING_REGISTRY.register()
class GlobalAvgPool(GlobalPool):
    """Mean over pixels (CAM, Zhou et al. 2016)."""

    def forward(self, x, logit_maps=None):
        return x.mean(dim=(2, 3))


@WSDET_POOLING_REGISTRY.register()
class GlobalMaxPool(GlobalPool):
    """Maximum over pixels."""

    def forward(self, x, logit_maps=None):
        return x.amax(dim=(2, 3))


@WSDET_POOLING_REGISTRY.register()
class LogSumExpPool(GlobalPool):
    """``log(mean(exp(gamma x))) / gamma``: GAP as gamma -> 0, GMP as gamma -> inf (Wang et al. 2017)."""

    @configurable
    def __init__(self, *, gamma: float):
        super().__init__()
        if gamma <= 0:
            raise ValueError(f"LSE pooling needs gamma > 0, got {gamma}")
        self.gamma = gamma

    @classmethod
    def from_config(cls, cfg, in_channels):
        return {"gamma": cfg.WSDET.CAM.POOLING.LSE_GAMMA}

    def forward(self, x, logit_maps=None):
        flat = self.gamma * x.flatten(2)
        # the pixel count as a tensor op (over one map), so that a traced model follows the input size
        count = torch.ones_like(flat[0, 0]).sum()
        return (torch.logsumexp(flat, dim=2) - count.log()) / self.gamma


@WSDET_POOLING_REGISTRY.register()
class ExpPool(GlobalPool):
    """Mean weighted by ``softmax(x)`` over pixels."""

    def forward(self, x, logit_maps=None):
        flat = x.flatten(2)
        return (flat.softmax(dim=2) * flat).sum(dim=2)


@WSDET_POOLING_REGISTRY.register()
class LinearPool(GlobalPool):
    """Mean weighted by ``x`` itself, ``sum(x^2) / sum(x)``; for non-negative maps (post-ReLU features)."""

    eps = 1e-6

    def forward(self, x, logit_maps=None):
        flat = x.flatten(2)
        return flat.pow(2).sum(dim=2) / flat.sum(dim=2).clamp(min=self.eps)


@WSDET_POOLING_REGISTRY.register()
class AttentionMILPool(GlobalPool):
    """Attention MIL pooling (Ilse et al. 2018): ``sum_i a_i x_i``, ``a = softmax_i(w^T tanh(V x_i))``."""

    @configurable
    def __init__(self, *, in_channels: int, hidden_dim: int):
        super().__init__()
        self.attention = nn.Sequential(
            nn.Conv2d(in_channels, hidden_dim, 1), nn.Tanh(), nn.Conv2d(hidden_dim, 1, 1)
        )

    @classmethod
    def from_config(cls, cfg, in_channels):
        return {"in_channels": in_channels, "hidden_dim": cfg.WSDET.CAM.POOLING.ATTENTION_DIM}

    def forward(self, x, logit_maps=None):
        weights = self.attention(x).flatten(2).softmax(dim=2)  # (N, 1, HW)
        return (x.flatten(2) * weights).sum(dim=2)
