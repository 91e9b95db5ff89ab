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

    _C.WSDET.EVAL = CN()
    # Detection score threshold of CorLoc (official BUS definition), FP per normal image, IoBB accuracy.
    _C.WSDET.EVAL.SCORE_THRESH = 0.5
    # A detection hits a lesion when IoU > IOU_THRESH (CorLoc, FROC).
    _C.WSDET.EVAL.IOU_THRESH = 0.5
    # FROC hit criterion: "iou" or "center" (detection centre inside the lesion box).
    _C.WSDET.EVAL.FROC_CRITERION = "iou"
    # Bootstrap resamples of the 95% confidence intervals.
    _C.WSDET.EVAL.BOOTSTRAP_RESAMPLES = 1000
    # Image probability threshold of accuracy / sensitivity / specificity.
    _C.WSDET.EVAL.CLS_THRESH = 0.5
    # Threshold of min-max normalized heatmaps for IoP / pixel FPR / FNR, chosen on validation;
    # negative = choose it on the evaluated split (only meaningful on a validation split).
    _C.WSDET.EVAL.PIXEL_THRESH = -1.0
    # Heatmaps are kept at most this many pixels a side for the heatmap metrics.
    _C.WSDET.EVAL.HEATMAP_SIZE = 64

    _add_mil_config(_C)


def _add_mil_config(_C: CN) -> None:
    """Keys of the joint strong/weak MIL Faster R-CNN (:class:`wsdet.modeling.WSDetMILRCNN`)."""
    _C.WSDET.MIL = CN()
    # Mass of interest of a weak image: "most_malignant" (paper), "most_benign" (own class),
    # "most_discriminative" (top lesion score) or "most_abnormal" (lowest background score);
    # malignant images always take their most malignant region.
    _C.WSDET.MIL.MOI = "most_malignant"
    # Rank regions by softmax probabilities ("prob") or by raw class logits ("logit", official code).
    _C.WSDET.MIL.SELECT_ON = "prob"
    # Contiguous id of the malignant class.
    _C.WSDET.MIL.MALIGNANT_CLASS = 1
    # CE weight of weak images per lesion class (contiguous ids); [] = 1 each. Official: inverse
    # malignant frequency, i.e. [p, 1 - p] for (benign, malignant) with p the malignant fraction.
    _C.WSDET.MIL.CLASS_WEIGHTS = []
    # CE weight of normal weak images, whose proposals are all pushed to background; 0 = ignore (official).
    _C.WSDET.MIL.NORMAL_WEIGHT = 0.0
    # RPN proposals kept after NMS for each weak image in training (paper: 2000).
    _C.WSDET.MIL.POST_NMS_TOPK_TRAIN = 2000

    _C.WSDET.MIL.ALPHA = CN()
    # alpha(t) in L = L_strong + alpha(t) * L_mil: "static", "step_exp" (official code) or "linear".
    _C.WSDET.MIL.ALPHA.SCHEDULE = "step_exp"
    # alpha of "static", final alpha of "linear"; "step_exp": VALUE * (1 - 0.99 * 0.9^(t // PERIOD)).
    _C.WSDET.MIL.ALPHA.VALUE = 1.0
    # "step_exp": iterations between two steps of alpha (official: 2000).
    _C.WSDET.MIL.ALPHA.PERIOD = 2000
    # "linear": iterations over which alpha rises from 0 to VALUE.
    _C.WSDET.MIL.ALPHA.RAMP_ITERS = 1000
