"""Image-level classification loss of CAM heads: multi-label BCE (optionally batch-balanced) or softmax CE."""

import torch
import torch.nn.functional as F

from ..mil_loss import image_label_targets

__all__ = ["CLASS_REDUCTIONS", "image_classification_loss"]

# Values of WSDET.CAM.CLASS_REDUCTION: how the multi-label losses of the K classes are combined.
CLASS_REDUCTIONS = ("mean", "sum")


def image_classification_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    single_label: bool,
    balance: bool = False,
    class_reduction: str = "mean",
) -> torch.Tensor:
    """
    Args:
        logits: (N, K) sigmoid logits, or (N, K + 1) softmax logits with normal last (``single_label``).
        labels: (N, K) multi-hot image labels (all zeros = normal).
        single_label: softmax cross-entropy over the K classes + normal.
        balance: multi-label only. Each class's BCE weights its positives by #negatives / #positives
            of the batch and is 0 when the batch has no positive of that class (as jfhealthcare/Chexpert).
        class_reduction: multi-label only, one of :data:`CLASS_REDUCTIONS`: the per-class losses (each a
            mean over images) are averaged ("mean") or summed ("sum", as jfhealthcare/Chexpert).

    Returns:
        Scalar loss.
    """
    if single_label:
        if (labels.sum(dim=1) > 1).any():
            raise ValueError("WSDET.CAM.SINGLE_LABEL needs images with at most one positive class")
        return F.cross_entropy(logits, image_label_targets(labels))
    if balance:
        num_pos = labels.sum(dim=0)
        has_pos = num_pos > 0
        pos_weight = torch.where(
            has_pos, (len(labels) - num_pos) / num_pos.clamp(min=1), torch.ones_like(num_pos)
        )
        per_image = F.binary_cross_entropy_with_logits(logits, labels, pos_weight=pos_weight, reduction="none")
        per_class = per_image.mean(dim=0) * has_pos
    else:
        per_class = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(dim=0)
    return per_class.sum() if class_reduction == "sum" else per_class.mean()
