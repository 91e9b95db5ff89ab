"""Datasets with image-level labels: loading, validation, registration, mapping and sampling."""
from types import ModuleType as _ModuleType

from .build import build_wsdet_train_loader, check_same_categories, load_strong_and_weak
from .coco_image_labels import DatasetFormatError, infer_supervision, load_wsdet_coco_json
from .dataset_mapper import WSDetDatasetMapper, image_labels_to_multi_hot
from .registration import datasets_root, register_wsdet_coco
from .samplers import StrongWeakBatchSampler
from . import builtin  # noqa: F401  (registers the synthetic datasets)

__all__ = [k for k, v in globals().items() if not k.startswith("_") and not isinstance(v, _ModuleType)]
