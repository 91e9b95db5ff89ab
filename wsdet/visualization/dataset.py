"""Pictures of dataset records: boxes, background boxes, image labels and supervision, as stored or as
the training mapper (augmentation included) hands them to the model."""
import os
from typing import Any, Dict, Sequence, Tuple

import numpy as np
from detectron2.data.detection_utils import convert_image_to_rgb
from detectron2.structures import BoxMode

from ..data.summary import label_group
from .overlays import render_overlay

__all__ = ["draw_mapped", "draw_record"]


def _title(record: Dict[str, Any], class_names: Sequence[str], boxes: int) -> str:
    name = os.path.basename(record["file_name"])
    count = f"{boxes} box" + ("" if boxes == 1 else "es")
    return f"{name}  {record.get('supervision', '?')}: {label_group(record, class_names)}, {count}"


def draw_record(
    image: np.ndarray, record: Dict[str, Any], class_names: Sequence[str], **overlay_options
) -> Tuple[np.ndarray, str]:
    """A wsdet dataset dict drawn on its RGB image, and a title (file, supervision, image labels)."""
    annotations = record.get("annotations", [])
    boxes = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in annotations]
    background = [BoxMode.convert(b, BoxMode.XYWH_ABS, BoxMode.XYXY_ABS) for b in record.get("background_boxes", [])]
    overlay = render_overlay(
        image,
        class_names,
        gt_boxes=np.asarray(boxes, dtype=np.float64).reshape(-1, 4),
        gt_classes=[a["category_id"] for a in annotations],
        background_boxes=np.asarray(background, dtype=np.float64).reshape(-1, 4) if background else None,
        **overlay_options,
    )
    return overlay, _title(record, class_names, len(boxes))


def draw_mapped(
    mapped: Dict[str, Any], class_names: Sequence[str], input_format: str, **overlay_options
) -> Tuple[np.ndarray, str]:
    """A mapper's output (its augmented image, ``instances`` and ``background_boxes``) drawn, and a title."""
    image = convert_image_to_rgb(mapped["image"].permute(1, 2, 0).numpy(), input_format)
    instances = mapped.get("instances")
    boxes = instances.gt_boxes.tensor.numpy() if instances is not None else np.zeros((0, 4))
    background = mapped.get("background_boxes")
    overlay = render_overlay(
        np.ascontiguousarray(image, dtype=np.uint8),
        class_names,
        gt_boxes=boxes,
        gt_classes=instances.gt_classes.numpy() if instances is not None else [],
        background_boxes=background.tensor.numpy() if background is not None else None,
        **overlay_options,
    )
    record = {**mapped, "image_labels": np.flatnonzero(mapped["image_labels"].numpy()).tolist()}
    return overlay, _title(record, class_names, len(boxes))
