"""What a registered dataset holds, counted per image-label group: to check a conversion before training."""
from collections import Counter
from typing import Any, Dict, List, Sequence

from tabulate import tabulate

__all__ = ["dataset_summary", "label_group"]


def label_group(record: Dict[str, Any], class_names: Sequence[str]) -> str:
    """The image's labels as one name: "normal", "benign", "benign + malignant", ..."""
    return " + ".join(class_names[c] for c in record["image_labels"]) or "normal"


def dataset_summary(dicts: Sequence[Dict[str, Any]], class_names: Sequence[str]) -> str:
    """
    A table of the images of each (supervision, image labels) group: images, images with boxes, boxes
    per class and background boxes; then the total row.
    """
    rows: Dict[tuple, Counter] = {}
    for record in dicts:
        key = (record.get("supervision", "?"), label_group(record, class_names))
        counts = rows.setdefault(key, Counter())
        annotations = record.get("annotations", [])
        counts["images"] += 1
        counts["with boxes"] += bool(annotations)
        counts.update(class_names[a["category_id"]] for a in annotations)
        counts["background boxes"] += len(record.get("background_boxes", []))
    columns: List[str] = ["images", "with boxes", *class_names, "background boxes"]
    table = [[*key, *(rows[key][c] for c in columns)] for key in sorted(rows)]
    total = sum(rows.values(), Counter())
    table.append(["all", "", *(total[c] for c in columns)])
    headers = ["supervision", "image labels", *columns[:2], *(f"{c} boxes" for c in class_names), columns[-1]]
    return tabulate(table, headers=headers, tablefmt="pipe", numalign="right")
