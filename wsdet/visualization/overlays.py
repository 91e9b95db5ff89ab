"""Images with ground-truth boxes, predicted boxes and heatmaps, and PNG grids of them.

Images are uint8 arrays, HxW / HxWx1 (grey) or HxWx3 RGB; every drawing function returns a new
HxWx3 RGB uint8 array and leaves its input unchanged. Boxes are XYXY in image pixels, pixel
(row r, column c) covering [c, c + 1) x [r, r + 1).
"""

import os
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from matplotlib import colormaps
from PIL import Image

from ..modeling.cam.postprocessing import normalize_heatmaps

__all__ = [
    "CLASS_COLORS",
    "GT_COLOR",
    "colormap_lut",
    "draw_boxes",
    "draw_detections",
    "make_grid",
    "overlay_heatmap",
    "render_overlay",
    "save_grid",
    "to_rgb",
    "write_png",
]

Color = Tuple[int, int, int]

GT_COLOR: Color = (0, 255, 0)
# Colours of predicted boxes, by contiguous class id (cycled); none is green, the ground-truth colour.
CLASS_COLORS: Tuple[Color, ...] = (
    (255, 215, 0),
    (255, 40, 40),
    (0, 200, 255),
    (255, 0, 255),
    (255, 140, 0),
    (150, 100, 255),
)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def to_rgb(image: np.ndarray) -> np.ndarray:
    """A copy of a uint8 grey (HxW, HxWx1) or RGB (HxWx3) image as HxWx3 RGB."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 3:
        return image.copy()
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=2)
    raise ValueError(f"expected an HxW, HxWx1 or HxWx3 image, got shape {image.shape}")


def colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 RGB table of a matplotlib colormap ("jet", "viridis", ...) or an OpenCV one
    (the name of a ``cv2.COLORMAP_*`` constant, e.g. "deepgreen"), case-insensitive for OpenCV."""
    if name in colormaps:
        return np.rint(colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)
    code = getattr(cv2, f"COLORMAP_{name.upper()}", None)
    if code is None:
        raise ValueError(f"unknown colormap {name!r}: not a matplotlib or OpenCV colormap name")
    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(256, 1), code)
    return np.ascontiguousarray(bgr[:, 0, ::-1])


def overlay_heatmap(
    image: np.ndarray,
    heatmap: np.ndarray,
    *,
    cmap: str = "jet",
    alpha: float = 0.5,
    normalize: str = "absolute",
    weight_by_value: bool = True,
) -> np.ndarray:
    """
    Blend a colour-mapped heatmap over an image.

    Args:
        image: grey or RGB uint8 image; a grey image stays grey wherever the heatmap is transparent.
        heatmap: (h, w) map, bilinearly resized to the image size if it differs.
        cmap: colormap name (see :func:`colormap_lut`).
        alpha: opacity of the colour map, in [0, 1].
        normalize: "absolute" or "minmax" (see :func:`wsdet.modeling.cam.normalize_heatmaps`).
        weight_by_value: opacity ``alpha x value`` per pixel, so that the image shows through where
            the map is low; False: the same opacity ``alpha`` everywhere.
    """
    rgb = to_rgb(image)
    height, width = rgb.shape[:2]
    values = np.asarray(heatmap, dtype=np.float32)
    if values.shape != (height, width):
        values = cv2.resize(values, (width, height), interpolation=cv2.INTER_LINEAR)
    values = normalize_heatmaps(values, normalize)
    colors = colormap_lut(cmap)[np.rint(values * 255).astype(np.uint8)].astype(np.float32)
    opacity = alpha * values[..., None] if weight_by_value else np.float32(alpha)
    return np.rint(rgb * (1.0 - opacity) + colors * opacity).astype(np.uint8)


def _pixel_corners(box: Sequence[float], height: int, width: int) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    """First and last pixel (x, y) of an XYXY box, clipped to the image."""
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
    x1, y1 = min(max(x1 - 1, x0), width - 1), min(max(y1 - 1, y0), height - 1)
    return (x0, y0), (x1, y1)


def _text_color(background: Color) -> Color:
    """Black on light backgrounds, white on dark ones."""
    luma = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
    return (0, 0, 0) if luma > 128 else (255, 255, 255)


def draw_boxes(
    image: np.ndarray,
    boxes: np.ndarray,
    colors: Union[Color, Sequence[Color]],
    labels: Optional[Sequence[str]] = None,
    *,
    thickness: int = 1,
    font_scale: float = 0.35,
    labels_below: bool = False,
) -> np.ndarray:
    """
    Draw XYXY boxes, each outlined in its colour, with an optional label on a filled band of that
    colour above the box (or below it with ``labels_below``; inside it at the image border).

    Args:
        boxes: (n, 4) XYXY boxes; the outline covers the box's first and last pixel rows / columns.
        colors: one RGB colour per box, or a single colour for all of them.
        labels: one text per box, or None.
    """
    rgb = to_rgb(image)
    height, width = rgb.shape[:2]
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    colors = np.broadcast_to(np.asarray(colors, dtype=np.int64).reshape(-1, 3), (len(boxes), 3))
    for i, box in enumerate(boxes):
        color = tuple(int(c) for c in colors[i])
        top_left, bottom_right = _pixel_corners(box, height, width)
        cv2.rectangle(rgb, top_left, bottom_right, color, thickness)
        if labels is None or not labels[i]:
            continue
        (text_w, text_h), baseline = cv2.getTextSize(labels[i], _FONT, font_scale, 1)
        band_h = text_h + baseline + 2
        x = min(top_left[0], max(width - text_w - 2, 0))
        if labels_below:
            below = bottom_right[1] + 1
            y = below if below + band_h <= height else bottom_right[1] - thickness - band_h + 1
        else:
            y = top_left[1] - band_h if top_left[1] >= band_h else top_left[1] + thickness
        cv2.rectangle(rgb, (x, y), (x + text_w + 1, y + band_h - 1), color, cv2.FILLED)
        cv2.putText(
            rgb, labels[i], (x + 1, y + text_h + 1), _FONT, font_scale, _text_color(color), 1, cv2.LINE_AA
        )
    return rgb


def draw_detections(
    image: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    class_names: Sequence[str],
    *,
    score_thresh: float = 0.0,
    **kwargs,
) -> np.ndarray:
    """Draw the detections scoring at least ``score_thresh``, coloured by class (:data:`CLASS_COLORS`)
    and labelled "class score"; lowest scores first, so that the best are on top.
    ``kwargs``: options of :func:`draw_boxes`."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    keep = np.flatnonzero(scores >= score_thresh)
    keep = keep[np.argsort(scores[keep], kind="stable")]
    colors = [CLASS_COLORS[c % len(CLASS_COLORS)] for c in classes[keep]]
    labels = [f"{class_names[c]} {s:.2f}" for c, s in zip(classes[keep], scores[keep])]
    return draw_boxes(image, np.asarray(boxes).reshape(-1, 4)[keep], colors, labels, **kwargs)


def render_overlay(
    image: np.ndarray,
    class_names: Sequence[str],
    *,
    heatmap: Optional[np.ndarray] = None,
    gt_boxes: Optional[np.ndarray] = None,
    gt_classes: Optional[np.ndarray] = None,
    pred_boxes: Optional[np.ndarray] = None,
    pred_scores: Optional[np.ndarray] = None,
    pred_classes: Optional[np.ndarray] = None,
    score_thresh: float = 0.0,
    heatmap_options: Optional[dict] = None,
) -> np.ndarray:
    """
    The heatmap (if any, :func:`overlay_heatmap` with ``heatmap_options``), then the ground-truth
    boxes in :data:`GT_COLOR` (labelled below with their class when ``gt_classes`` is given), then the
    predictions (:func:`draw_detections`), on one RGB image.
    """
    rgb = to_rgb(image)
    if heatmap is not None:
        rgb = overlay_heatmap(rgb, heatmap, **(heatmap_options or {}))
    if gt_boxes is not None:
        labels = None if gt_classes is None else [class_names[c] for c in np.asarray(gt_classes).reshape(-1)]
        rgb = draw_boxes(rgb, gt_boxes, GT_COLOR, labels, labels_below=True)
    if pred_boxes is not None:
        rgb = draw_detections(
            rgb, pred_boxes, pred_scores, pred_classes, class_names, score_thresh=score_thresh
        )
    return rgb


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
    (_, text_h), baseline = cv2.getTextSize("Ag", _FONT, font_scale, 1)
    title_h = text_h + baseline + 6 if titles is not None else 0
    cell_w, cell_h = tile_size + spacing, tile_size + title_h + spacing
    grid = np.full((rows * cell_h + spacing, columns * cell_w + spacing, 3), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        top, left = (i // columns) * cell_h + spacing, (i % columns) * cell_w + spacing
        if titles is not None:
            band = np.full((title_h, tile_size, 3), 255, dtype=np.uint8)
            cv2.putText(band, titles[i], (2, text_h + 3), _FONT, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
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
