"""Training data loader with combined (or alternating) strong + weak mini-batches."""
import collections
import logging
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.build import trivial_batch_collator, worker_init_reset_seed
from detectron2.utils import comm

from .dataset_mapper import WSDetDatasetMapper
from .image_io import ImageReadError
from .samplers import StrongWeakBatchSampler

logger = logging.getLogger(__name__)

# The batches of each WSDET.DATALOADER.MODE ("alternating" splits combined batches into two steps).
SAMPLER_MODES = {"combined": "combined", "alternating": "combined", "alternating_batches": "alternating_batches"}
# What an unreadable training image does (cfg.WSDET.DATALOADER.ON_IMAGE_ERROR).
ON_IMAGE_ERROR = ("fail", "skip")


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


class _PoolMappedDataset(torch.utils.data.Dataset):
    """
    ``mapper(dicts[i])``, where ``dicts`` = strong images (the first ``num_strong``) + weak images.

    An unreadable image raises its :class:`ImageReadError`, or with ``skip`` is replaced by the next
    readable image of its own pool, so that batches keep their strong/weak composition and stay a
    function of the iteration; the skipped ``(file, reason)`` pairs go into the returned dict's
    ``skipped_images`` (popped by :class:`SkipReportingLoader`).
    """

    def __init__(self, dicts: List[Dict[str, Any]], mapper: Callable, num_strong: int, skip: bool):
        self.dicts, self.mapper, self.num_strong, self.skip = dicts, mapper, num_strong, skip

    def __len__(self) -> int:
        return len(self.dicts)

    def __getitem__(self, index: int) -> Dict[str, Any]:
        start, end = (0, self.num_strong) if index < self.num_strong else (self.num_strong, len(self))
        skipped = []
        for offset in range(end - start):
            try:
                mapped = self.mapper(self.dicts[start + (index - start + offset) % (end - start)])
            except ImageReadError as e:
                if not self.skip:
                    raise
                skipped.append((e.path, e.reason))
                continue
            if skipped:
                mapped["skipped_images"] = skipped
            return mapped
        pool = "strong" if start == 0 else "weak"
        raise RuntimeError(f"no {pool} training image can be read; e.g. {skipped[0][0]}: {skipped[0][1]}")


class SkipReportingLoader:
    """Iterates a training loader, logging in this process each image its workers skipped.

    Attributes:
        skipped: how many times each unreadable file was skipped.
    """

    def __init__(self, loader: torch.utils.data.DataLoader):
        self.loader = loader
        self.skipped: collections.Counter = collections.Counter()

    def __iter__(self) -> Iterator[List[Dict[str, Any]]]:
        for batch in self.loader:
            for d in batch:
                for path, reason in d.pop("skipped_images", ()):
                    self.skipped[path] += 1
                    logger.warning(
                        f"Skipped unreadable training image {path} ({reason}); "
                        f"{sum(self.skipped.values())} skips so far"
                    )
            yield batch


def _unreadable_images(dicts: Sequence[Dict[str, Any]], mapper: Callable) -> List[Tuple[str, str]]:
    """``(file, reason)`` of each image ``mapper`` cannot read; every process maps its share."""
    found = []
    for d in dicts[comm.get_rank() :: comm.get_world_size()]:
        try:
            mapper(d)
        except ImageReadError as e:
            found.append((e.path, e.reason))
    return [item for part in comm.all_gather(found) for item in part]


def _drop_unreadable(
    strong: List[Dict[str, Any]], weak: List[Dict[str, Any]], mapper: Callable, skip: bool
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Read every training image once: raise one error listing the unreadable ones, or drop them."""
    bad = _unreadable_images(strong + weak, mapper)
    if not bad:
        return strong, weak
    listing = "\n".join(f"  {path}: {reason}" for path, reason in bad[:20])
    if len(bad) > 20:
        listing += f"\n  ... and {len(bad) - 20} more"
    if not skip:
        raise ValueError(
            f"{len(bad)} training images cannot be read:\n{listing}\nFix or remove them, or set "
            "WSDET.DATALOADER.ON_IMAGE_ERROR 'skip' to train without them"
        )
    logger.warning(f"Dropping {len(bad)} unreadable training images:\n{listing}")
    files = {path for path, _ in bad}
    strong = [d for d in strong if d["file_name"] not in files]
    return strong, [d for d in weak if d["file_name"] not in files]


def build_wsdet_train_loader(
    cfg: CfgNode,
    mapper: Optional[Callable] = None,
    start_iter: int = 0,
) -> Iterable[List[Dict[str, Any]]]:
    """Infinite loader of per-process batches (lists of mapped dicts) from ``cfg.DATASETS.TRAIN``.

    Strong images come first in each batch, then weak images (``cfg.WSDET.DATALOADER``). With
    ``ON_IMAGE_ERROR = "skip"`` the loader is a :class:`SkipReportingLoader`; ``VERIFY_IMAGES`` reads
    every image before the loader is returned. ``start_iter``: the first iteration's batches.
    """
    if mapper is None:  # built first: it checks the image reading options before any file is read
        mapper = WSDetDatasetMapper(cfg, is_train=True)
    names = list(cfg.DATASETS.TRAIN)
    strong, weak = load_strong_and_weak(names)
    classes = MetadataCatalog.get(names[0]).thing_classes
    if len(classes) != cfg.MODEL.ROI_HEADS.NUM_CLASSES:
        raise ValueError(
            f"cfg.MODEL.ROI_HEADS.NUM_CLASSES is {cfg.MODEL.ROI_HEADS.NUM_CLASSES} but the training "
            f"datasets have {len(classes)} categories {classes}"
        )
    loader_cfg = cfg.WSDET.DATALOADER
    if loader_cfg.MODE not in SAMPLER_MODES:
        raise ValueError(f"WSDET.DATALOADER.MODE must be one of {tuple(SAMPLER_MODES)}, got {loader_cfg.MODE!r}")
    if loader_cfg.ON_IMAGE_ERROR not in ON_IMAGE_ERROR:
        raise ValueError(
            f"WSDET.DATALOADER.ON_IMAGE_ERROR must be one of {ON_IMAGE_ERROR}, "
            f"got {loader_cfg.ON_IMAGE_ERROR!r}"
        )
    skip = loader_cfg.ON_IMAGE_ERROR == "skip"
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
    if loader_cfg.VERIFY_IMAGES:
        strong, weak = _drop_unreadable(strong, weak, mapper, skip)
    logger.info(
        f"Training on {len(strong)} strong + {len(weak)} weak images, {loader_cfg.MODE} batches of "
        f"{loader_cfg.STRONG_IMS_PER_BATCH} strong / {loader_cfg.WEAK_IMS_PER_BATCH} weak images per step"
    )
    sampler = StrongWeakBatchSampler(
        len(strong),
        len(weak),
        loader_cfg.STRONG_IMS_PER_BATCH,
        loader_cfg.WEAK_IMS_PER_BATCH,
        mode=SAMPLER_MODES[loader_cfg.MODE],
        seed=cfg.SEED if cfg.SEED >= 0 else None,
        start_iter=start_iter,
    )
    loader = torch.utils.data.DataLoader(
        _PoolMappedDataset(strong + weak, mapper, len(strong), skip),
        batch_sampler=sampler,
        num_workers=cfg.DATALOADER.NUM_WORKERS,
        collate_fn=trivial_batch_collator,
        worker_init_fn=worker_init_reset_seed,
        # Its own generator: starting an iteration leaves the global RNG (which the trainer seeds
        # per step) alone, so a resumed run draws what the uninterrupted run draws.
        generator=torch.Generator().manual_seed(cfg.SEED + comm.get_rank()) if cfg.SEED >= 0 else None,
    )
    return SkipReportingLoader(loader) if skip else loader
