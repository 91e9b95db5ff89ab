"""The step shared by mask-annotated datasets (BUSI, UDIAT): one image + its mask files -> COCO entries."""
import os
from typing import Optional, Sequence

from ..image_io import ImageReadError
from .coco_writer import CocoBuilder
from .images import check_image
from .masks import mask_regions, read_mask
from .report import ConversionReport


def add_mask_annotated_image(
    strong: CocoBuilder,
    weak: CocoBuilder,
    report: ConversionReport,
    image_id: int,
    root: str,
    image_file: str,
    mask_files: Sequence[str],
    category_id: Optional[int],
    box_per: str,
    min_area: int,
) -> None:
    """Add one image with its lesion masks (paths relative to ``root``).

    ``category_id`` None means a normal image: kept in the strong file with no box. A lesion image whose
    masks are missing or empty (after ``min_area``) has a label but no box: it goes to the weak file,
    with a warning. An image or mask that cannot be read in full, an image outside ``root`` and a mask
    whose size differs from the image's are errors.
    """
    image_path = os.path.join(root, image_file)
    size = check_image(root, image_file, report)
    if size is None:
        return
    regions, failed = [], False
    for mask_file in mask_files:
        mask_path = os.path.join(root, mask_file)
        try:
            mask = read_mask(mask_path)
        except ImageReadError as e:
            report.error(f"{mask_path}: cannot read the mask ({e.reason})")
            failed = True
            continue
        if (mask.shape[1], mask.shape[0]) != size:
            report.error(
                f"{mask_path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image {image_path} "
                f"is {size[0]}x{size[1]}"
            )
            failed = True
            continue
        found, ignored = mask_regions(mask, box_per, min_area)
        if ignored:
            report.count("mask components ignored (smaller than --min-area)", len(ignored))
            report.warn(f"{mask_path}: ignored {len(ignored)} component(s) of {ignored} px (< {min_area})")
        if box_per == "mask" and found and len(found[0].segmentation) > 1:
            report.count("masks with several components (one box spans them)")
        regions += found
    if failed:
        return

    width, height = size
    if category_id is None:
        if regions:
            report.warn(f"{image_path}: normal image has a non-empty mask; kept as normal, no box")
        strong.add_image(image_id, image_file, width, height, [])
    elif not regions:
        why = "has no mask file" if not mask_files else "has no mask region (empty, or specks under min_area)"
        report.warn(f"{image_path}: lesion image {why}; written as image-label-only (weak)")
        report.count("lesion images without a box (written as weak)")
        weak.add_image(image_id, image_file, width, height, [category_id])
    else:
        strong.add_image(image_id, image_file, width, height, [category_id])
        for r in regions:
            strong.add_annotation(image_id, category_id, r.bbox, r.area, r.segmentation)
