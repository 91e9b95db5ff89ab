"""Grids of images with titles, and PNG files (optionally indexed-colour)."""

import os
from typing import Optional, Sequence

import cv2
import numpy as np
from PIL import Image

from .overlays import to_rgb
from .text import FONT

__all__ = ["make_grid", "save_grid", "write_png"]


def _fit(image: np.ndarray, size: int) -> np.ndarray:
    """The image scaled to fit a ``size`` x ``size`` square, centred on a black background."""
    height, width = image.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    tile = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    tile[top : top + new_h, left : left + new_w] = cv2.resize(
        image, (new_w, new_h), interpolation=interpolation
    )
    return tile


def make_grid(
    images: Sequence[np.ndarray],
    titles: Optional[Sequence[str]] = None,
    *,
    columns: int = 4,
    tile_size: int = 256,
    font_scale: float = 0.4,
    spacing: int = 4,
) -> np.ndarray:
    """
    Tile images (grey or RGB, any sizes: each is scaled to fit ``tile_size`` x ``tile_size``) in rows
    of ``columns``, each under its title (text longer than the tile is cut), on a white background.
    """
    if not len(images):
        raise ValueError("make_grid needs at least one image")
    columns = max(1, min(columns, len(images)))
    rows = -(-len(images) // columns)
    (_, text_h), baseline = cv2.getTextSize("Ag", FONT, font_scale, 1)
    title_h = text_h + baseline + 6 if titles is not None else 0
    cell_w, cell_h = tile_size + spacing, tile_size + title_h + spacing
    grid = np.full((rows * cell_h + spacing, columns * cell_w + spacing, 3), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        top, left = (i // columns) * cell_h + spacing, (i % columns) * cell_w + spacing
        if titles is not None:
            band = np.full((title_h, tile_size, 3), 255, dtype=np.uint8)
            cv2.putText(band, titles[i], (2, text_h + 3), FONT, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
            grid[top : top + title_h, left : left + tile_size] = band
        grid[top + title_h : top + title_h + tile_size, left : left + tile_size] = _fit(
            to_rgb(image), tile_size
        )
    return grid


def write_png(path: str, image: np.ndarray, palette_colors: Optional[int] = None) -> None:
    """Write a grey or RGB uint8 image as PNG, creating the parent folder.

    ``palette_colors``: write an indexed-colour PNG of at most that many colours (<= 256), about
    2-3 times smaller for grey images with a few coloured marks (e.g. for documentation).
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    picture = Image.fromarray(to_rgb(image))
    if palette_colors:
        picture = picture.quantize(palette_colors, method=Image.Quantize.MEDIANCUT)
    picture.save(path, format="PNG", optimize=bool(palette_colors))


def save_grid(
    path: str,
    images: Sequence[np.ndarray],
    titles: Optional[Sequence[str]] = None,
    *,
    palette_colors: Optional[int] = None,
    **grid_options,
) -> None:
    """Write :func:`make_grid` of ``images`` (with ``grid_options``) as a PNG (see :func:`write_png`)."""
    write_png(path, make_grid(images, titles, **grid_options), palette_colors)
