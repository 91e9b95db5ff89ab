"""UDIAT Dataset B (Yap et al. 2018, 163 breast ultrasound images) -> wsdet COCO.

Layout: ``<root>/original/000001.png``, ``<root>/GT/000001.png`` (binary lesion mask of the same name)
and a label table, by default ``<root>/DatasetB.csv`` or ``<root>/DatasetB.xlsx`` (xlsx needs openpyxl).
The table's first row names its columns; two are used (case and spaces ignored, others ignored):
``Image`` (the image number or name: ``1``, ``000001`` or ``000001.png``) and ``Type``
(``Benign`` -> benign = 1; ``Malignant`` or ``CANCER`` -> malignant = 2). ``file_name`` is relative to
``root``.
"""
import csv
import os
from typing import Any, Dict, List, Optional, Sequence

from .busi import BUSI_CATEGORIES, natural_key
from .coco_writer import CocoBuilder, Conversion
from .mask_images import add_mask_annotated_image
from .report import ConversionError, ConversionReport

UDIAT_TYPES = {"benign": 1, "malignant": 2, "cancer": 2}
DEFAULT_LABEL_FILES = ("DatasetB.csv", "DatasetB.xlsx")


def _read_rows(path: str) -> List[Sequence[Any]]:
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        with open(path, newline="", encoding="utf-8-sig") as f:
            return list(csv.reader(f))
    if ext == ".xlsx":
        try:
            import openpyxl
        except ImportError:
            raise ConversionError(
                [f"{path}: reading .xlsx needs the openpyxl package (pip install openpyxl); or save "
                 "the sheet as CSV with the columns Image,Type and pass that file"]
            ) from None
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
        finally:
            workbook.close()
    raise ConversionError([f"{path}: label file must be .csv or .xlsx"])


def _cell(row: Sequence[Any], i: int) -> Any:
    return row[i] if i < len(row) and row[i] is not None else ""


def _image_key(value: Any) -> str:
    """1, 1.0, "1", "000001" and "000001.png" all -> "000001"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    stem = os.path.splitext(str(value).strip())[0]
    return stem.zfill(6) if stem.isdigit() else stem


def read_udiat_labels(path: str) -> Dict[str, int]:
    """{image stem: category id} from a UDIAT label table (CSV, or xlsx with openpyxl).

    Raises:
        ConversionError: naming the file, and the row, of every missing column, unknown type or
            duplicated image.
    """
    if not os.path.isfile(path):
        raise ConversionError([f"{path}: label file not found"])
    rows = _read_rows(path)
    header = [str(_cell(rows[0], i)).strip().lower() for i in range(len(rows[0]))] if rows else []
    if "image" not in header or "type" not in header:
        raise ConversionError([f"{path}: needs the columns 'Image' and 'Type'; found {header}"])
    i_image, i_type = header.index("image"), header.index("type")
    labels: Dict[str, int] = {}
    problems = []
    for row_number, row in enumerate(rows[1:], start=2):
        if not any(str(c).strip() for c in row if c is not None):
            continue  # blank line
        image, kind = _image_key(_cell(row, i_image)), str(_cell(row, i_type)).strip()
        if not image:
            problems.append(f"{path} row {row_number}: no image name")
        elif kind.lower() not in UDIAT_TYPES:
            problems.append(
                f"{path} row {row_number}: unknown type {kind!r} (expected Benign, Malignant or CANCER)"
            )
        elif image in labels:
            problems.append(f"{path} row {row_number}: image {image} is listed again")
        else:
            labels[image] = UDIAT_TYPES[kind.lower()]
    if problems:
        raise ConversionError(problems)
    return labels


def _label_file(root: str, labels_file: Optional[str]) -> str:
    if labels_file is not None:
        return labels_file
    for name in DEFAULT_LABEL_FILES:
        if os.path.isfile(os.path.join(root, name)):
            return os.path.join(root, name)
    raise ConversionError(
        [f"{root}: no label file ({' or '.join(DEFAULT_LABEL_FILES)}); pass one with the columns Image,Type"]
    )


def _pngs(folder: str, report: ConversionReport) -> Dict[str, str]:
    """{stem: file name} of the PNGs in ``folder``; anything else is reported as skipped."""
    found = {}
    for name in sorted(os.listdir(folder), key=natural_key):
        if name.lower().endswith(".png") and os.path.isfile(os.path.join(folder, name)):
            found[os.path.splitext(name)[0]] = name
        else:
            report.skip("not a PNG file", os.path.join(folder, name))
    return found


def convert_udiat(
    root: str, labels_file: Optional[str] = None, box_per: str = "mask", min_area: int = 0
) -> Conversion:
    """Convert UDIAT Dataset B: benign = 1, malignant = 2 (no normal images in this dataset).

    Args:
        root: the folder holding ``original/`` and ``GT/``.
        labels_file: the label table (default: ``DatasetB.csv`` or ``DatasetB.xlsx`` in ``root``).
        box_per, min_area: as :func:`wsdet.data.converters.convert_busi`.

    Raises:
        ConversionError: naming every missing folder, bad label row, unreadable file and every mask whose
            size differs from its image.
    """
    missing = [d for d in ("original", "GT") if not os.path.isdir(os.path.join(root, d))]
    if missing:
        raise ConversionError([f"{os.path.join(root, d)}: folder not found (UDIAT layout)" for d in missing])
    labels_path = _label_file(root, labels_file)
    labels = read_udiat_labels(labels_path)
    report = ConversionReport("UDIAT Dataset B")
    images = _pngs(os.path.join(root, "original"), report)
    masks = _pngs(os.path.join(root, "GT"), report)

    description = "UDIAT Dataset B (Yap et al. 2018) converted by wsdet"
    strong = CocoBuilder(BUSI_CATEGORIES, boxes=True, description=description, image_root=root)
    weak = CocoBuilder(BUSI_CATEGORIES, boxes=False, description=description, image_root=root)
    for image_id, (stem, name) in enumerate(images.items(), start=1):
        if stem not in labels:
            report.skip(f"no label in {labels_path}", os.path.join(root, "original", name))
            continue
        report.count(f"{BUSI_CATEGORIES[labels[stem] - 1]} images")
        mask_files = [f"GT/{masks[stem]}"] if stem in masks else []
        add_mask_annotated_image(
            strong, weak, report, image_id, root, f"original/{name}", mask_files, labels[stem],
            box_per, min_area,
        )
    for stem in sorted(set(labels) - set(images), key=natural_key):
        report.skip("labelled image not found in original/", f"{labels_path}: {stem}")
    for stem in sorted(set(masks) - set(images), key=natural_key):
        report.skip("mask without its image", os.path.join(root, "GT", masks[stem]))
    report.raise_if_errors()
    return Conversion(strong=strong.to_dict(), weak=weak.to_dict(), report=report, inputs=(labels_path,))
