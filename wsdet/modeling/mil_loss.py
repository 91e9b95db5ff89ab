"""
Mass-of-interest (MoI) selection and MIL loss of weakly labelled images (Shin et al., IEEE TMI 2019).

Class indices follow Detectron2's box predictor: the K lesion classes are ``0 .. K-1`` (contiguous ids)
and ``K`` is background, which is also the target of a normal image. Region scores are the (R, K + 1)
classification logits of the box predictor for the R proposals of one image. Every operation here
works on all images of a batch at once (regions padded to the longest image), without a host sync.
"""
from dataclasses import dataclass
from typing import List

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

__all__ = [
    "MOI_VARIANTS",
    "MoISelector",
    "stack_image_labels",
    "image_label_targets",
    "mil_loss",
    "regions_with_gradient",
    "class_weights_from_counts",
]

MOI_VARIANTS = ("most_malignant", "most_benign", "most_discriminative", "most_abnormal")
UNKNOWN_TARGET = -1  # the target of an image whose label is not known (inference)


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


def _pad(logits_per_image: List[torch.Tensor]):
    """(N, R, K + 1) fp32 logits padded with zeros to the longest image, and the (N, R) valid mask."""
    logits = pad_sequence([x.float() for x in logits_per_image], batch_first=True)
    lengths = torch.as_tensor([len(x) for x in logits_per_image], device=logits.device)
    valid = torch.arange(logits.shape[1], device=logits.device)[None, :] < lengths[:, None]
    return logits, valid


@dataclass(frozen=True)
class MoISelector:
    """
    How the mass of interest of an image is chosen among its regions. Malignant images always take
    their most malignant region (as in the paper's "X / most malignant" variants and the official
    code); ``variant`` decides for the other images:

    * ``"most_malignant"``: argmax of the malignant score (the paper's proposed method).
    * ``"most_benign"``: argmax of the score of the image's own class (most benign for benign images).
    * ``"most_discriminative"``: argmax over regions of the highest lesion-class score (official code).
    * ``"most_abnormal"``: argmin of the background score.

    When the target is unknown (inference) or normal, ``"most_benign"`` falls back to
    ``"most_discriminative"``; the other variants do not depend on the target. Regions are ranked by
    softmax probabilities (``select_on="prob"``, the paper's text) or raw logits (``"logit"``, the
    official code). Ties go to the first region.
    """

    variant: str
    malignant_class: int
    num_classes: int
    select_on: str = "prob"

    def __post_init__(self):
        if self.variant not in MOI_VARIANTS:
            raise ValueError(f"Unknown MoI variant {self.variant!r} (WSDET.MIL.MOI); expected one of {MOI_VARIANTS}.")
        if self.select_on not in ("prob", "logit"):
            raise ValueError(f"WSDET.MIL.SELECT_ON must be 'prob' or 'logit', got {self.select_on!r}.")
        if not 0 <= self.malignant_class < self.num_classes:
            raise ValueError(
                f"WSDET.MIL.MALIGNANT_CLASS must be a contiguous lesion class id in [0, {self.num_classes}), "
                f"got {self.malignant_class}."
            )

    def _scores(self, logits: torch.Tensor) -> torch.Tensor:
        return logits if self.select_on == "logit" else F.softmax(logits, dim=-1)

    def region_keys(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """
        Args:
            logits: (N, R, K + 1) region logits.
            targets: (N,) int64 image classes (0..K-1, K = normal, -1 = unknown).

        Returns:
            (N, R) ranking keys: the MoI of image i is the argmax of row i.
        """
        with torch.no_grad():
            scores = self._scores(logits.float())
            k = self.num_classes
            malignant = scores[..., self.malignant_class]
            if self.variant == "most_malignant":
                return malignant
            lesion_max = scores[..., :k].max(dim=-1).values
            if self.variant == "most_discriminative":
                other = lesion_max
            elif self.variant == "most_abnormal":
                other = -scores[..., k]
            else:
                own = scores.gather(-1, targets.clamp(0, k - 1)[:, None, None].expand(*scores.shape[:2], 1))
                is_lesion = (targets >= 0) & (targets < k)
                other = torch.where(is_lesion[:, None], own.squeeze(-1), lesion_max)
            return torch.where((targets == self.malignant_class)[:, None], malignant, other)

    def abnormality(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, R) how abnormal each region looks: minus its background score."""
        with torch.no_grad():
            return -self._scores(logits.float())[..., self.num_classes]

    def select(self, logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(N,) index of the MoI of each image among its valid regions ((N, R) mask; 0 when none)."""
        keys = self.region_keys(logits, targets)
        return keys.masked_fill(~valid, float("-inf")).argmax(dim=1)

    def select_per_image(self, logits_per_image: List[torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
        """:meth:`select` for N tensors of shape (R_i, K + 1) (R_i > 0 for a meaningful index)."""
        logits, valid = _pad(logits_per_image)
        return self.select(logits, targets.to(logits.device), valid)

    def image_probs(self, logits_per_image: List[torch.Tensor]) -> torch.Tensor:
        """
        (N, K) image-level class probabilities: the softmax of each image's label-free MoI without its
        background entry, so that ``1 - sum`` is the probability of a normal image. All zeros for an
        image without regions.
        """
        logits, valid = _pad(logits_per_image)
        if logits.shape[1] == 0:
            return logits.new_zeros(len(logits_per_image), self.num_classes)
        unknown = torch.full((len(logits),), UNKNOWN_TARGET, dtype=torch.int64, device=logits.device)
        moi = self.select(logits, unknown, valid)
        probs = F.softmax(logits[torch.arange(len(logits), device=logits.device), moi], dim=-1)
        return probs[:, : self.num_classes] * valid.any(dim=1, keepdim=True)


def _loss_regions(
    logits: torch.Tensor, valid: torch.Tensor, targets: torch.Tensor, selector: MoISelector, normal_regions: int
):
    """(N,) MoI index of each image and the (N, R) mask of the regions a normal image would push to
    background: all valid ones (``normal_regions`` 0) or its ``normal_regions`` most abnormal ones."""
    moi = selector.select(logits, targets, valid)
    if normal_regions == 0:
        return moi, valid
    abnormality = selector.abnormality(logits).masked_fill(~valid, float("-inf"))
    top = abnormality.argsort(dim=1, descending=True, stable=True)[:, :normal_regions]
    return moi, torch.zeros_like(valid).scatter(1, top, True) & valid


def mil_loss(
    logits_per_image: List[torch.Tensor],
    targets: torch.Tensor,
    class_weights: torch.Tensor,
    selector: MoISelector,
    normal_regions: int = 0,
) -> torch.Tensor:
    """
    Weighted cross-entropy between each image's label and the class probabilities of its MoI,
    averaged over the images (the official code's ``reduce_mean``). The MoI is chosen by argmax, so
    the gradient flows only through the selected region's logits. A normal image (target K) has its
    regions pushed to background (mean CE over them) with weight ``class_weights[K]``: all of them
    (``normal_regions`` 0) or its ``normal_regions`` most abnormal ones (lowest background score,
    ties to the first region);
    weight 0 ignores normal images, as the official code does. An image without regions adds 0.
    Computed in fp32 with log-softmax, for all images at once.

    Args:
        logits_per_image: N tensors of shape (R_i, K + 1).
        targets: (N,) int64, see :func:`image_label_targets`.
        class_weights: (K + 1,) CE weight per target.
        selector: how the MoI is chosen.
        normal_regions: regions of a normal image pushed to background (0 = all).
    """
    if not logits_per_image:
        raise ValueError("mil_loss needs at least one image.")
    logits, valid = _pad(logits_per_image)
    num_images, num_regions, num_outputs = logits.shape
    if num_regions == 0:
        return logits.sum()
    targets = targets.to(logits.device)
    region_targets = targets[:, None].expand(num_images, num_regions).reshape(-1)
    ce = F.cross_entropy(logits.reshape(-1, num_outputs), region_targets, reduction="none")
    ce = ce.view(num_images, num_regions)

    moi, chosen = _loss_regions(logits, valid, targets, selector, normal_regions)
    lesion_term = ce.gather(1, moi[:, None]).squeeze(1)
    normal_term = (ce * chosen).sum(dim=1) / chosen.sum(dim=1).clamp(min=1)
    is_normal = targets == num_outputs - 1
    terms = torch.where(is_normal, normal_term, lesion_term) * class_weights.float()[targets]
    return torch.where(valid.any(dim=1), terms, torch.zeros_like(terms)).mean()


def regions_with_gradient(
    logits_per_image: List[torch.Tensor],
    targets: torch.Tensor,
    class_weights: torch.Tensor,
    selector: MoISelector,
    normal_regions: int = 0,
) -> List[torch.Tensor]:
    """
    The regions of each image that :func:`mil_loss` (same arguments) has a gradient through, as
    ascending indices: the MoI of a lesion image, the regions a normal image pushes to background,
    none for an image whose class weight is 0. ``mil_loss`` of these regions alone (in this order)
    equals ``mil_loss`` of all regions, so only they need a graph through the box head.
    """
    logits, valid = _pad(logits_per_image)
    num_images, num_regions, num_outputs = logits.shape
    if num_regions == 0:
        return [torch.zeros(0, dtype=torch.int64, device=logits.device) for _ in range(num_images)]
    targets = targets.to(logits.device)
    moi, chosen = _loss_regions(logits, valid, targets, selector, normal_regions)
    is_moi = torch.zeros_like(valid).scatter(1, moi[:, None], True) & valid
    keep = torch.where((targets == num_outputs - 1)[:, None], chosen, is_moi)
    keep &= (class_weights.to(logits.device)[targets] != 0)[:, None]
    columns = keep.nonzero()[:, 1]
    return list(columns.split(keep.sum(dim=1).tolist()))


def class_weights_from_counts(counts: List[int]) -> List[float]:
    """MIL CE weight of each lesion class from its number of weak images: 1 - its share, so that with
    two classes each is weighted by the other's share (the official code's inverse-frequency weights)."""
    total = sum(counts)
    if total == 0 or any(c < 0 for c in counts):
        raise ValueError(f"class counts must be >= 0 with at least one image, got {counts}")
    return [1.0 - c / total for c in counts]
