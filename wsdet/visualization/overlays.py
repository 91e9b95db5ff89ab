"""Images with ground-truth boxes, predicted boxes and heatmaps.

Images are uint8 arrays, HxW / HxWx1 (grey) or HxWx3 RGB; every drawing function returns a new
HxWx3 RGB uint8 array and leaves its input unchanged. Boxes are XYXY in image pixels, pixel
(row r, column c) covering [c, c + 1) x [r, r + 1). Labels never cover each other (:class:`LabelPlacer`).
"""

from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from matplotlib import colormaps

from ..modeling.cam.postprocessing import normalize_heatmaps
from .text import Color, LabelPlacer, append_legend

__all__ = [
    "BACKGROUND_COLOR",
    "CLASS_COLORS",
    "GT_COLOR",
    "MIN_DISPLAY_SIZE",
    "class_color",
    "colormap_lut",
    "draw_boxes",
    "draw_detections",
    "overlay_heatmap",
    "render_overlay",
    "to_rgb",
]

GT_COLOR: Color = (0, 255, 0)
BACKGROUND_COLOR: Color = (170, 170, 170)  # regions known to hold no lesion (``background_boxes``)
# Colours of predicted boxes, by contiguous class id (cycled); none is green, the ground-truth colour.
CLASS_COLORS: Tuple[Color, ...] = (
    (255, 215, 0),
    (255, 40, 40),
    (0, 200, 255),
    (255, 0, 255),
    (255, 140, 0),
    (150, 100, 255),
)
# render_overlay draws smaller images at this size (longer side, pixels), so that text stays legible
MIN_DISPLAY_SIZE = 512


def class_color(class_id: int) -> Color:
    """The colour of predicted boxes of a contiguous class id."""
    return CLASS_COLORS[int(class_id) % len(CLASS_COLORS)]


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


def _pixel_corners(box: Sequence[float], height: int, width: int) -> Tuple[int, int, int, int]:
    """Pixel bounds (x0, y0, x1, y1; x1, y1 exclusive) of the outline of an XYXY box, clipped to the image."""
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    x0, y0 = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
    x1, y1 = min(max(x1 - 1, x0), width - 1), min(max(y1 - 1, y0), height - 1)
    return x0, y0, x1 + 1, y1 + 1


def _outline(rgb: np.ndarray, box: Sequence[float], color: Color, thickness: int) -> Tuple[int, int, int, int]:
    rect = _pixel_corners(box, *rgb.shape[:2])
    cv2.rectangle(rgb, rect[:2], (rect[2] - 1, rect[3] - 1), color, thickness)
    return rect


def _colors(colors: Union[Color, Sequence[Color]], count: int) -> List[Color]:
    array = np.broadcast_to(np.asarray(colors, dtype=np.int64).reshape(-1, 3), (count, 3))
    return [tuple(int(c) for c in row) for row in array]


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
    colour above the box (or below it with ``labels_below``); labels that would cover another are
    stacked away from their box (:class:`LabelPlacer`, in the order of ``boxes``).

    Args:
        boxes: (n, 4) XYXY boxes; the outline covers the box's first and last pixel rows / columns.
        colors: one RGB colour per box, or a single colour for all of them.
        labels: one text per box, or None.
    """
    rgb = to_rgb(image)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    colors = _colors(colors, len(boxes))
    rects = [_outline(rgb, box, color, thickness) for box, color in zip(boxes, colors)]
    placer = LabelPlacer(rgb, font_scale)
    for i, rect in enumerate(rects):
        if labels is not None and labels[i]:
            placer.place(labels[i], rect, colors[i], below=labels_below)
    return rgb


def _kept_detections(
    scores: np.ndarray, classes: np.ndarray, class_names: Sequence[str], score_thresh: float
) -> Tuple[np.ndarray, List[Color], List[str]]:
    """Rows scoring at least ``score_thresh``, best first, with their colours and "class score" labels."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    classes = np.asarray(classes, dtype=np.int64).reshape(-1)
    keep = np.flatnonzero(scores >= score_thresh)
    keep = keep[np.argsort(-scores[keep], kind="stable")]
    colors = [class_color(c) for c in classes[keep]]
    labels = [f"{class_names[c]} {s:.2f}" for c, s in zip(classes[keep], scores[keep])]
    return keep, colors, labels


def draw_detections(
    image: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    class_names: Sequence[str],
    *,
    score_thresh: float = 0.0,
    thickness: int = 1,
    font_scale: float = 0.35,
) -> np.ndarray:
    """Draw the detections scoring at least ``score_thresh``, coloured by class (:func:`class_color`)
    and labelled "class score": the best outline on top, its label closest to its box."""
    rgb = to_rgb(image)
    _draw_detections(rgb, LabelPlacer(rgb, font_scale), boxes, scores, classes, class_names, score_thresh, thickness)
    return rgb


def _draw_detections(rgb, placer, boxes, scores, classes, class_names, score_thresh, thickness) -> None:
    keep, colors, labels = _kept_detections(scores, classes, class_names, score_thresh)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)[keep]
    rects = [_outline(rgb, box, color, thickness) for box, color in reversed(list(zip(boxes, colors)))]
    for rect, color, label in zip(reversed(rects), colors, labels):
        placer.place(label, rect, color)


def render_overlay(
    image: np.ndarray,
    class_names: Sequence[str],
    *,
    heatmap: Optional[np.ndarray] = None,
    gt_boxes: Optional[np.ndarray] = None,
    gt_classes: Optional[np.ndarray] = None,
    background_boxes: Optional[np.ndarray] = None,
    pred_boxes: Optional[np.ndarray] = None,
    pred_scores: Optional[np.ndarray] = None,
    pred_classes: Optional[np.ndarray] = None,
    score_thresh: float = 0.0,
    heatmap_options: Optional[dict] = None,
    display_size: Optional[int] = None,
    legend: bool = True,
) -> np.ndarray:
    """
    The heatmap (if any, :func:`overlay_heatmap` with ``heatmap_options``), the background boxes
    (XYXY, :data:`BACKGROUND_COLOR`), the ground-truth boxes in :data:`GT_COLOR` (labelled below with
    their class when ``gt_classes`` is given), then the predictions (:func:`draw_detections`), on one
    RGB image; labels never cover each other.

    Args:
        display_size: the longer side of the drawing, in pixels: the image is resized to it first, so
            that lines and text stay sharp (boxes are in the original image's pixels). Default: the
            image's own size, at least :data:`MIN_DISPLAY_SIZE` (small native-resolution images are
            upscaled for reading).
        legend: add a strip under the image naming the colours: ground truth, each class's
            detections and the heatmap's colormap (those drawn).
    """
    rgb = to_rgb(image)
    height, width = rgb.shape[:2]
    size = display_size or max(height, width, MIN_DISPLAY_SIZE)
    scale = size / max(height, width)
    if scale != 1.0:
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, new_size, interpolation=interpolation)
    thickness = 2 if size >= 384 else 1
    font_scale = 0.45 if size >= 384 else 0.35
    options = {"cmap": "jet", **(heatmap_options or {})}
    if heatmap is not None:
        rgb = overlay_heatmap(rgb, heatmap, **options)
    placer = LabelPlacer(rgb, font_scale)
    items = []
    if background_boxes is not None:
        for box in np.asarray(background_boxes, dtype=np.float64).reshape(-1, 4) * scale:
            _outline(rgb, box, BACKGROUND_COLOR, thickness)
        items.append(("background (no lesion)", BACKGROUND_COLOR))
    if gt_boxes is not None:
        gt_boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4) * scale
        rects = [_outline(rgb, box, GT_COLOR, thickness) for box in gt_boxes]
        for rect, c in zip(rects, [] if gt_classes is None else np.asarray(gt_classes).reshape(-1)):
            placer.place(class_names[c], rect, GT_COLOR, below=True)
        items.append(("ground truth", GT_COLOR))
    if pred_boxes is not None:
        boxes = np.asarray(pred_boxes, dtype=np.float64).reshape(-1, 4) * scale
        _draw_detections(rgb, placer, boxes, pred_scores, pred_classes, class_names, score_thresh, thickness)
        items += [(name, class_color(c)) for c, name in enumerate(class_names)]
    if heatmap is not None:
        items.append(("heatmap: low to high", colormap_lut(options["cmap"])))
    return append_legend(rgb, items if legend else [], font_scale)
