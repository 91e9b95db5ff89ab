"""Attention mining of positive-CAM stage 2 (Lu & Tong 2019): the network also classifies what it attends to."""

import math
from contextlib import contextmanager
from typing import Callable, Iterator, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from detectron2.config import CfgNode, configurable

from .heads import CAMHead
from .postprocessing import normalize_heatmaps

__all__ = [
    "ACCURACY_MODES",
    "ATTENTION_CLASSES",
    "ATTENTION_MINING_MODES",
    "AttentionMining",
    "running_statistics_kept",
    "soft_mask",
]

# Values of WSDET.CAM.ATTENTION_MINING.ACCURACY.
ACCURACY_MODES = ("balanced", "per_label")
# Values of WSDET.CAM.ATTENTION_MINING.MODE.
ATTENTION_MINING_MODES = ("restrict", "erase")
# Values of WSDET.CAM.ATTENTION_MINING.ATTENTION_CLASSES.
ATTENTION_CLASSES = ("labelled", "all")


def soft_mask(attention: torch.Tensor, sigma: float, omega: float) -> torch.Tensor:
    """``T(A) = sigmoid(omega (A - sigma))``."""
    return torch.sigmoid(omega * (attention - sigma))


@contextmanager
def running_statistics_kept(module: nn.Module, enabled: bool = True) -> Iterator[None]:
    """
    Inside, the training-mode BatchNorm layers of ``module`` normalize with the batch's statistics as
    usual but leave their running statistics (and batch count) as they are: a pass over inputs unlike
    the test images (attention mining's masked images) does not shift what inference normalizes with.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             and m.training and m.track_running_stats] if enabled else []
    for norm in norms:
        norm.track_running_stats = False
    try:
        yield
    finally:
        for norm in norms:
            norm.track_running_stats = True


class AttentionMining(nn.Module):
    """
    Per image, the attention ``A`` is the union (pixel-wise max) of the min-max normalized heatmaps of
    its positive classes (of a normal image: of every lesion class, its most lesion-like area),
    upsampled to the input, and ``T(A) = sigmoid(omega (A - sigma))``. With ``attention_classes="all"``
    every image's ``A`` is the union over every lesion class. Masks chosen by the labels carry the
    label in their shape and place, and the restricted pass can learn it from them (a stage-2 model on
    the synthetic CXR test images: over a normal image's content, the mask alone gives its image's
    labels at AUC 0.74; docs/BENCHMARKS.md); ``"all"`` takes that shortcut away (measured: it does,
    but the maps then avoid the findings). Images are masked on the
    normalized input tensor (a masked-out pixel becomes the mean pixel), and ``T(A)`` stays
    differentiable, so that ``L_am`` also trains the maps. Two modes:

    * ``"restrict"`` (the paper): ``L_am`` = the head's classification loss of ``T(A) * I`` against the
      image labels: the attended area alone must show the image's findings, and the most lesion-like
      area of a normal image must look normal;
    * ``"erase"`` (GAIN, Li et al. 2018): ``L_am`` = mean probability of the positive classes on
      ``I - T(A) * I``, to be minimized (normal images do not count).

    The caller mixes ``(1 - lambda) L_cls + lambda L_am`` with ``lambda = e^P / e``, ``P`` the running
    (exponential moving average) classification accuracy, and by default runs this module inside
    :func:`running_statistics_kept` (``update_bn_stats`` False): the masked images, half mean pixel,
    would otherwise pull the BatchNorm running statistics away from real images (measured: a stage-2
    model's validation AUC 0.70 as trained, 0.85 once the statistics were recomputed on real images).

    In multi-label mode ``P`` is by default the balanced accuracy (mean of sensitivity and specificity
    over the batch's label decisions at 0.5): with K sparse labels the plain per-label accuracy is
    dominated by the negatives (a classifier that says "absent" everywhere scores ~0.9), which drives
    ``lambda`` to ~0.8 before the classifier is any good (measured on the synthetic CXR data).
    """

    @configurable
    def __init__(
        self,
        *,
        mode: str = "restrict",
        sigma: float = 0.5,
        omega: float = 10.0,
        momentum: float = 0.9,
        single_label: bool,
        accuracy: str = "balanced",
        update_bn_stats: bool = False,
        attention_classes: str = "labelled",
    ):
        """
        Args:
            mode: "restrict" or "erase".
            sigma, omega: soft-mask threshold and sharpness of ``T(A)``.
            momentum: of the running accuracy ``P <- momentum P + (1 - momentum) batch accuracy``.
            single_label: accuracy over normal + K exclusive classes (else per class at 0.5).
            accuracy: multi-label only, one of :data:`ACCURACY_MODES`: "balanced" or the paper's
                "per_label" accuracy.
            update_bn_stats: whether the masked images' pass may update BatchNorm running statistics
                (read by the caller, see the class doc).
            attention_classes: one of :data:`ATTENTION_CLASSES`: the heatmaps ``A`` is made of, the
                image's positive classes ("labelled", the paper) or every lesion class ("all").
        """
        super().__init__()
        if mode not in ATTENTION_MINING_MODES:
            raise ValueError(
                f"Unknown attention-mining mode {mode!r}; expected one of {ATTENTION_MINING_MODES}"
            )
        if attention_classes not in ATTENTION_CLASSES:
            raise ValueError(
                f"Unknown attention-mining attention classes {attention_classes!r}; expected one of "
                f"{ATTENTION_CLASSES}"
            )
        if accuracy not in ACCURACY_MODES:
            raise ValueError(
                f"Unknown attention-mining accuracy {accuracy!r}; expected one of {ACCURACY_MODES}"
            )
        self.mode = mode
        self.sigma = sigma
        self.omega = omega
        self.momentum = momentum
        self.single_label = single_label
        self.accuracy = accuracy
        self.update_bn_stats = update_bn_stats
        self.attention_classes = attention_classes
        self.register_buffer("running_accuracy", torch.zeros(()))

    @classmethod
    def from_config(cls, cfg: CfgNode):
        am = cfg.WSDET.CAM.ATTENTION_MINING
        return {
            "mode": am.MODE,
            "sigma": am.SIGMA,
            "omega": am.OMEGA,
            "momentum": am.ACCURACY_MOMENTUM,
            "single_label": cfg.WSDET.CAM.SINGLE_LABEL,
            "accuracy": am.ACCURACY,
            "update_bn_stats": am.UPDATE_BN_STATS,
            "attention_classes": am.ATTENTION_CLASSES,
        }

    def batch_accuracy(self, probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Accuracy of (N, K) probabilities: per label at 0.5 (plain or balanced), or top-1 over normal + K
        (single-label)."""
        if not self.single_label:
            correct = ((probs > 0.5) == (labels > 0.5)).float()
            if self.accuracy == "per_label":
                return correct.mean()
            positive = labels > 0.5
            rates = [correct[mask].mean() for mask in (positive, ~positive) if mask.any()]
            return torch.stack(rates).mean()
        normal = (1 - probs.sum(dim=1, keepdim=True)).clamp(min=0)
        truth = torch.cat([labels, (labels.sum(dim=1, keepdim=True) == 0).float()], dim=1)
        return (torch.cat([probs, normal], dim=1).argmax(dim=1) == truth.argmax(dim=1)).float().mean()

    def attention(self, heatmaps: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(N, 1, h, w) attention ``A`` of each image: see the class doc."""
        every_class = torch.ones_like(labels)
        if self.attention_classes == "all":
            selected = every_class
        else:
            normal = labels.sum(dim=1, keepdim=True) == 0
            selected = torch.where(normal, every_class, labels)
        return (normalize_heatmaps(heatmaps, "minmax") * selected[:, :, None, None]).amax(dim=1, keepdim=True)

    def masks(self, heatmaps: torch.Tensor, labels: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """(N, 1, H, W) soft masks ``T(A)`` of the attention, upsampled to the input ``size``."""
        attention = F.interpolate(self.attention(heatmaps, labels), size=size, mode="bilinear", align_corners=False)
        return soft_mask(attention, self.sigma, self.omega)

    def forward(
        self,
        images: torch.Tensor,
        heatmaps: torch.Tensor,
        logits: torch.Tensor,
        labels: torch.Tensor,
        classify: Callable[[torch.Tensor], torch.Tensor],
        head: CAMHead,
    ) -> Tuple[torch.Tensor, float]:
        """
        Args:
            images: (N, 3, H, W) normalized input tensor.
            heatmaps: (N, K, h, w) lesion-class heatmaps of the head on ``images``.
            logits: image logits of the head on ``images``.
            labels: (N, K) multi-hot image labels.
            classify: maps an input tensor to the head's image logits (the same network).
            head: the CAM head (its classification loss and probabilities).

        Returns:
            ``L_am`` (scalar; "erase": 0 when the batch has no positive label) and ``lambda``.
        """
        weight = math.exp(self.running_accuracy.item() - 1.0)
        with torch.no_grad():
            accuracy = self.batch_accuracy(head.image_probs(logits), labels)
            self.running_accuracy.mul_(self.momentum).add_((1 - self.momentum) * accuracy)
        kept = self.masks(heatmaps, labels, images.shape[-2:]) * images
        if self.mode == "restrict":
            return head.classification_loss(classify(kept), labels), weight
        erased_probs = head.image_probs(classify(images - kept))
        return (erased_probs * labels).sum() / labels.sum().clamp(min=1), weight
