"""Map wsdet dataset dicts to model inputs: image, multi-hot image labels, and boxes for strong images."""
import copy
import dataclasses
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from detectron2.config import configurable
from detectron2.data import DatasetMapper
from detectron2.data import transforms as T
from detectron2.structures import Boxes, BoxMode

from .augmentations import build_training_augmentations
from .image_io import ImageReadError, ImageReadOptions, read_image


def image_labels_to_multi_hot(labels: Sequence[int], num_classes: int) -> torch.Tensor:
    """Float32 (num_classes,) tensor with ones at the given contiguous class ids."""
    multi_hot = torch.zeros(num_classes, dtype=torch.float32)
    if len(labels):
        multi_hot[torch.as_tensor(list(labels), dtype=torch.long)] = 1.0
    return multi_hot


def _check_size(dataset_dict: Dict[str, Any], image: np.ndarray) -> None:
    """The image must have the size its dataset dict gives (boxes and evaluation rely on it)."""
    found = (image.shape[1], image.shape[0])
    expected = (dataset_dict.setdefault("width", found[0]), dataset_dict.setdefault("height", found[1]))
    if found != expected:
        raise ImageReadError(
            dataset_dict["file_name"],
            f"Mismatched image shape: the dataset gives {expected[0]}x{expected[1]} (width x height), "
            f"the file is {found[0]}x{found[1]}",
        )


def transform_background_boxes(
    boxes_xywh: Sequence[Sequence[float]], transforms: T.TransformList, image_shape: Tuple[int, int]
) -> Boxes:
    """Background boxes (XYWH, original image) through the image's transforms, clipped to the image."""
    xyxy = BoxMode.convert(np.asarray(boxes_xywh, dtype=np.float64), BoxMode.XYWH_ABS, BoxMode.XYXY_ABS)
    boxes = Boxes(torch.as_tensor(transforms.apply_box(xyxy), dtype=torch.float32))
    boxes.clip(image_shape)
    return boxes[boxes.nonempty()]


class WSDetDatasetMapper(DatasetMapper):
    """Detectron2's DatasetMapper plus image-level labels, strong/weak handling and DICOM reading.

    Strong images (``supervision == "strong"``) get ``instances`` (and ``background_boxes``, regions
    known to hold no lesion, when the dataset gives them) in training; weak images only get
    ``image_labels``, so their boxes (if any) never reach a detector loss. In inference, annotations are
    dropped as in Detectron2 (evaluators read the ground truth from the dataset).
    """

    @configurable
    def __init__(
        self,
        is_train: bool,
        *,
        num_classes: int,
        read_options: ImageReadOptions = ImageReadOptions(),
        weak_augmentations: Optional[Sequence[T.Augmentation]] = None,
        **kwargs,
    ):
        """
        Args:
            num_classes: number of lesion classes K (length of the multi-hot ``image_labels``).
            read_options: DICOM frame and window, pixel limit.
            weak_augmentations: augmentations of image-labelled images in training (default: the
                ``augmentations`` of the box-annotated ones).
            kwargs: arguments of :class:`detectron2.data.DatasetMapper`.
        """
        super().__init__(is_train, **kwargs)
        self.num_classes = num_classes
        self.read_options = read_options
        self.weak_augmentations = (
            T.AugmentationList(list(weak_augmentations)) if weak_augmentations is not None else self.augmentations
        )

    @classmethod
    def from_config(cls, cfg, is_train: bool = True) -> Dict[str, Any]:
        ret = super().from_config(cfg, is_train)
        ret["num_classes"] = cfg.MODEL.ROI_HEADS.NUM_CLASSES
        ret["read_options"] = ImageReadOptions.from_config(cfg)
        if is_train:
            ret["augmentations"], ret["weak_augmentations"] = build_training_augmentations(cfg, ret["augmentations"])
        return ret

    def __call__(self, dataset_dict: Dict[str, Any]) -> Dict[str, Any]:
        """Raises :class:`ImageReadError` for an unreadable image or one whose size is not the dataset's."""
        dataset_dict = copy.deepcopy(dataset_dict)
        image = read_image(
            dataset_dict["file_name"], format=self.image_format, **dataclasses.asdict(self.read_options)
        )
        _check_size(dataset_dict, image)

        aug_input = T.AugInput(image)
        weak = dataset_dict.get("supervision") == "weak"
        transforms = (self.weak_augmentations if self.is_train and weak else self.augmentations)(aug_input)
        image = aug_input.image
        image_shape = image.shape[:2]
        dataset_dict["image"] = torch.as_tensor(np.ascontiguousarray(image.transpose(2, 0, 1)))
        dataset_dict["image_labels"] = image_labels_to_multi_hot(
            dataset_dict["image_labels"], self.num_classes
        )

        annotations_used = self.is_train and dataset_dict.get("supervision") == "strong"
        background = dataset_dict.pop("background_boxes", None)
        if annotations_used:
            dataset_dict.setdefault("annotations", [])
            self._transform_annotations(dataset_dict, transforms, image_shape)
            if background:
                dataset_dict["background_boxes"] = transform_background_boxes(background, transforms, image_shape)
        else:
            dataset_dict.pop("annotations", None)
        return dataset_dict

