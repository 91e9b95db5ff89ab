"""Heatmap post-processing: back at the original image resolution, and normalized to [0, 1]."""

from typing import Sequence, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["HEATMAP_NORMALIZATIONS", "normalize_heatmaps", "resize_heatmaps"]

HEATMAP_NORMALIZATIONS = ("absolute", "minmax")
Maps = TypeVar("Maps", np.ndarray, torch.Tensor)


def normalize_heatmaps(maps: Maps, mode: str) -> Maps:
    """
    Heatmaps (..., H, W) in [0, 1], each (H, W) map on its own: ``"absolute"`` clips the values (maps
    that already are probabilities, e.g. PCAM's), ``"minmax"`` rescales the map's minimum to 0 and its
    maximum to 1 (Choe et al., CVPR 2020), a constant map (or one holding NaN) giving zeros. Numpy arrays
    come back as float32 arrays; tensors keep their dtype and stay differentiable.
    """
    if mode not in HEATMAP_NORMALIZATIONS:
        raise ValueError(f"heatmap normalization must be one of {HEATMAP_NORMALIZATIONS}, got {mode!r}")
    if isinstance(maps, np.ndarray) or not isinstance(maps, torch.Tensor):
        maps = np.asarray(maps, dtype=np.float32)
    if mode == "absolute":
        return maps.clip(0.0, 1.0)
    if isinstance(maps, torch.Tensor):
        low, high = maps.amin(dim=(-2, -1), keepdim=True), maps.amax(dim=(-2, -1), keepdim=True)
        span = high - low
        return (maps - low) / (span + (span <= 0)) * (span > 0)
    low, high = maps.min(axis=(-2, -1), keepdims=True), maps.max(axis=(-2, -1), keepdims=True)
    normalized = np.zeros_like(maps)
    np.divide(maps - low, high - low, out=normalized, where=high > low)  # NaN spans: as constant maps
    return normalized


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
