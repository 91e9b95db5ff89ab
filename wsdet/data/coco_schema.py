"""The JSON types of a wsdet COCO file (docs/DATA_FORMAT_INTERNAL.md), checked before its contents are read.

One table per list of the file gives each field's type; :func:`check_types` reports every mistyped
container, entry and field at once, and hands back the well-typed entries for the checks of meaning.
Booleans are never numbers here, and numbers must be finite (JSON parsers accept NaN and huge integers).
"""
import json
import math
from typing import Any, Callable, Dict, List, NamedTuple, Set, Tuple

__all__ = ["TypedCoco", "check_types"]


def _is_int(value: Any) -> bool:
    """An integer, and not a boolean."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive_int(value: Any) -> bool:
    return _is_int(value) and value > 0


def _is_finite_number(value: Any) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond the float range
        return False


def _is_box(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 4 and all(_is_finite_number(v) for v in value)


def _is_box_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_box(v) for v in value)


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_int(v) for v in value)


def _is_file_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "\0" not in value


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


# field: (check, what it must be, required)
Field = Tuple[Callable[[Any], bool], str, bool]
_ID_LIST = (_is_id_list, "a list of integer category ids", False)
IMAGE_FIELDS: Dict[str, Field] = {
    "id": (_is_int, "an integer", True),
    "file_name": (_is_file_name, "a non-empty path without NUL characters", True),
    "width": (_is_positive_int, "a positive integer", True),
    "height": (_is_positive_int, "a positive integer", True),
    "pos_category_ids": _ID_LIST,
    "neg_category_ids": _ID_LIST,
    "background_boxes": (_is_box_list, "a list of [x, y, width, height] boxes of 4 finite numbers", False),
}
ANNOTATION_FIELDS: Dict[str, Field] = {
    "id": (_is_int, "an integer", False),
    "image_id": (_is_int, "an integer", True),
    "category_id": (_is_int, "an integer", True),
    "bbox": (_is_box, "[x, y, width, height]: 4 finite numbers", True),
    "iscrowd": (lambda v: _is_int(v) and v in (0, 1), "0 or 1", False),
}
CATEGORY_FIELDS: Dict[str, Field] = {
    "id": (_is_int, "an integer", True),
    "name": (_is_name, "a non-empty string", False),
}


class TypedCoco(NamedTuple):
    """What the checks of meaning may rely on, and every type problem found."""

    images: List[Dict[str, Any]]  # the well-typed images
    annotations: List[Dict[str, Any]]  # the well-typed annotations
    categories: List[Dict[str, Any]]  # the categories with an integer id (other fields may be mistyped)
    image_ids: Set[int]  # the id of every image object that has an integer one
    incomplete_image_ids: Set[int]  # images with a mistyped annotation: their boxes are not all known
    problems: List[str]


def _show(value: Any) -> str:
    """``value`` as JSON, shortened."""
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _where(section: str, index: int, entry: Dict[str, Any]) -> str:
    """E.g. "image 3 (a.png)", "annotation 7 of image 3", or "images[2]" when the id is unusable."""
    kind = {"images": "image", "annotations": "annotation", "categories": "category"}[section]
    where = f"{kind} {entry['id']}" if _is_int(entry.get("id")) else f"{section}[{index}]"
    name = entry.get("file_name")
    if section == "images" and isinstance(name, str):
        where += f" ({name!r})" if "\0" in name else f" ({name})"
    if section == "annotations" and _is_int(entry.get("image_id")):
        where += f" of image {entry['image_id']}"
    return where


def _field_problems(entry: Dict[str, Any], fields: Dict[str, Field], where: str) -> List[str]:
    problems = []
    for key, (check, expected, required) in fields.items():
        if key not in entry:
            if required:
                problems.append(f"{where}: no '{key}' ({expected})")
        elif not check(entry[key]):
            problems.append(f"{where}: '{key}' must be {expected}, got {_show(entry[key])}")
    return problems


def _entries(
    coco: Dict[str, Any], section: str, fields: Dict[str, Field], problems: List[str]
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(the object entries of ``coco[section]``, those of them whose fields are well typed)."""
    container = coco.get(section, [])
    if not isinstance(container, list):
        problems.append(f"'{section}' must be a list of objects, got {_show(container)}")
        return [], []
    objects, well_typed = [], []
    for index, entry in enumerate(container):
        if not isinstance(entry, dict):
            problems.append(f"{section}[{index}] must be an object, got {_show(entry)}")
            continue
        objects.append(entry)
        entry_problems = _field_problems(entry, fields, _where(section, index, entry))
        problems += entry_problems
        if not entry_problems:
            well_typed.append(entry)
    return objects, well_typed


def check_types(coco: Dict[str, Any]) -> TypedCoco:
    """Check the lists ``images``, ``annotations`` (optional) and ``categories`` and their entries."""
    problems: List[str] = []
    images, typed_images = _entries(coco, "images", IMAGE_FIELDS, problems)
    annotations, typed_annotations = _entries(coco, "annotations", ANNOTATION_FIELDS, problems)
    categories, _ = _entries(coco, "categories", CATEGORY_FIELDS, problems)
    well_typed = {id(ann) for ann in typed_annotations}
    return TypedCoco(
        images=typed_images,
        annotations=typed_annotations,
        categories=[c for c in categories if _is_int(c.get("id"))],
        image_ids={img["id"] for img in images if _is_int(img.get("id"))},
        incomplete_image_ids={
            ann["image_id"]
            for ann in annotations
            if id(ann) not in well_typed and _is_int(ann.get("image_id"))
        },
        problems=problems,
    )
