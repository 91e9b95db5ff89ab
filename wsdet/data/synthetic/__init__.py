"""Embedded synthetic datasets (breast ultrasound, chest X-ray): the project's default data.

``generate_bus_dataset`` / ``generate_cxr_dataset`` write COCO JSON splits with image-level labels
(``pos_category_ids``) and images under ``<root>/<dirname>/images``; see datasets/README.md.
"""
from types import ModuleType as _ModuleType

from .bus import BUS_CATEGORIES, BUS_SPEC, BUS_SPLITS, generate_bus_dataset, render_bus_image
from .common import IMAGE_DIR, SyntheticSpec, mask_to_bbox, mask_to_polygons
from .cxr import CXR_CATEGORIES, CXR_SPEC, CXR_SPLITS, generate_cxr_dataset, render_cxr_image

__all__ = [k for k, v in globals().items() if not k.startswith("_") and not isinstance(v, _ModuleType)]
