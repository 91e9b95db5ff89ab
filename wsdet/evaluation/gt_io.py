"""Ground truth and detections as flat arrays, from Detectron2 dataset dicts or COCO JSON files.

Category ids become contiguous ids 0..K-1 in increasing id order (as Detectron2's COCO loader does);
image-level labels come from ``image_labels`` (dataset dicts) or ``pos_category_ids`` (COCO JSON) and
are derived from the boxes when absent. Crowd boxes (``iscrowd=1``) are left out.
"""

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from detectron2.structures import BoxMode

from .box_ops import xywh_to_xyxy
from .tables import BoxTable

JsonSource = Union[str, Dict[str, Any], List[Any]]


@dataclass(frozen=True)
class GroundTruth:
    """The ground truth of N images: ids, sizes, image labels and boxes (with their segmentations)."""

    image_ids: List[Any]
    sizes: np.ndarray  # (N, 2) height, width
    labels: np.ndarray  # (N, K) bool, multi-hot image labels; all False = normal
    annotated: np.ndarray  # (N,) bool, the image carries box annotations (possibly none: normal)
    boxes: BoxTable  # XYXY absolute, contiguous classes
    segmentations: List[Any]  # aligned with ``boxes`` rows: COCO polygons / RLE, or None

    def _has_box(self) -> np.ndarray:
        return np.bincount(self.boxes.image, minlength=len(self.image_ids)) > 0

    @property
    def normal(self) -> np.ndarray:
        """``(N,)`` images with neither a lesion label nor a box."""
        return ~self.labels.any(axis=1) & ~self._has_box()

    def box_evaluable(self) -> np.ndarray:
        """``(N,)`` images usable for box metrics: annotated, and either with boxes or normal."""
        return self.annotated & (self._has_box() | self.normal)

    def select(self, rows: np.ndarray) -> "GroundTruth":
        """The ground truth of the images ``rows`` (indices), renumbered 0..len(rows)-1."""
        rows = np.asarray(rows, dtype=np.int64)
        new_index = np.full(len(self.image_ids), -1, dtype=np.int64)
        new_index[rows] = np.arange(len(rows))
        keep = np.flatnonzero(new_index[self.boxes.image] >= 0)
        kept = self.boxes.select(keep)
        return GroundTruth(
            [self.image_ids[i] for i in rows],
            self.sizes[rows],
            self.labels[rows],
            self.annotated[rows],
            BoxTable(new_index[kept.image], kept.boxes, kept.classes, kept.scores),
            [self.segmentations[i] for i in keep],
        )


def _build(
    records: Sequence[Tuple[Any, int, int, Optional[Sequence[int]], Optional[list]]], num_classes: int
) -> GroundTruth:
    """From per image (id, height, width, label ids | None, [(xyxy, class, iscrowd, segmentation)] | None)."""
    labels = np.zeros((len(records), num_classes), dtype=bool)
    image, boxes, classes, segmentations = [], [], [], []
    for i, (_, _, _, label_ids, anns) in enumerate(records):
        for xyxy, cls, iscrowd, segmentation in anns or []:
            if not iscrowd:
                image.append(i)
                boxes.append(xyxy)
                classes.append(cls)
                segmentations.append(segmentation)
        labels[i, list(label_ids) if label_ids is not None else [a[1] for a in anns or []]] = True
    return GroundTruth(
        image_ids=[r[0] for r in records],
        sizes=np.array([(r[1], r[2]) for r in records], dtype=np.int64).reshape(-1, 2),
        labels=labels,
        annotated=np.array([r[4] is not None for r in records], dtype=bool),
        boxes=BoxTable(image, boxes, classes, np.ones(len(image))),
        segmentations=segmentations,
    )


def gt_from_dataset_dicts(dicts: Sequence[Dict[str, Any]], num_classes: int) -> GroundTruth:
    """Ground truth of Detectron2 dataset dicts (``image_labels``, ``annotations`` as in wsdet's loader)."""

    def annotation(ann):
        xyxy = BoxMode.convert(list(ann["bbox"]), ann["bbox_mode"], BoxMode.XYXY_ABS)
        return xyxy, int(ann["category_id"]), ann.get("iscrowd", 0), ann.get("segmentation")

    return _build(
        [
            (
                d["image_id"],
                d["height"],
                d["width"],
                d.get("image_labels"),
                [annotation(a) for a in d["annotations"]] if "annotations" in d else None,
            )
            for d in dicts
        ],
        num_classes,
    )


def _load(source: JsonSource) -> Any:
    if isinstance(source, str):
        with open(source) as f:
            return json.load(f)
    return source


def gt_from_coco_json(source: JsonSource) -> Tuple[GroundTruth, List[str], Dict[int, int]]:
    """Ground truth of a COCO JSON (path or dict): ``(gt, class_names, category id -> contiguous id)``.

    Every image counts as box-annotated (its annotations, possibly none, are its whole truth).
    """
    coco = _load(source)
    categories = sorted(coco["categories"], key=lambda c: c["id"])
    to_contiguous = {c["id"]: i for i, c in enumerate(categories)}
    anns_by_image: Dict[Any, list] = {img["id"]: [] for img in coco["images"]}
    for ann in coco.get("annotations", []):
        xyxy = xywh_to_xyxy(np.asarray(ann["bbox"], dtype=np.float64)).tolist()
        anns_by_image[ann["image_id"]].append(
            (xyxy, to_contiguous[ann["category_id"]], ann.get("iscrowd", 0), ann.get("segmentation"))
        )
    records = [
        (
            img["id"],
            img["height"],
            img["width"],
            [to_contiguous[c] for c in img["pos_category_ids"]] if "pos_category_ids" in img else None,
            anns_by_image[img["id"]],
        )
        for img in coco["images"]
    ]
    return _build(records, len(categories)), [c["name"] for c in categories], to_contiguous


def detections_from_coco_results(
    source: JsonSource, gt: GroundTruth, to_contiguous: Dict[int, int]
) -> BoxTable:
    """Detections of a COCO results JSON (``[{image_id, category_id, bbox XYWH, score}]``) on ``gt``'s images.

    Results on images outside ``gt`` are ignored; ``to_contiguous`` maps category ids (see
    :func:`gt_from_coco_json`; Detectron2's ``thing_dataset_id_to_contiguous_id``).
    """
    index = {image_id: i for i, image_id in enumerate(gt.image_ids)}
    results = [r for r in _load(source) if r["image_id"] in index]
    return BoxTable(
        [index[r["image_id"]] for r in results],
        xywh_to_xyxy(np.asarray([r["bbox"] for r in results], dtype=np.float64).reshape(-1, 4)),
        [to_contiguous[r["category_id"]] for r in results],
        [r["score"] for r in results],
    )
