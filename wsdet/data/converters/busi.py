"""BUSI (Al-Dhabyani et al. 2020, "Dataset_BUSI_with_GT") -> wsdet COCO.

Layout: ``<root>/{benign,malignant,normal}/<class> (<n>).png`` with masks ``<class> (<n>)_mask.png`` and,
for images with several lesions, ``<class> (<n>)_mask_<k>.png``. Any ``<image>_mask<anything>.png`` is
taken as a mask of ``<image>.png``, never as an image. ``file_name`` is relative to ``root``.
"""
import os
import re
from typing import Dict, List, Tuple

from .coco_writer import CocoBuilder, Conversion
from .mask_images import add_mask_annotated_image
from .report import ConversionError, ConversionReport

BUSI_CATEGORIES = ("benign", "malignant")
BUSI_FOLDERS = ("benign", "malignant", "normal")
_MASK = re.compile(r"^(?P<stem>.+?)_mask(?P<suffix>.*)\.png$", re.IGNORECASE)


def natural_key(name: str) -> List:
    """Sort key that puts "benign (2)" before "benign (10)"."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _scan_folder(root: str, folder: str, report: ConversionReport) -> Dict[str, List[str]]:
    """{image file: its mask files (``_mask`` first, then ``_mask_1``, ...)} for one class folder."""
    images: Dict[str, str] = {}  # stem -> image file name
    masks: Dict[str, List[Tuple[List, str]]] = {}  # stem -> (sort key, mask file name)
    for name in sorted(os.listdir(os.path.join(root, folder)), key=natural_key):
        path = os.path.join(root, folder, name)
        match = _MASK.match(name)
        if not name.lower().endswith(".png") or not os.path.isfile(path):
            report.skip("not a PNG file", path)
        elif match:
            masks.setdefault(match["stem"], []).append((natural_key(match["suffix"]), name))
        else:
            images[os.path.splitext(name)[0]] = name
    for stem in sorted(set(masks) - set(images), key=natural_key):
        for _, name in masks[stem]:
            report.skip("mask without its image", os.path.join(root, folder, name))
    return {
        name: [f"{folder}/{m}" for _, m in sorted(masks.get(stem, []))] for stem, name in images.items()
    }


def convert_busi(root: str, box_per: str = "mask", min_area: int = 0) -> Conversion:
    """Convert a BUSI folder: benign = 1, malignant = 2, normal images kept with no box.

    Args:
        root: the folder holding ``benign/``, ``malignant/``, ``normal/`` (a missing one is warned about).
        box_per: "mask" (default: one box per mask file, as each file outlines one lesion) or
            "component" (one box per connected component of each mask).
        min_area: mask components with fewer pixels are ignored (each one reported).

    Raises:
        ConversionError: listing every unreadable file and every mask whose size differs from its image.
    """
    report = ConversionReport("BUSI")
    if not os.path.isdir(root):
        raise ConversionError([f"{root}: not a folder (expected the BUSI root with benign/, ...)"])
    present = [f for f in BUSI_FOLDERS if os.path.isdir(os.path.join(root, f))]
    if not present:
        raise ConversionError([f"{root}: none of the BUSI folders {', '.join(BUSI_FOLDERS)} is there"])
    for folder in (f for f in BUSI_FOLDERS if f not in present):
        report.warn(f"{os.path.join(root, folder)}: folder not found; no {folder} images converted")

    description = "BUSI (Al-Dhabyani et al. 2020) converted by wsdet"
    strong = CocoBuilder(BUSI_CATEGORIES, boxes=True, description=description, image_root=root)
    weak = CocoBuilder(BUSI_CATEGORIES, boxes=False, description=description, image_root=root)
    image_id = 0
    for folder in present:
        category_id = BUSI_CATEGORIES.index(folder) + 1 if folder in BUSI_CATEGORIES else None
        for image, masks in _scan_folder(root, folder, report).items():
            image_id += 1
            report.count(f"{folder} images")
            add_mask_annotated_image(
                strong, weak, report, image_id, root, f"{folder}/{image}", masks, category_id,
                box_per, min_area,
            )
    report.raise_if_errors()
    return Conversion(strong=strong.to_dict(), weak=weak.to_dict(), report=report)
