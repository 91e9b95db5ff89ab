"""The training augmentations of Shin et al.'s official code, as Detectron2 ``Augmentation``s."""
from typing import List, Sequence, Tuple

import numpy as np
from detectron2.config import CfgNode
from detectron2.data import transforms as T
from fvcore.transforms.transform import Transform

__all__ = ["BrightnessShift", "RandomBrightnessShift", "build_training_augmentations"]

GEOMETRIC_ON = ("weak", "all")


class BrightnessShift(Transform):
    """Adds ``delta`` x 255 to every pixel (TensorFlow's ``adjust_brightness`` on [0, 1] images),
    clipped to [0, 255]; coordinates are unchanged."""

    def __init__(self, delta: float):
        super().__init__()
        self.delta = delta

    def apply_image(self, img: np.ndarray) -> np.ndarray:
        shifted = np.clip(img.astype(np.float32) + self.delta * 255.0, 0, 255)
        return shifted.astype(img.dtype) if img.dtype == np.uint8 else shifted

    def apply_coords(self, coords: np.ndarray) -> np.ndarray:
        return coords

    def inverse(self) -> Transform:
        return BrightnessShift(-self.delta)


class RandomBrightnessShift(T.Augmentation):
    """:class:`BrightnessShift` by a delta drawn uniformly in [-max_delta, max_delta]."""

    def __init__(self, max_delta: float):
        super().__init__()
        self.max_delta = max_delta

    def get_transform(self, image: np.ndarray) -> Transform:
        return BrightnessShift(float(np.random.uniform(-self.max_delta, self.max_delta)))


def build_training_augmentations(
    cfg: CfgNode, base: Sequence[T.Augmentation]
) -> Tuple[List[T.Augmentation], List[T.Augmentation]]:
    """
    (augmentations of box-annotated images, augmentations of image-labelled images) in training:
    Detectron2's (``base``: resize, flip, optional ``INPUT.CROP``) with, from ``cfg.WSDET.AUGMENT``,
    a random rotation and crop first (on the images ``GEOMETRIC_ON`` names; boxes follow them) and a
    random brightness shift and contrast change last (on every image). A value of 0 / () turns one off.
    """
    aug = cfg.WSDET.AUGMENT
    if aug.GEOMETRIC_ON not in GEOMETRIC_ON:
        raise ValueError(f"WSDET.AUGMENT.GEOMETRIC_ON must be one of {GEOMETRIC_ON}, got {aug.GEOMETRIC_ON!r}")
    if aug.ROTATION < 0 or not 0 <= aug.CROP < 1 or aug.BRIGHTNESS < 0:
        raise ValueError(
            f"WSDET.AUGMENT: ROTATION ({aug.ROTATION}) and BRIGHTNESS ({aug.BRIGHTNESS}) must be >= 0 and "
            f"CROP ({aug.CROP}) in [0, 1)"
        )
    geometric: List[T.Augmentation] = []
    if aug.ROTATION:
        geometric.append(T.RandomRotation([-aug.ROTATION, aug.ROTATION], expand=False, sample_style="range"))
    if aug.CROP:
        geometric.append(T.RandomCrop("relative_range", (1.0 - aug.CROP, 1.0 - aug.CROP)))
    photometric: List[T.Augmentation] = []
    if aug.BRIGHTNESS:
        photometric.append(RandomBrightnessShift(aug.BRIGHTNESS))
    if aug.CONTRAST:
        if len(aug.CONTRAST) != 2 or not 0 <= aug.CONTRAST[0] <= aug.CONTRAST[1]:
            raise ValueError(f"WSDET.AUGMENT.CONTRAST must be (low, high) with 0 <= low <= high, got {aug.CONTRAST}")
        photometric.append(T.RandomContrast(*aug.CONTRAST))
    weak = geometric + list(base) + photometric
    strong = (geometric if aug.GEOMETRIC_ON == "all" else []) + list(base) + photometric
    return strong, weak
