"""Mask decoder on the classifier's encoder (Lu & Tong 2019, stage 3), trained with MSE on a few masks."""

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from detectron2.config import CfgNode, configurable
from detectron2.layers import ShapeSpec
from detectron2.structures import BitMasks, Instances, PolygonMasks

__all__ = ["MaskDecoder", "balanced_mse", "class_mask_targets"]


def balanced_mse(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean of the squared errors over mask pixels and over background pixels, averaged (soft targets
    weigh a pixel by ``t`` and ``1 - t``); background only when no pixel is in a mask."""
    errors = (probs - targets) ** 2
    background = (errors * (1 - targets)).sum() / (1 - targets).sum().clamp(min=1e-6)
    mask_area = targets.sum()
    mask = (errors * targets).sum() / mask_area.clamp(min=1e-6)
    return torch.where(mask_area > 0, 0.5 * (background + mask), background)  # no host sync


def class_mask_targets(instances: Instances, num_classes: int, shape: Tuple[int, int]) -> torch.Tensor:
    """(K, H, W) float target of one image: per class, the union of its instance masks, zero-padded to
    ``shape`` (all zeros for an image without instances)."""
    target = torch.zeros((num_classes, *shape), device=instances.gt_classes.device)
    if len(instances):
        height, width = instances.image_size
        masks = instances.gt_masks
        if isinstance(masks, PolygonMasks):
            masks = BitMasks.from_polygon_masks(masks, height, width)
        bits = masks.tensor.to(target)
        target[:, :height, :width].index_put_((instances.gt_classes,), bits, accumulate=True)
    return target.clamp(max=1.0)


class MaskDecoder(nn.Module):
    """
    Top-down decoder: from the coarsest input feature to the finest, ``x = ReLU(conv3x3(up(x) +
    lateral(f)))``; a 1x1 conv predicts K lesion-mask logits at the finest feature's stride. It reads
    the same backbone as the CAM head (shared encoder). Loss ``loss_cam_mask`` = ``loss_weight``
    (lambda') x the MSE between the sigmoid of the logits and the class mask targets of the images
    with mask annotations (``gt_masks``; an image with no instance at all counts, with an empty target).
    By default the MSE is :func:`balanced_mse`: with small lesions a plain MSE is minimized by empty
    masks (on the synthetic CXR data it settled at the masks' area fraction, 0.0019, with all-zero maps).
    """

    @configurable
    def __init__(
        self,
        *,
        input_shapes: Dict[str, ShapeSpec],
        num_classes: int,
        conv_dim: int,
        loss_weight: float = 1.0,
        balanced: bool = True,
    ):
        """
        Args:
            input_shapes: the backbone features it reads, by name.
            num_classes: number of lesion classes K.
            conv_dim: channels of the decoder.
            loss_weight: weight lambda' of the MSE.
            balanced: :func:`balanced_mse` instead of the plain MSE.
        """
        super().__init__()
        self.in_features = sorted(input_shapes, key=lambda name: -input_shapes[name].stride)
        self.lateral = nn.ModuleList(
            nn.Conv2d(input_shapes[f].channels, conv_dim, 1) for f in self.in_features
        )
        self.fuse = nn.ModuleList(nn.Conv2d(conv_dim, conv_dim, 3, padding=1) for _ in self.in_features)
        self.predictor = nn.Conv2d(conv_dim, num_classes, 1)
        self.num_classes = num_classes
        self.loss_weight = loss_weight
        self.balanced = balanced

    @classmethod
    def from_config(cls, cfg: CfgNode, input_shapes: Dict[str, ShapeSpec]):
        decoder = cfg.WSDET.CAM.MASK_DECODER
        return {
            "input_shapes": {f: input_shapes[f] for f in decoder.IN_FEATURES},
            "num_classes": cfg.MODEL.ROI_HEADS.NUM_CLASSES,
            "conv_dim": decoder.CONV_DIM,
            "loss_weight": decoder.LOSS_WEIGHT,
            "balanced": decoder.BALANCED,
        }

    def forward(self, features: Dict[str, torch.Tensor]) -> torch.Tensor:
        """(N, K, h, w) mask logits at the finest input feature's resolution."""
        x = None
        for name, lateral, fuse in zip(self.in_features, self.lateral, self.fuse):
            feature = lateral(features[name])
            if x is not None:
                feature = feature + F.interpolate(x, size=feature.shape[-2:], mode="nearest")
            x = F.relu(fuse(feature))
        return self.predictor(x)

    def losses(
        self, logits: torch.Tensor, instances: Sequence[Optional[Instances]], input_shape: Sequence[int]
    ) -> Dict[str, torch.Tensor]:
        """
        Args:
            logits: output of :meth:`forward` for N images.
            instances: per image, ground truth (``gt_classes``, ``gt_masks``), or None (weak image).
            input_shape: (H, W) of the padded input tensor.
        """
        rows: List[int] = [
            i for i, x in enumerate(instances) if x is not None and (x.has("gt_masks") or not len(x))
        ]
        if not rows:
            return {"loss_cam_mask": 0.0 * logits.sum()}
        targets = torch.stack(
            [class_mask_targets(instances[i], self.num_classes, tuple(input_shape)) for i in rows]
        ).to(logits.device)
        targets = F.adaptive_avg_pool2d(targets, logits.shape[-2:])
        probs = torch.sigmoid(logits[rows])
        mse = balanced_mse(probs, targets) if self.balanced else F.mse_loss(probs, targets)
        return {"loss_cam_mask": self.loss_weight * mse}
