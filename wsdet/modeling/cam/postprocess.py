"""Heatmaps of a padded, resized input back at the original image resolution."""

from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = ["resize_heatmaps"]


def resize_heatmaps(
    heatmaps: torch.Tensor, padded_size: Sequence[int], image_size: Sequence[int], output_size: Sequence[int]
) -> torch.Tensor:
    """
    Args:
        heatmaps: (K, h, w) maps covering the whole padded input tensor.
        padded_size: (H, W) of the padded input tensor.
        image_size: (H, W) of the image inside it (top-left corner), after the test-time resize.
        output_size: (height, width) of the original image.

    Returns:
        (K, height, width) maps, bilinearly resampled.
    """
    maps = F.interpolate(
        heatmaps[None].float(), size=tuple(padded_size), mode="bilinear", align_corners=False
    )
    maps = maps[:, :, : image_size[0], : image_size[1]]
    return F.interpolate(maps, size=tuple(output_size), mode="bilinear", align_corners=False)[0]
