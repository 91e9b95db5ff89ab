"""Converters from public dataset layouts (BUSI, ChestX-ray14, UDIAT Dataset B) to wsdet COCO JSON.

Each ``convert_*`` returns a :class:`Conversion` (strong and weak COCO dicts plus a report);
:func:`split_weak` simulates a strong/weak set-up and :func:`write_conversion` writes the files.
Command line: ``tools/convert_dataset.py``.
"""
from types import ModuleType as _ModuleType

from .busi import BUSI_CATEGORIES, convert_busi
from .chestxray14 import CXR14_CATEGORIES, convert_chestxray14
from .coco_writer import CocoBuilder, Conversion, write_conversion, write_json
from .masks import MaskRegion, mask_regions, read_mask
from .report import ConversionError, ConversionReport
from .split import choose_weak_ids, keep_fraction, split_weak
from .udiat import convert_udiat, read_udiat_labels

__all__ = [k for k, v in globals().items() if not k.startswith("_") and not isinstance(v, _ModuleType)]
