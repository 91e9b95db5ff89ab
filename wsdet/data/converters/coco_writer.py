"""Build and write wsdet COCO JSON (COCO + ``pos_category_ids``, docs/DATA_FORMAT_INTERNAL.md)."""
import json
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .report import ConversionError, ConversionReport


class CocoBuilder:
    """Accumulates images (and, for a box-annotated file, annotations) of one output JSON.

    Category ids are 1..K in the order of ``category_names``. Image ids are given by the caller so that
    the strong and weak files of one dataset share one id space.
    """

    def __init__(self, category_names: Sequence[str], boxes: bool, description: str, image_root: str):
        self.categories = [{"id": i + 1, "name": n} for i, n in enumerate(category_names)]
        self.boxes = boxes
        self.info = {"description": description, "image_root": os.path.abspath(image_root)}
        self.images: List[Dict[str, Any]] = []
        self.annotations: List[Dict[str, Any]] = []

    def add_image(
        self,
        image_id: int,
        file_name: str,
        width: int,
        height: int,
        pos_category_ids: Sequence[int],
        neg_category_ids: Optional[Sequence[int]] = None,
    ) -> None:
        image = {
            "id": image_id,
            "file_name": file_name,
            "height": int(height),
            "width": int(width),
            "pos_category_ids": sorted(set(pos_category_ids)),
        }
        if neg_category_ids is not None:
            image["neg_category_ids"] = sorted(set(neg_category_ids))
        self.images.append(image)

    def add_annotation(
        self,
        image_id: int,
        category_id: int,
        bbox: Sequence[float],
        area: float,
        segmentation: Optional[List[List[float]]] = None,
    ) -> None:
        if not self.boxes:
            raise ValueError("this builder writes an image-label-only file: it takes no annotations")
        ann = {
            "id": len(self.annotations) + 1,
            "image_id": image_id,
            "category_id": category_id,
            "bbox": [float(v) for v in bbox],
            "area": float(area),
            "iscrowd": 0,
        }
        if segmentation:
            ann["segmentation"] = segmentation
        self.annotations.append(ann)

    def to_dict(self) -> Dict[str, Any]:
        """The COCO dict; an image-label-only file has no ``annotations`` key (read as weak)."""
        coco = {"info": dict(self.info), "images": list(self.images), "categories": self.categories}
        if self.boxes:
            coco["annotations"] = list(self.annotations)
        return coco


@dataclass
class Conversion:
    """A converted dataset: box-annotated (strong) and image-label-only (weak) COCO dicts, and the
    files it was read from (label tables), which no output may overwrite."""

    strong: Dict[str, Any]
    weak: Dict[str, Any]
    report: ConversionReport
    inputs: Tuple[str, ...] = ()


def write_json(coco: Dict[str, Any], path: str) -> None:
    """Write a COCO dict, creating the parent folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(coco, f)


def _describe(coco: Dict[str, Any]) -> str:
    """E.g. "5 images (benign 2, malignant 1, normal 2); 4 boxes"."""
    per_class = Counter(c for img in coco["images"] for c in img["pos_category_ids"])
    parts = [f"{c['name']} {per_class[c['id']]}" for c in coco["categories"] if per_class[c["id"]]]
    num_normal = sum(1 for img in coco["images"] if not img["pos_category_ids"])
    parts += [f"normal {num_normal}"] if num_normal else []
    boxes = f"; {len(coco['annotations'])} boxes" if "annotations" in coco else ""
    return f"{len(coco['images'])} images ({', '.join(parts)}){boxes}"


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (through links, ``..`` or case on case-insensitive systems)."""
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def check_outputs(output_json: str, weak_output_json: Optional[str], inputs: Sequence[str]) -> None:
    """Refuse outputs that are folders, one file under two names, or an input of the conversion.

    Raises:
        ConversionError: naming each clash.
    """
    outputs = {"strong output": output_json, "weak output": weak_output_json}
    outputs = {kind: path for kind, path in outputs.items() if path}
    problems = [f"the {kind} {path} is a folder" for kind, path in outputs.items() if os.path.isdir(path)]
    if weak_output_json and _same_file(output_json, weak_output_json):
        problems.append(
            f"the strong output {output_json} and the weak output {weak_output_json} are the same file: "
            "one would overwrite the other"
        )
    problems += [
        f"the {kind} {path} is the input {source}: writing it would destroy the input"
        for kind, path in outputs.items()
        for source in inputs
        if _same_file(path, source)
    ]
    if problems:
        raise ConversionError(problems)


def write_conversion(conversion: Conversion, output_json: str, weak_output_json: Optional[str]) -> None:
    """Write the strong file, and the weak file when a path is given; record the outcome in the report.

    Weak images with no ``weak_output_json`` to go to are reported as skipped, one by one.

    Raises:
        ConversionError: before anything is written, if the outputs clash (:func:`check_outputs`).
    """
    check_outputs(output_json, weak_output_json, conversion.inputs)
    report = conversion.report
    write_json(conversion.strong, output_json)
    report.note(f"wrote {output_json}: {_describe(conversion.strong)}")
    if weak_output_json is None:
        for img in conversion.weak["images"]:
            report.skip("image-label-only image and no weak output file given", img["file_name"])
        return
    write_json(conversion.weak, weak_output_json)
    report.note(f"wrote {weak_output_json}: {_describe(conversion.weak)}")
    if not conversion.weak["images"]:
        report.warn(f"{weak_output_json}: the weak file holds no images")
