"""Boxes of a whole test set as flat arrays, and the vectorized pairing of two such tables."""

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class BoxTable:
    """All boxes of a set of images: row ``i`` is box ``boxes[i]`` (XYXY) of image ``image[i]``.

    ``image`` indexes the images (or the (image, class) samples) of the evaluation, 0..N-1;
    ``classes`` are contiguous class ids; ``scores`` are detection scores (1 for ground truth).
    """

    image: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray

    def __post_init__(self):
        n = len(self.image)
        object.__setattr__(self, "image", np.asarray(self.image, dtype=np.int64).reshape(n))
        object.__setattr__(self, "boxes", np.asarray(self.boxes, dtype=np.float64).reshape(n, 4))
        object.__setattr__(self, "classes", np.asarray(self.classes, dtype=np.int64).reshape(n))
        object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float64).reshape(n))

    def __len__(self) -> int:
        return len(self.image)

    @classmethod
    def from_per_image(
        cls,
        boxes: Sequence[np.ndarray],
        classes: Sequence[np.ndarray],
        scores: Optional[Sequence[np.ndarray]] = None,
    ) -> "BoxTable":
        """Build from per-image lists of ``(n_i, 4)`` XYXY boxes, ``(n_i,)`` classes and scores."""
        counts = np.array([len(c) for c in classes], dtype=np.int64)
        image = np.repeat(np.arange(len(counts)), counts)
        flat_scores = _concat(scores, ()) if scores is not None else np.ones(int(counts.sum()))
        return cls(image, _concat(boxes, (4,)), _concat(classes, ()), flat_scores)

    def select(self, rows: np.ndarray) -> "BoxTable":
        """The sub-table of the given rows (boolean mask or indices)."""
        return BoxTable(self.image[rows], self.boxes[rows], self.classes[rows], self.scores[rows])

    def boxes_per_image(self, num_images: int) -> List[np.ndarray]:
        """The ``(n_i, 4)`` boxes of each image ``0..num_images-1``, in table order."""
        order = np.argsort(self.image, kind="stable")
        bounds = np.searchsorted(self.image[order], np.arange(1, num_images))
        return np.split(self.boxes[order], bounds)


def _concat(parts: Sequence[np.ndarray], row_shape: Tuple[int, ...]) -> np.ndarray:
    rows = [np.reshape(p, (-1, *row_shape)) for p in parts]
    return np.concatenate(rows).astype(np.float64) if rows else np.zeros((0, *row_shape))


def pair_indices(a: BoxTable, b: BoxTable, same_class: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """All pairs (row of ``a``, row of ``b``) on the same image (and of the same class if ``same_class``).

    Returns two aligned index arrays, grouped by the row of ``a`` in increasing order.
    """
    if len(a) == 0 or len(b) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    n_cls = int(max(a.classes.max(), b.classes.max())) + 1 if same_class else 1
    key_a = a.image * n_cls + (a.classes if same_class else 0)
    key_b = b.image * n_cls + (b.classes if same_class else 0)
    order_b = np.argsort(key_b, kind="stable")
    sorted_b = key_b[order_b]
    lo = np.searchsorted(sorted_b, key_a, side="left")
    counts = np.searchsorted(sorted_b, key_a, side="right") - lo
    rows_a = np.repeat(np.arange(len(a)), counts)
    starts = np.cumsum(counts) - counts
    offsets = np.arange(int(counts.sum())) - np.repeat(starts, counts)
    return rows_a, order_b[np.repeat(lo, counts) + offsets]
