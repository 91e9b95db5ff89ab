"""InfoMask (Taghanaki et al., MICCAI 2019): a variational spatial mask on the latent features."""

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from detectron2.config import configurable

from .heads import CAM_HEAD_REGISTRY, CAMHead

__all__ = ["InfoMaskHead", "gaussian_kl", "infomask_mask"]

REGULARIZERS = ("kl", "l1", "none")


def gaussian_kl(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Element-wise ``KL(N(mu, sigma^2) || N(0, 1))`` with ``log_var = log sigma^2``."""
    return 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var)


def infomask_mask(z: torch.Tensor, tau: float) -> torch.Tensor:
    """``clamp(sigmoid(z) - tau, 0, 1)``: zero where ``sigmoid(z) <= tau``, at most ``1 - tau``."""
    return (torch.sigmoid(z) - tau).clamp(0.0, 1.0)


@CAM_HEAD_REGISTRY.register()
class InfoMaskHead(CAMHead):
    """
    Attention ``A = ReLU(1x1 conv(x))``; per class, ``mu`` and ``log sigma^2`` are 1x1 convs of ``A``;
    ``z = mu + sigma * eps`` in training (``z = mu`` in inference), mask
    ``M = clamp(sigmoid(z) - tau, 0, 1)``.
    Class c is classified from its masked features: ``logit_c = w_c^T mean_ij(M_c,ij x_ij) + b_c``.
    The heatmaps are the masks.

    Losses: ``loss_cam_cls`` and, weighted by ``alpha``, ``loss_cam_reg``: the mean KL of
    ``N(mu, sigma)`` to ``N(0, 1)`` (``"kl"``, InfoMask), the mean mask value (``"l1"``, the paper's
    RegL1 baseline), or nothing (``"none"``, the FeatureMask baseline).
    """

    @configurable
    def __init__(
        self, *, in_channels: int, attention_dim: int, tau: float, regularizer: str, alpha: float, **kwargs
    ):
        """
        Args:
            in_channels: channels of the latent feature.
            attention_dim: channels of the attention map A.
            tau: mask threshold in (0, 1).
            regularizer: "kl", "l1" or "none".
            alpha: weight of the regularizer.
            kwargs: arguments of :class:`CAMHead`.
        """
        super().__init__(**kwargs)
        if regularizer not in REGULARIZERS:
            raise ValueError(f"Unknown InfoMask regularizer {regularizer!r}; expected one of {REGULARIZERS}")
        self.attention = nn.Sequential(nn.Conv2d(in_channels, attention_dim, 1), nn.ReLU(inplace=True))
        self.mu = nn.Conv2d(attention_dim, self.num_outputs, 1)
        self.log_var = nn.Conv2d(attention_dim, self.num_outputs, 1)
        self.classifier = nn.Conv2d(in_channels, self.num_outputs, 1)
        self.tau = tau
        self.regularizer = regularizer
        self.alpha = alpha

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        info = cfg.WSDET.CAM.INFOMASK
        ret.update(
            in_channels=input_shape.channels,
            attention_dim=info.ATTENTION_DIM,
            tau=info.TAU,
            regularizer=info.REGULARIZER,
            alpha=info.ALPHA,
        )
        return ret

    def masks(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mask, mu, log_var), each (N, K or K + 1, H, W)."""
        attention = self.attention(x)
        mu, log_var = self.mu(attention), self.log_var(attention)
        z = mu + (0.5 * log_var).exp() * torch.randn_like(mu) if self.training else mu
        return infomask_mask(z, self.tau), mu, log_var

    def forward(self, x):
        mask, mu, log_var = self.masks(x)
        evidence = F.conv2d(x, self.classifier.weight)  # w_c^T x_ij without bias
        logits = (mask * evidence).mean(dim=(2, 3)) + self.classifier.bias
        return {
            "logits": logits,
            "heatmaps": mask[:, : self.num_classes],
            "mask": mask,
            "mu": mu,
            "log_var": log_var,
        }

    def losses(self, outputs, labels) -> Dict[str, torch.Tensor]:
        losses = super().losses(outputs, labels)
        if self.regularizer == "kl":
            losses["loss_cam_reg"] = self.alpha * gaussian_kl(outputs["mu"], outputs["log_var"]).mean()
        elif self.regularizer == "l1":
            losses["loss_cam_reg"] = self.alpha * outputs["mask"].mean()
        return losses
