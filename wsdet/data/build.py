"""Training data loader with combined (or alternating) strong + weak mini-batches."""
import logging
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.build import trivial_batch_collator, worker_init_reset_seed
from detectron2.data.common import MapDataset

from .dataset_mapper import WSDetDatasetMapper
from .samplers import StrongWeakBatchSampler

logger = logging.getLogger(__name__)


def check_same_categories(names: Sequence[str]) -> List[str]:
    """The shared ``thing_classes`` of loaded datasets; raises if any two differ."""
    classes = {name: list(MetadataCatalog.get(name).thing_classes) for name in names}
    first = names[0]
    for name in names[1:]:
        if classes[name] != classes[first]:
            raise ValueError(
                f"datasets {first!r} and {name!r} have different category lists: "
                f"{classes[first]} vs {classes[name]}; strong and weak datasets must share one list"
            )
    return classes[first]


def load_strong_and_weak(names: Sequence[str]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Load the named datasets and split their images by supervision (nothing is filtered out)."""
    if not names:
        raise ValueError("cfg.DATASETS.TRAIN is empty")
    strong, weak = [], []
    for name in names:
        dicts = DatasetCatalog.get(name)
        if not dicts:
            raise ValueError(f"dataset {name!r} has no images")
        for d in dicts:
            (strong if d["supervision"] == "strong" else weak).append(d)
    check_same_categories(names)
    return strong, weak


def build_wsdet_train_loader(
    cfg: CfgNode,
    mapper: Optional[Callable] = None,
    start_iter: int = 0,
) -> torch.utils.data.DataLoader:
    """Infinite loader of per-process batches (lists of mapped dicts) from ``cfg.DATASETS.TRAIN``.

    Strong images come first in each batch, then weak images (``cfg.WSDET.DATALOADER``).
    """
    names = list(cfg.DATASETS.TRAIN)
    strong, weak = load_strong_and_weak(names)
    classes = MetadataCatalog.get(names[0]).thing_classes
    if len(classes) != cfg.MODEL.ROI_HEADS.NUM_CLASSES:
        raise ValueError(
            f"cfg.MODEL.ROI_HEADS.NUM_CLASSES is {cfg.MODEL.ROI_HEADS.NUM_CLASSES} but the training "
            f"datasets have {len(classes)} categories {classes}"
        )
    loader_cfg = cfg.WSDET.DATALOADER
    if weak and not loader_cfg.WEAK_IMS_PER_BATCH:
        raise ValueError(
            f"{len(weak)} weak images are in cfg.DATASETS.TRAIN but "
            "cfg.WSDET.DATALOADER.WEAK_IMS_PER_BATCH is 0: set it > 0 or drop the weak datasets"
        )
    if strong and not loader_cfg.STRONG_IMS_PER_BATCH:
        raise ValueError(
            f"{len(strong)} strong images are in cfg.DATASETS.TRAIN but "
            "cfg.WSDET.DATALOADER.STRONG_IMS_PER_BATCH is 0: set it > 0 or drop the strong datasets"
        )
    logger.info(
        f"Training on {len(strong)} strong + {len(weak)} weak images, {loader_cfg.MODE} batches of "
        f"{loader_cfg.STRONG_IMS_PER_BATCH} strong / {loader_cfg.WEAK_IMS_PER_BATCH} weak images per step"
    )
    sampler = StrongWeakBatchSampler(
        len(strong),
        len(weak),
        loader_cfg.STRONG_IMS_PER_BATCH,
        loader_cfg.WEAK_IMS_PER_BATCH,
        mode=loader_cfg.MODE,
        seed=cfg.SEED if cfg.SEED >= 0 else None,
        start_iter=start_iter,
    )
    if mapper is None:
        mapper = WSDetDatasetMapper(cfg, is_train=True)
    dataset = MapDataset(strong + weak, mapper)
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=cfg.DATALOADER.NUM_WORKERS,
        collate_fn=trivial_batch_collator,
        worker_init_fn=worker_init_reset_seed,
    )
