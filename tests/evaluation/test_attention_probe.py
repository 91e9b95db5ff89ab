"""The attention-mask probe tells a classifier that reads the mask from one that reads what it shows."""

import math

import pytest
import torch
from torch import nn

from wsdet.evaluation.attention_probe import probe_attention_masks
from wsdet.modeling.cam import AttentionMining

# Six images: two of class 0, two of class 1, two normal.
LABELS = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
CORNERS = ((0, 0), (3, 3))  # where the map of class 0 and of class 1 peaks, on every image


class _Head:
    """Fixed heatmaps (class 0: top-left corner, class 1: bottom-right), sigmoid probabilities."""

    def __call__(self, features: torch.Tensor) -> dict:
        heatmaps = torch.zeros(len(features), 2, 4, 4)
        for c, (y, x) in enumerate(CORNERS):
            heatmaps[:, c, y, x] = 1.0
        return {"heatmaps": heatmaps}

    def image_probs(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits)


class _Model(nn.Module):
    """Classifies from the mask (channel 0, ones everywhere, read at each class's corner) or from the
    content (the brightest pixel of channel 1 + c, which only images of class c have)."""

    in_feature = "image"

    def __init__(self, reads: str):
        super().__init__()
        self.reads = reads
        self.head = _Head()
        self.attention_mining = AttentionMining(single_label=False)

    def backbone(self, images: torch.Tensor) -> dict:
        return {"image": images}

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        if self.reads == "mask":
            return torch.stack([images[:, 0, y, x] for y, x in CORNERS], dim=1) * 10
        return images[:, 1:3].amax(dim=(2, 3))


def _images() -> torch.Tensor:
    images = torch.zeros(6, 3, 4, 4)
    images[:, 0] = 1.0
    images[:2, 1] = 5.0  # the finding of class 0, everywhere in the image
    images[2:4, 2] = 5.0
    return images


def test_a_classifier_reading_the_mask_follows_the_masks_labels():
    aucs = probe_attention_masks(_Model("mask"), _images(), LABELS, seed=0)
    # Unmasked, every image looks the same: AUC 1/2. Masked, class c's score is T(A) at its corner:
    # high for class c's masks and for the normal images' masks (every class's map), so per class the
    # 2 positives beat the 2 other-class images and tie with the 2 normal ones: (2 x 2 + 2 x 2 / 2) / 8.
    assert aucs["full"] == pytest.approx(0.5)
    for key in ("own_mask", "swapped_vs_mask", "normal_content_vs_mask"):
        assert aucs[key] == pytest.approx(0.75), key


def test_a_classifier_reading_the_content_follows_the_contents_labels():
    aucs = probe_attention_masks(_Model("content"), _images(), LABELS, seed=0)
    # every mask keeps at least one corner of the finding, so the content's class wins whatever the mask
    for key in ("full", "own_mask", "swapped_vs_content"):
        assert aucs[key] == pytest.approx(1.0), key
    assert aucs["normal_content_vs_mask"] == pytest.approx(0.5)  # no finding under any mask


def test_probe_needs_attention_mining_and_a_normal_image_for_the_last_score():
    model = _Model("content")
    aucs = probe_attention_masks(model, _images()[:4], LABELS[:4])
    assert math.isnan(aucs["normal_content_vs_mask"])
    model.attention_mining = None
    with pytest.raises(ValueError, match="no attention mining"):
        probe_attention_masks(model, _images(), LABELS)
