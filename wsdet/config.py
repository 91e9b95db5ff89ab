"""wsdet's config keys. Call :func:`add_wsdet_config` on a Detectron2 config before ``merge_from_file``."""
from detectron2.config import CfgNode as CN


def add_wsdet_config(cfg: CN) -> None:
    """Add every wsdet key (under ``cfg.WSDET``) with its default value."""
    _C = cfg
    _C.WSDET = CN()

    _C.WSDET.DATALOADER = CN()
    # "combined": every step holds STRONG_IMS_PER_BATCH box images + WEAK_IMS_PER_BATCH label images;
    # "alternating": steps alternate between a strong-only and a weak-only batch.
    _C.WSDET.DATALOADER.MODE = "combined"
    # Box-annotated images per step, summed over all processes (like SOLVER.IMS_PER_BATCH).
    _C.WSDET.DATALOADER.STRONG_IMS_PER_BATCH = 2
    # Image-labelled images per step, summed over all processes; 0 when no weak dataset is trained on.
    _C.WSDET.DATALOADER.WEAK_IMS_PER_BATCH = 2

    _C.WSDET.DICOM = CN()
    # Frame of a multi-frame DICOM to read (0 = first).
    _C.WSDET.DICOM.FRAME = 0
    # (center, width) window applied to every DICOM; empty = the file's VOI LUT / window, else min-max.
    _C.WSDET.DICOM.WINDOW = []
