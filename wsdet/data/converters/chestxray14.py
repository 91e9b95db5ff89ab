"""NIH ChestX-ray14 (Wang et al. 2017) -> wsdet COCO: image-level labels (weak) + the boxed images (strong).

Inputs in ``root``: ``Data_Entry_2017.csv`` (or ``Data_Entry_2017_v2020.csv``; columns ``Image Index`` and
``Finding Labels``, labels joined by ``|``, ``No Finding`` = normal), ``BBox_List_2017.csv`` (header
``Image Index,Finding Label,Bbox [x,y,w,h],,,``: the bracketed name splits into the columns ``Bbox [x``,
``y``, ``w``, ``h]``, followed by empty ones) and the PNGs, by default in ``root/images/``. The released
PNGs are all 1024 x 1024 and the boxes are in that pixel space; the CSV's ``OriginalImage[Width,Height]``
columns give the size *before* that resizing, so they are not the size of the files. ``file_name`` is
relative to ``root``.
"""
import csv
import math
import os
from typing import Dict, List, Optional, Sequence, Set, Tuple

from .coco_writer import CocoBuilder, Conversion
from .images import check_image
from .report import ConversionError, ConversionReport

CXR14_CATEGORIES = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
)
NO_FINDING = "No Finding"
# BBox_List_2017.csv spells one class differently from Data_Entry_2017.csv.
LABEL_ALIASES = {"infiltrate": "Infiltration"}
RELEASED_SIZE = 1024
DATA_ENTRY_FILES = ("Data_Entry_2017_v2020.csv", "Data_Entry_2017.csv")
BBOX_FILE = "BBox_List_2017.csv"
BBOX_HEADER = ("Image Index", "Finding Label", "Bbox [x", "y", "w", "h]")
IMAGE_DIR = "images"


def _norm(label: str) -> str:
    return label.strip().lower().replace(" ", "_")


_CATEGORY_IDS = {_norm(name): i + 1 for i, name in enumerate(CXR14_CATEGORIES)}
_CATEGORY_IDS.update({alias: _CATEGORY_IDS[_norm(name)] for alias, name in LABEL_ALIASES.items()})


def category_id(label: str) -> Optional[int]:
    """Category id of a finding (either CSV's spelling; case, ``_`` and spaces ignored); None if unknown."""
    return _CATEGORY_IDS.get(_norm(label))


def _read_csv(path: str) -> List[List[str]]:
    if not os.path.isfile(path):
        raise ConversionError([f"{path}: file not found"])
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [row for row in csv.reader(f) if any(cell.strip() for cell in row)]


def read_data_entry(path: str, report: ConversionReport) -> Dict[str, List[int]]:
    """{Image Index: sorted category ids ([] = No Finding)}, in the file's order."""
    rows = _read_csv(path)
    header = [c.strip() for c in rows[0]] if rows else []
    if "Image Index" not in header or "Finding Labels" not in header:
        raise ConversionError(
            [f"{path}: needs the columns 'Image Index' and 'Finding Labels'; found {header}"]
        )
    i_index, i_labels = header.index("Image Index"), header.index("Finding Labels")
    entries: Dict[str, List[int]] = {}
    for row_number, row in enumerate(rows[1:], start=2):
        where = f"{path} row {row_number}"
        index = row[i_index].strip() if len(row) > i_index else ""
        names = [n.strip() for n in row[i_labels].split("|")] if len(row) > i_labels else []
        names = [n for n in names if n]
        unknown = [n for n in names if n != NO_FINDING and category_id(n) is None]
        if not index or not names:
            report.error(f"{where}: empty 'Image Index' or 'Finding Labels'")
        elif unknown:
            report.error(f"{where}: unknown finding label(s) {unknown} for {index}")
        elif index in entries:
            report.error(f"{where}: {index} is listed again")
        else:
            if NO_FINDING in names and len(names) > 1:
                report.warn(f"{where}: {index} has '{NO_FINDING}' beside findings; '{NO_FINDING}' ignored")
            entries[index] = sorted({category_id(n) for n in names if n != NO_FINDING})
    return entries


def read_bbox_list(path: str, report: ConversionReport) -> List[Tuple[int, str, int, List[float]]]:
    """[(row number, Image Index, category id, [x, y, w, h])] from ``BBox_List_2017.csv``."""
    rows = _read_csv(path)
    header = tuple(c.strip() for c in rows[0][: len(BBOX_HEADER)]) if rows else ()
    if header != BBOX_HEADER:
        raise ConversionError([f"{path}: header starts {list(header)}, expected {list(BBOX_HEADER)}"])
    boxes = []
    for row_number, row in enumerate(rows[1:], start=2):
        where = f"{path} row {row_number}"
        cells, extra = row[: len(BBOX_HEADER)], [c for c in row[len(BBOX_HEADER):] if c.strip()]
        if len(cells) < len(BBOX_HEADER) or extra:
            report.error(f"{where}: expected 6 values (image, label, x, y, w, h), got {row}")
            continue
        cid = category_id(cells[1])
        try:
            box = [float(v) for v in cells[2:]]
        except ValueError:
            box = [math.nan]
        if not all(math.isfinite(v) for v in box):
            report.error(f"{where}: box {cells[2:]} is not numeric (4 finite numbers)")
            continue
        if cid is None:
            report.error(f"{where}: unknown finding label {cells[1]!r}")
        elif box[2] <= 0 or box[3] <= 0:
            report.error(f"{where}: box {box} has a non-positive width or height")
        else:
            boxes.append((row_number, cells[0].strip(), cid, box))
    return boxes


def _read_split_list(path: str) -> Set[str]:
    if not os.path.isfile(path):
        raise ConversionError([f"{path}: split list not found"])
    with open(path) as f:
        return {line.strip() for line in f if line.strip()}


def _locate_images(root: str, names: Sequence[str], report: ConversionReport) -> Dict[str, str]:
    """{Image Index: path relative to root} found anywhere under ``root`` (e.g. ``images_001/images/``)."""
    wanted, found = set(names), {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name in wanted:
                rel = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
                if name in found:
                    report.error(f"{root}: {name} found twice ({found[name]} and {rel})")
                found[name] = rel
    for name in names:
        if name not in found:
            report.error(f"{root}: image {name} listed in the CSV was not found under it")
    return found


def _clip(box: List[float], width: int, height: int) -> List[float]:
    x0, y0 = max(box[0], 0.0), max(box[1], 0.0)
    x1, y1 = min(box[0] + box[2], float(width)), min(box[1] + box[3], float(height))
    return [x0, y0, x1 - x0, y1 - y0]


def _image_files(
    root: str, names: List[str], scan_images: bool, report: ConversionReport
) -> Tuple[Dict[str, str], Dict[str, Tuple[int, int]]]:
    """({Image Index: file_name}, {Image Index: (width, height)}) of the images to write."""
    if not scan_images:
        return {n: f"{IMAGE_DIR}/{n}" for n in names}, dict.fromkeys(names, (RELEASED_SIZE, RELEASED_SIZE))
    files = _locate_images(root, names, report)
    report.raise_if_errors()
    sizes = {n: check_image(root, rel, report) for n, rel in files.items()}
    report.raise_if_errors()
    return files, sizes


def _add_boxed_image(
    strong: CocoBuilder,
    report: ConversionReport,
    bbox_csv: str,
    image_id: int,
    file_name: str,
    size: Tuple[int, int],
    labels: List[int],
    rows: List[Tuple[int, str, int, List[float]]],
) -> None:
    """One image of the box file: its boxes, the boxed findings as positives, unlabelled ones as negatives."""
    width, height = size
    for row_number, index, cid, box in rows:
        where = f"{bbox_csv} row {row_number}"
        clipped = _clip(box, width, height)
        if clipped[2] <= 0 or clipped[3] <= 0:
            report.error(f"{where}: box {box} lies outside the {width}x{height} image {index}")
            continue
        if clipped != box:
            report.warn(f"{where}: box {box} clipped to the {width}x{height} image {index}")
        if cid not in labels:
            report.warn(
                f"{where}: {index} has a {CXR14_CATEGORIES[cid - 1]} box but not that finding label; "
                "the box is kept"
            )
        strong.add_annotation(image_id, cid, clipped, clipped[2] * clipped[3])
    pos = {cid for _, _, cid, _ in rows}
    if set(labels) - pos:
        report.count("boxed images with labelled but unboxed findings")
    neg = [c for c in range(1, len(CXR14_CATEGORIES) + 1) if c not in labels and c not in pos]
    strong.add_image(image_id, file_name, width, height, pos, neg)


def convert_chestxray14(
    root: str,
    data_entry_csv: Optional[str] = None,
    bbox_csv: Optional[str] = None,
    split_list: Optional[str] = None,
    scan_images: bool = False,
    exclude_box_images: bool = False,
) -> Conversion:
    """Convert ChestX-ray14: the 14 findings are categories 1..14 (``CXR14_CATEGORIES`` order).

    The weak file lists every image of ``Data_Entry`` (restricted to ``split_list`` if given, e.g.
    ``train_val_list.txt``; without the boxed images if ``exclude_box_images``) with its findings. The
    strong file holds every image with a box in ``BBox_List_2017.csv``; as only some findings were boxed,
    its ``pos_category_ids`` are the boxed findings and ``neg_category_ids`` the findings absent from the
    image's labels (a finding labelled but not boxed is neither). Image ids are ``Data_Entry`` row
    positions (1-based), shared by both files.

    Args:
        root: the dataset folder; ``file_name`` entries are relative to it.
        data_entry_csv, bbox_csv: the CSV files (default: found in ``root``).
        split_list: a file with one image name per line restricting the weak file.
        scan_images: find the PNGs anywhere under ``root`` and decode each (a truncated or unreadable one
            is an error) for its size (slower);
            otherwise ``file_name`` is ``images/<Image Index>`` and the size is the released 1024 x 1024.
        exclude_box_images: keep the boxed images out of the weak file (e.g. when they are the test set).

    Raises:
        ConversionError: naming the file and row of every unknown label, bad header, bad box or box of an
            image missing from ``Data_Entry`` (and, with ``scan_images``, every image not found).
    """
    report = ConversionReport("ChestX-ray14")
    if data_entry_csv is None:
        candidates = [os.path.join(root, name) for name in DATA_ENTRY_FILES]
        data_entry_csv = next((p for p in candidates if os.path.isfile(p)), candidates[-1])
    bbox_csv = bbox_csv or os.path.join(root, BBOX_FILE)
    in_split = _read_split_list(split_list) if split_list else None
    entries = read_data_entry(data_entry_csv, report)
    boxes = read_bbox_list(bbox_csv, report)
    report.note(f"labels from {data_entry_csv}, boxes from {bbox_csv}")
    boxes_of: Dict[str, List[Tuple[int, str, int, List[float]]]] = {}
    for box in boxes:
        if box[1] not in entries:
            report.error(f"{bbox_csv} row {box[0]}: {box[1]} is not in {data_entry_csv}")
        boxes_of.setdefault(box[1], []).append(box)
    report.raise_if_errors()

    if in_split is not None:
        for name in sorted(in_split - set(entries)):
            report.skip(f"listed in {split_list} but not in {data_entry_csv}", name)
    weak_names = []
    for index in entries:
        if in_split is not None and index not in in_split:
            report.count(f"images outside {split_list} (not in the weak file)")
        elif exclude_box_images and index in boxes_of:
            report.count("boxed images left out of the weak file (exclude_box_images)")
        else:
            weak_names.append(index)
    image_ids = {index: i + 1 for i, index in enumerate(entries)}
    needed = set(weak_names) | set(boxes_of)
    files, sizes = _image_files(root, [i for i in entries if i in needed], scan_images, report)

    description = "NIH ChestX-ray14 converted by wsdet"
    strong = CocoBuilder(CXR14_CATEGORIES, boxes=True, description=description, image_root=root)
    weak = CocoBuilder(CXR14_CATEGORIES, boxes=False, description=description, image_root=root)
    for index in sorted(boxes_of, key=image_ids.get):
        _add_boxed_image(
            strong, report, bbox_csv, image_ids[index], files[index], sizes[index], entries[index],
            boxes_of[index],
        )
    for index in weak_names:
        weak.add_image(image_ids[index], files[index], *sizes[index], entries[index])
    report.raise_if_errors()
    inputs = tuple(p for p in (data_entry_csv, bbox_csv, split_list) if p)
    return Conversion(strong=strong.to_dict(), weak=weak.to_dict(), report=report, inputs=inputs)
