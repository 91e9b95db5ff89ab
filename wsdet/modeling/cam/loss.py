"""Image-level classification loss of CAM heads: multi-label BCE (optionally batch-balanced) or softmax CE."""

import torch
import torch.nn.functional as F

from ..mil_loss import image_label_targets

__all__ = ["image_classification_loss"]


def image_classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, single_label: bool, balance: bool = False
) -> torch.Tensor:
    """
    Args:
        logits: (N, K) sigmoid logits, or (N, K + 1) softmax logits with normal last (``single_label``).
        labels: (N, K) multi-hot image labels (all zeros = normal).
        single_label: softmax cross-entropy over the K classes + normal.
        balance: multi-label only. Each class's BCE weights its positives by #negatives / #positives
            of the batch and is 0 when the batch has no positive of that class (as jfhealthcare/Chexpert).

    Returns:
        Scalar loss, the mean over classes of the per-class mean over images.
    """
    if single_label:
        if (labels.sum(dim=1) > 1).any():
            raise ValueError("WSDET.CAM.SINGLE_LABEL needs images with at most one positive class")
        return F.cross_entropy(logits, image_label_targets(labels))
    if not balance:
        return F.binary_cross_entropy_with_logits(logits, labels)
    num_pos = labels.sum(dim=0)
    has_pos = num_pos > 0
    pos_weight = torch.where(
        has_pos, (len(labels) - num_pos) / num_pos.clamp(min=1), torch.ones_like(num_pos)
    )
    per_class = F.binary_cross_entropy_with_logits(
        logits, labels, pos_weight=pos_weight, reduction="none"
    ).mean(dim=0)
    return (per_class * has_pos).mean()
