"""
Mass-of-interest (MoI) selection and MIL loss of weakly labelled images (Shin et al., IEEE TMI 2019).

Class indices follow Detectron2's box predictor: the K lesion classes are ``0 .. K-1`` (contiguous ids)
and ``K`` is background, which is also the target of a normal image. Region scores are the (R, K + 1)
classification logits of the box predictor for the R proposals of one image.
"""
from typing import List, Optional

import torch
import torch.nn.functional as F

__all__ = [
    "MOI_VARIANTS",
    "stack_image_labels",
    "image_label_targets",
    "select_moi",
    "moi_probs",
    "mil_loss",
]

MOI_VARIANTS = ("most_malignant", "most_benign", "most_discriminative", "most_abnormal")


def stack_image_labels(batched_inputs: List[dict], device: torch.device) -> torch.Tensor:
    """(N, K) multi-hot ``image_labels`` of a batch, with an error naming what is missing when an input
    has none (a data loader other than wsdet's, e.g. Detectron2's plain ``DatasetMapper``)."""
    missing = [
        x.get("file_name", f"input {i}") for i, x in enumerate(batched_inputs) if "image_labels" not in x
    ]
    if missing:
        raise KeyError(
            f"{len(missing)} training input(s) have no 'image_labels' (first: {missing[0]}); train with "
            "wsdet's data loader (wsdet.data.build_wsdet_train_loader / WSDetDatasetMapper on datasets "
            "registered by wsdet.data.register_wsdet_coco)"
        )
    return torch.stack([x["image_labels"] for x in batched_inputs]).to(device)


def image_label_targets(image_labels: torch.Tensor) -> torch.Tensor:
    """
    Args:
        image_labels: (N, K) multi-hot image labels, all zeros for a normal image.

    Returns:
        (N,) int64 targets: the positive class, or K for a normal image.
    """
    num_positive = image_labels.sum(dim=1)
    if (num_positive > 1).any():
        raise ValueError("The MIL loss needs single-label images (normal or one lesion class).")
    num_classes = image_labels.shape[1]
    return torch.where(num_positive > 0, image_labels.argmax(dim=1), num_classes)


def select_moi(
    logits: torch.Tensor,
    target: Optional[int],
    variant: str,
    malignant_class: int,
    on_logits: bool = False,
) -> int:
    """
    Index of the mass of interest among the R regions of one image.

    Malignant images always take their most malignant region (as in the paper's "X / most malignant"
    variants and the official code); the variant decides for the other images:

    * ``"most_malignant"``: argmax of the malignant score (the paper's proposed method).
    * ``"most_benign"``: argmax of the score of the image's own class (most benign for benign images).
    * ``"most_discriminative"``: argmax over regions of the highest lesion-class score (official code).
    * ``"most_abnormal"``: argmin of the background score.

    When the target is unknown (None, e.g. at inference) or normal, ``"most_benign"`` falls back to
    ``"most_discriminative"``; the other variants do not depend on the target.

    Args:
        logits: (R, K + 1) region classification logits, R > 0.
        target: the image's class (0..K-1, K = normal) or None.
        variant: one of :data:`MOI_VARIANTS`.
        malignant_class: contiguous id of the malignant class.
        on_logits: rank regions by raw logits (official code) instead of softmax probabilities.
    """
    if variant not in MOI_VARIANTS:
        raise ValueError(f"Unknown MoI variant {variant!r}; expected one of {MOI_VARIANTS}.")
    with torch.no_grad():
        scores = logits.float() if on_logits else F.softmax(logits.float(), dim=1)
        num_classes = scores.shape[1] - 1
        lesion = target is not None and 0 <= target < num_classes
        if variant == "most_malignant" or target == malignant_class:
            key = scores[:, malignant_class]
        elif variant == "most_benign" and lesion:
            key = scores[:, target]
        elif variant == "most_abnormal":
            key = -scores[:, num_classes]
        else:
            key = scores[:, :num_classes].max(dim=1).values
        return int(key.argmax())


def moi_probs(
    logits: torch.Tensor, variant: str, malignant_class: int, on_logits: bool = False
) -> torch.Tensor:
    """
    Image-level class probabilities (K,): the softmax of the label-free MoI (see :func:`select_moi`)
    without its background entry, so that ``1 - sum`` is the probability of a normal image.
    All zeros when the image has no region.
    """
    num_classes = logits.shape[1] - 1
    if len(logits) == 0:
        return logits.new_zeros(num_classes, dtype=torch.float32)
    index = select_moi(logits, None, variant, malignant_class, on_logits)
    return F.softmax(logits[index].float(), dim=0)[:num_classes]


def mil_loss(
    logits_per_image: List[torch.Tensor],
    targets: torch.Tensor,
    class_weights: torch.Tensor,
    variant: str,
    malignant_class: int,
    on_logits: bool = False,
) -> torch.Tensor:
    """
    Weighted cross-entropy between each image's label and the class probabilities of its MoI,
    averaged over the images (the official code's ``reduce_mean``). The MoI is chosen by argmax, so
    the gradient flows only through the selected region's logits. A normal image (target K) has
    every region pushed to background (mean CE over its regions) with weight ``class_weights[K]``;
    weight 0 ignores normal images, as the official code does. An image without regions adds 0.
    Computed in fp32 with log-softmax.

    Args:
        logits_per_image: N tensors of shape (R_i, K + 1).
        targets: (N,) int64, see :func:`image_label_targets`.
        class_weights: (K + 1,) CE weight per target.
        variant, malignant_class, on_logits: see :func:`select_moi`.
    """
    num_classes = class_weights.numel() - 1
    terms = []
    for logits, target in zip(logits_per_image, targets.tolist()):
        logits = logits.float()
        if len(logits) == 0:
            terms.append(logits.sum())
            continue
        if target != num_classes:
            index = select_moi(logits, target, variant, malignant_class, on_logits)
            logits = logits[index : index + 1]
        labels = torch.full((len(logits),), target, dtype=torch.int64, device=logits.device)
        terms.append(class_weights[target].float() * F.cross_entropy(logits, labels))
    if not terms:
        raise ValueError("mil_loss needs at least one image.")
    return torch.stack(terms).mean()
