"""Text drawn on images: box labels that never overlap each other, and legends of colours.

Rectangles are ``(x0, y0, x1, y1)`` pixel bounds, ``x1`` / ``y1`` exclusive.
"""

from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

__all__ = ["LabelPlacer", "append_legend", "text_color"]

Color = Tuple[int, int, int]
Rect = Tuple[int, int, int, int]
Swatch = Union[Color, np.ndarray]  # a colour, or a (256, 3) colormap table drawn as a gradient

FONT = cv2.FONT_HERSHEY_SIMPLEX


def text_color(background: Color) -> Color:
    """Black on light backgrounds, white on dark ones."""
    luma = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
    return (0, 0, 0) if luma > 128 else (255, 255, 255)


def _band_size(text: str, font_scale: float) -> Tuple[int, int, int]:
    """(width, height, baseline) of a filled band holding ``text``."""
    (text_w, text_h), baseline = cv2.getTextSize(text, FONT, font_scale, 1)
    return text_w + 2, text_h + baseline + 2, baseline


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class LabelPlacer:
    """
    Draws labels (text on a band of the box's colour) beside their boxes on one image, each where it
    covers no label placed before: on its box's edge (above it, or below it with ``below``), else
    stacked on the labels in the way, away from the box, else inside the box. Place the most
    important labels first: they get the places closest to their boxes.
    """

    def __init__(self, image: np.ndarray, font_scale: float = 0.4):
        self.image = image
        self.font_scale = font_scale
        self.placed: List[Rect] = []

    def _free_row(self, x: int, width: int, height: int, y: int, step: int) -> Optional[int]:
        """The first row from ``y`` on, moving up (``step`` -1) or down (1) past the labels in the way,
        where a band fits inside the image without covering a placed label; None if there is none."""
        limit = self.image.shape[0] - height
        while 0 <= y <= limit:
            rect = (x, y, x + width, y + height)
            in_the_way = [r for r in self.placed if _overlaps(rect, r)]
            if not in_the_way:
                return y
            y = min(r[1] for r in in_the_way) - height if step < 0 else max(r[3] for r in in_the_way)
        return None

    def place(self, text: str, box: Rect, color: Color, below: bool = False) -> Rect:
        """Draw ``text`` for the box ``box`` (outline pixel bounds); returns the band's rectangle."""
        width, height, baseline = _band_size(text, self.font_scale)
        x = min(max(box[0], 0), max(self.image.shape[1] - width, 0))
        # outside the box, stacking away from it; else inside it, stacking the other way
        if below:
            y = self._free_row(x, width, height, box[3], 1)
            y = self._free_row(x, width, height, box[3] - height, -1) if y is None else y
        else:
            y = self._free_row(x, width, height, box[1] - height, -1)
            y = self._free_row(x, width, height, box[1], 1) if y is None else y
        if y is None:  # no free place: on the box's edge, inside the image
            y = min(max(box[3] if below else box[1] - height, 0), max(self.image.shape[0] - height, 0))
        rect = (x, y, x + width, y + height)
        self.placed.append(rect)
        x0, y0, x1, y1 = rect
        cv2.rectangle(self.image, (x0, y0), (x1 - 1, y1 - 1), color, cv2.FILLED)
        cv2.putText(
            self.image, text, (x0 + 1, y1 - baseline - 1), FONT, self.font_scale, text_color(color), 1, cv2.LINE_AA
        )
        return rect


def append_legend(image: np.ndarray, items: Sequence[Tuple[str, Swatch]], font_scale: float = 0.4) -> np.ndarray:
    """
    The image above a white strip listing ``items``: a swatch (a colour square, or a colormap as a
    gradient) and its text each, wrapped onto as many rows as the image width needs.
    """
    if not items:
        return image
    width = image.shape[1]
    _, text_h, baseline = _band_size("Ag", font_scale)
    row_h = text_h + 4
    layout, x, y = [], 4, 0
    for text, swatch in items:
        swatch_w = 3 * row_h if isinstance(swatch, np.ndarray) else row_h - 6
        entry_w = swatch_w + 4 + _band_size(text, font_scale)[0] + 10
        if x > 4 and x + entry_w > width:
            x, y = 4, y + row_h
        layout.append((x, y, swatch_w, text, swatch))
        x += entry_w
    strip = np.full((y + row_h, width, 3), 255, dtype=np.uint8)
    for x, y, swatch_w, text, swatch in layout:
        cells = strip[y + 3 : y + row_h - 3, x : x + swatch_w]  # cut at the image's right edge
        if isinstance(swatch, np.ndarray):
            cells[:] = swatch[np.linspace(0, len(swatch) - 1, swatch_w).astype(int)][None, : cells.shape[1]]
        else:
            cells[:] = swatch
        cv2.putText(
            strip, text, (x + swatch_w + 4, y + row_h - baseline - 3), FONT, font_scale, (0, 0, 0), 1, cv2.LINE_AA
        )
    return np.concatenate([image, strip], axis=0)
