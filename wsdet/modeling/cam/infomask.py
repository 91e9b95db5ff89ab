"""InfoMask (Taghanaki et al., MICCAI 2019): a variational spatial mask on the latent features."""

from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from detectron2.config import configurable
from detectron2.layers import Conv2d, get_norm

from .heads import CAM_HEAD_REGISTRY, CAMHead

__all__ = ["ClassInfoMaskHead", "InfoMaskHead", "VariationalMask", "gaussian_kl", "infomask_mask"]

# Values of WSDET.CAM.INFOMASK.REGULARIZER.
REGULARIZERS = ("kl", "l1", "none")


def gaussian_kl(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Element-wise ``KL(N(mu, sigma^2) || N(0, 1))`` with ``log_var = log sigma^2``."""
    return 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var)


def infomask_mask(z: torch.Tensor, tau: float) -> torch.Tensor:
    """``clamp(sigmoid(z) - tau, 0, 1)``: zero where ``sigmoid(z) <= tau``, at most ``1 - tau``."""
    return (torch.sigmoid(z) - tau).clamp(0.0, 1.0)


class VariationalMask(nn.Module):
    """
    Attention ``A = ReLU(1x1 conv(x))``; ``mu`` and ``log sigma^2`` are 1x1 convs of ``A``, one channel
    per mask; ``z = mu + sigma * eps`` in training (reparameterized), ``z = mu`` in inference; mask
    ``M = clamp(sigmoid(z) - tau, 0, 1)``.
    """

    def __init__(self, in_channels: int, attention_dim: int, num_masks: int, tau: float):
        """
        Args:
            in_channels: channels of the latent feature x.
            attention_dim: channels of A (the paper: one attention map).
            num_masks: masks (channels of mu, sigma and M).
            tau: mask threshold in (0, 1).
        """
        super().__init__()
        self.attention = nn.Sequential(nn.Conv2d(in_channels, attention_dim, 1), nn.ReLU(inplace=True))
        self.mu = nn.Conv2d(attention_dim, num_masks, 1)
        self.log_var = nn.Conv2d(attention_dim, num_masks, 1)
        self.tau = tau

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mask, mu, log_var), each (N, num_masks, H, W)."""
        attention = self.attention(x)
        mu, log_var = self.mu(attention), self.log_var(attention)
        z = mu + (0.5 * log_var).exp() * torch.randn_like(mu) if self.training else mu
        return infomask_mask(z, self.tau), mu, log_var


class _MaskedHead(CAMHead):
    """A CAM head with a :class:`VariationalMask` of ``num_masks`` channels (default: one per output)
    and its regularizer:
    ``loss_cam_reg`` = ``alpha`` x the mean KL of ``N(mu, sigma)`` to ``N(0, 1)`` ("kl", InfoMask), the
    mean mask value ("l1", the paper's RegL1 baseline), or no such loss ("none", its FeatureMask
    baseline)."""

    def __init__(
        self,
        *,
        in_channels: int,
        attention_dim: int,
        tau: float,
        regularizer: str,
        alpha: float,
        num_masks: Optional[int] = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if regularizer not in REGULARIZERS:
            raise ValueError(f"Unknown InfoMask regularizer {regularizer!r}; expected one of {REGULARIZERS}")
        self.variational_mask = VariationalMask(in_channels, attention_dim, num_masks or self.num_outputs, tau)
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

    def losses(self, outputs, labels) -> Dict[str, torch.Tensor]:
        losses = super().losses(outputs, labels)
        if self.regularizer == "kl":
            losses["loss_cam_reg"] = self.alpha * gaussian_kl(outputs["mu"], outputs["log_var"]).mean()
        elif self.regularizer == "l1":
            losses["loss_cam_reg"] = self.alpha * outputs["mask"].mean()
        return losses


@CAM_HEAD_REGISTRY.register()
class InfoMaskHead(_MaskedHead):
    """
    The paper's architecture: one mask ``M`` (:class:`VariationalMask`, a single channel) multiplies
    the latent features, ``x' = M * x``; a convolutional classification block classifies ``x'``:
    ``num_convs`` x (3x3 conv, norm, ReLU), global average pooling, a linear layer.

    ``M`` says where the finding is, not which one: the heatmap of every lesion class is ``M`` (the
    class probabilities tell the classes apart when boxes are scored).
    """

    @configurable
    def __init__(self, *, in_channels: int, num_convs: int, conv_dim: int, norm: str, **kwargs):
        """
        Args:
            in_channels: channels of the latent feature.
            num_convs, conv_dim, norm: convolutions of the classification block, their channels and
                normalization (a Detectron2 norm name, "" for none).
            kwargs: arguments of the regularized mask (``attention_dim``, ``tau``, ``regularizer``,
                ``alpha``) and of :class:`CAMHead`.
        """
        super().__init__(in_channels=in_channels, num_masks=1, **kwargs)
        convs, channels = [], in_channels
        for _ in range(num_convs):
            convs.append(
                Conv2d(
                    channels,
                    conv_dim,
                    3,
                    padding=1,
                    bias=not norm,
                    norm=get_norm(norm, conv_dim),
                    activation=nn.ReLU(inplace=True),
                )
            )
            channels = conv_dim
        self.convs = nn.Sequential(*convs)
        self.classifier = nn.Linear(channels, self.num_outputs)

    @classmethod
    def from_config(cls, cfg, input_shape):
        ret = super().from_config(cfg, input_shape)
        info = cfg.WSDET.CAM.INFOMASK
        ret.update(num_convs=info.NUM_CONVS, conv_dim=info.CONV_DIM, norm=info.NORM)
        return ret

    def forward(self, x):
        mask, mu, log_var = self.variational_mask(x)
        logits = self.classifier(self.convs(mask * x).mean(dim=(2, 3)))
        return {
            "logits": logits,
            "heatmaps": mask.expand(-1, self.num_classes, -1, -1),
            "mask": mask,
            "mu": mu,
            "log_var": log_var,
        }


@CAM_HEAD_REGISTRY.register()
class ClassInfoMaskHead(_MaskedHead):
    """
    A wsdet variant with class-specific maps: one mask ``M_c`` per output (:class:`VariationalMask`),
    and class c is classified from its masked CAM evidence,
    ``logit_c = w_c^T mean_ij(M_c,ij x_ij) + b_c`` (a 1x1 linear classifier). The heatmaps are the
    lesion classes' masks.
    """

    @configurable
    def __init__(self, *, in_channels: int, **kwargs):
        """
        Args:
            in_channels: channels of the latent feature.
            kwargs: arguments of the regularized mask (``attention_dim``, ``tau``, ``regularizer``,
                ``alpha``) and of :class:`CAMHead`.
        """
        super().__init__(in_channels=in_channels, **kwargs)
        self.classifier = nn.Conv2d(in_channels, self.num_outputs, 1)

    def forward(self, x):
        mask, mu, log_var = self.variational_mask(x)
        evidence = F.conv2d(x, self.classifier.weight)  # w_c^T x_ij without bias
        logits = (mask * evidence).mean(dim=(2, 3)) + self.classifier.bias
        return {
            "logits": logits,
            "heatmaps": mask[:, : self.num_classes],
            "mask": mask,
            "mu": mu,
            "log_var": log_var,
        }
