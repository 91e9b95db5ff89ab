"""Load COCO JSON whose images carry image-level labels (``pos_category_ids``) into dataset dicts.

Detectron2's ``load_coco_json`` drops per-image fields, so image-level labels need a loader of their own.
The types of the file are checked first (:mod:`.coco_schema`), then what it means; every problem found is
collected and reported at once, naming the file and the image.
"""
import json
import logging
import os
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

from detectron2.structures import BoxMode

from .coco_schema import check_types

logger = logging.getLogger(__name__)

SUPERVISIONS = ("strong", "weak")
# Boxes may overhang the image border by this many pixels (rounding in annotation tools).
BOX_TOLERANCE_PX = 1.0
MAX_ERRORS_SHOWN = 20


class DatasetFormatError(ValueError):
    """A dataset JSON violates the wsdet format; the message lists every problem found."""

    def __init__(self, json_file: str, problems: Sequence[str]):
        self.json_file = json_file
        self.problems = list(problems)
        shown = "\n  - ".join(self.problems[:MAX_ERRORS_SHOWN])
        more = len(self.problems) - MAX_ERRORS_SHOWN
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{json_file}: {len(self.problems)} problem(s):\n  - {shown}{tail}")


def infer_supervision(coco: Dict[str, Any]) -> str:
    """"strong" when the file holds box annotations, else "weak"."""
    return "strong" if coco.get("annotations") else "weak"


def _category_mapping(categories: List[Dict[str, Any]], problems: List[str]) -> Dict[int, int]:
    ids = [c["id"] for c in categories]
    for cid, n in Counter(ids).items():
        if n > 1:
            problems.append(f"category id {cid} is listed {n} times")
    names: Dict[str, List[int]] = {}
    for c in categories:
        name = c.get("name", str(c["id"]))
        if isinstance(name, str):  # else reported by check_types
            names.setdefault(name.strip(), []).append(c["id"])
    for name, name_ids in names.items():
        if len(name_ids) > 1:
            problems.append(f"category name {name!r} is used by categories {sorted(name_ids)}")
    if not categories:
        problems.append("the file has no 'categories'")
    return {cid: i for i, cid in enumerate(sorted(set(ids)))}


def _resolve_file(image_root: str, file_name: str, where: str, problems: List[str]) -> Optional[str]:
    root = os.path.realpath(image_root)
    path = os.path.realpath(os.path.join(root, file_name))
    if os.path.commonpath([root, path]) != root:
        problems.append(f"{where}: file_name {file_name!r} points outside the image root {image_root}")
        return None
    if not os.path.isfile(path):
        problems.append(f"{where}: image file not found: {path}")
        return None
    return path


def _check_box(bbox: List[float], width: int, height: int, where: str, problems: List[str]) -> bool:
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        problems.append(f"{where}: bbox {bbox} has non-positive size")
        return False
    tol = BOX_TOLERANCE_PX
    if x < -tol or y < -tol or x + w > width + tol or y + h > height + tol:
        problems.append(f"{where}: bbox {bbox} lies outside the {width}x{height} image")
        return False
    return True


def _label_list(
    ids: List[int], mapping: Dict[int, int], key: str, where: str, problems: List[str]
) -> Optional[List[int]]:
    unknown = [i for i in ids if i not in mapping]
    if unknown:
        problems.append(f"{where}: '{key}' has unknown category id(s) {unknown}")
        return None
    return sorted({mapping[i] for i in ids})


def _labelling(record: Dict[str, Any]) -> Tuple:
    """What a record says about its image: labels and boxes."""
    boxes = sorted((a["category_id"], tuple(a["bbox"]), a["iscrowd"]) for a in record.get("annotations", []))
    return tuple(record["image_labels"]), tuple(record["neg_image_labels"]), tuple(boxes)


def _check_files_listed_once(records: List[Dict[str, Any]], problems: List[str]) -> None:
    """A file listed by several images must say the same about it each time (then it is only warned about)."""
    by_file: Dict[str, List[Dict[str, Any]]] = {}
    for record in records:
        if record["file_name"] is None:  # not found: reported already
            continue
        by_file.setdefault(os.path.normcase(os.path.normpath(record["file_name"])), []).append(record)
    for path, group in by_file.items():
        if len(group) == 1:
            continue
        ids = ", ".join(str(r["image_id"]) for r in group)
        if len({_labelling(r) for r in group}) > 1:
            problems.append(
                f"{path} is listed by images {ids} with different labels or boxes; list each file once"
            )
        else:
            logger.warning(f"{path} is listed by images {ids}: it is used {len(group)} times as often")


def load_wsdet_coco_json(
    json_file: str,
    image_root: str,
    dataset_name: Optional[str] = None,
    supervision: Optional[str] = None,
    check_files: bool = True,
) -> List[Dict[str, Any]]:
    """Read a COCO JSON with image-level labels into wsdet dataset dicts (docs/DATA_FORMAT_INTERNAL.md).

    Args:
        json_file: path of the COCO JSON.
        image_root: directory that ``file_name`` entries are relative to.
        dataset_name: if given, its metadata gets ``thing_classes`` and the id mapping.
        supervision: "strong" (box-annotated) or "weak" (image labels only); None = inferred from the
            file (strong if it has annotations).
        check_files: verify that every image file exists.

    Raises:
        DatasetFormatError: listing every problem found (file, image id, what is wrong).
    """
    with open(json_file) as f:
        try:
            coco = json.load(f)
        except json.JSONDecodeError as e:
            raise DatasetFormatError(json_file, [f"not valid JSON: {e}"]) from e
    if not isinstance(coco, dict) or "images" not in coco:
        raise DatasetFormatError(json_file, ["not a COCO file: no 'images' list"])
    if supervision is None:
        supervision = infer_supervision(coco)
    if supervision not in SUPERVISIONS:
        raise ValueError(f"supervision must be one of {SUPERVISIONS}, got {supervision!r}")

    typed = check_types(coco)
    problems = list(typed.problems)
    categories = typed.categories
    mapping = _category_mapping(categories, problems)
    has_boxes = bool(coco.get("annotations")) or supervision == "strong"

    images = typed.images
    for img_id, n in Counter(img["id"] for img in images).items():
        if n > 1:
            problems.append(f"image id {img_id} is used by {n} images")

    anns_by_image: Dict[int, List[Dict[str, Any]]] = {img_id: [] for img_id in typed.image_ids}
    ann_ids = Counter(ann["id"] for ann in typed.annotations if "id" in ann)
    for ann in typed.annotations:
        if ann["image_id"] in anns_by_image:
            anns_by_image[ann["image_id"]].append(ann)
        else:
            problems.append(f"annotation {ann.get('id')}: unknown image_id {ann['image_id']}")
    for ann_id, n in ann_ids.items():
        if n > 1:
            problems.append(f"annotation id {ann_id} is used {n} times")

    dataset_dicts = []
    num_crowd = 0
    for img in images:
        where = f"image {img['id']} ({img['file_name']})"
        width, height = img["width"], img["height"]
        path = (
            _resolve_file(image_root, img["file_name"], where, problems)
            if check_files
            else os.path.join(image_root, img["file_name"])
        )
        record: Dict[str, Any] = {
            "file_name": path,
            "height": height,
            "width": width,
            "image_id": img["id"],
            "supervision": supervision,
        }
        annotations = []
        image_anns = anns_by_image[img["id"]]
        for ann in image_anns:
            ann_where = f"{where} annotation {ann.get('id')}"
            if ann["category_id"] not in mapping:
                problems.append(f"{ann_where}: unknown category_id {ann['category_id']}")
                continue
            if not _check_box(ann["bbox"], width, height, ann_where, problems):
                continue
            obj = {
                "bbox": [float(v) for v in ann["bbox"]],
                "bbox_mode": BoxMode.XYWH_ABS,
                "category_id": mapping[ann["category_id"]],
                "iscrowd": ann.get("iscrowd", 0),
            }
            num_crowd += obj["iscrowd"]
            if ann.get("segmentation"):
                obj["segmentation"] = ann["segmentation"]
            annotations.append(obj)
        box_labels = sorted({mapping[a["category_id"]] for a in image_anns if a["category_id"] in mapping})

        if "pos_category_ids" in img:
            labels = _label_list(img["pos_category_ids"], mapping, "pos_category_ids", where, problems)
            if labels is None:
                continue
            if has_boxes and labels != box_labels and img["id"] not in typed.incomplete_image_ids:
                problems.append(
                    f"{where}: pos_category_ids {img['pos_category_ids']} contradict the boxes' "
                    f"categories {sorted({a['category_id'] for a in image_anns})}"
                )
                continue
        elif has_boxes:
            labels = box_labels
        else:
            problems.append(f"{where}: weakly labelled image has no 'pos_category_ids'")
            continue
        record["image_labels"] = labels

        if "neg_category_ids" in img:
            negs = _label_list(img["neg_category_ids"], mapping, "neg_category_ids", where, problems)
            if negs is None:
                continue
            if set(negs) & set(labels):
                problems.append(f"{where}: a category is both in pos_category_ids and neg_category_ids")
                continue
        else:
            negs = [c for c in range(len(mapping)) if c not in labels]
        record["neg_image_labels"] = negs
        if "background_boxes" in img:  # regions known to hold no lesion (RPN negatives)
            background = img["background_boxes"]
            if not all(_check_box(b, width, height, f"{where} background box", problems) for b in background):
                continue
            record["background_boxes"] = [[float(v) for v in b] for b in background]
        if has_boxes:
            record["annotations"] = annotations
        dataset_dicts.append(record)
    _check_files_listed_once(dataset_dicts, problems)

    if problems:
        raise DatasetFormatError(json_file, problems)

    if dataset_name is not None:
        from detectron2.data import MetadataCatalog

        names = {c["id"]: c.get("name", str(c["id"])) for c in categories}
        meta = MetadataCatalog.get(dataset_name)
        meta.set(
            thing_classes=[names[cid] for cid in sorted(mapping)],
            thing_dataset_id_to_contiguous_id=mapping,
        )
    num_normal = sum(1 for d in dataset_dicts if not d["image_labels"])
    logger.info(
        f"Loaded {len(dataset_dicts)} {supervision} images from {json_file} "
        f"({num_normal} normal, {sum(len(d.get('annotations', [])) for d in dataset_dicts)} boxes"
        + (f", {num_crowd} crowd boxes ignored in training" if num_crowd else "")
        + ")"
    )
    return dataset_dicts
