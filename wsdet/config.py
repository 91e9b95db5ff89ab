"""wsdet's config keys. Call :func:`add_wsdet_config` on a Detectron2 config before ``merge_from_file``."""
from detectron2.config import CfgNode as CN


def add_wsdet_config(cfg: CN) -> None:
    """Add every wsdet key (under ``cfg.WSDET``) with its default value."""
    _C = cfg
    _C.WSDET = CN()

    _C.WSDET.DATALOADER = CN()
    # "combined": every step holds STRONG_IMS_PER_BATCH box images + WEAK_IMS_PER_BATCH label images and
    # makes one optimizer step on the joint loss; "alternating" (official code): the same batch, one
    # optimizer step on the box images' losses then one (with a second optimizer) on the MIL loss;
    # "alternating_batches": iterations alternate between a box-only and a label-only batch.
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
    # Detection score threshold of CorLoc (official BUS definition), FP per normal image and the IoBB
    # accuracy of detectors (that of heatmap models takes every box of the GT class's map).
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
    # Draw each evaluation's figures (FROC, ROC, confusion matrix, example overlays) into its output
    # folder and TensorBoard.
    _C.WSDET.EVAL.FIGURES = True
    # Example images of each kind (best, worst localized, normal) in the examples figure.
    _C.WSDET.EVAL.NUM_EXAMPLES = 4

    _C.WSDET.SOLVER = CN()
    # "SGD" (Detectron2's, momentum SOLVER.MOMENTUM) or "Adam" (official code of Shin et al.); both use
    # SOLVER.BASE_LR, SOLVER.WEIGHT_DECAY(_NORM, _BIAS) and SOLVER.CLIP_GRADIENTS.
    _C.WSDET.SOLVER.OPTIMIZER = "SGD"
    # epsilon of Adam (official code: 0.1; PyTorch's default 1e-8).
    _C.WSDET.SOLVER.ADAM_EPSILON = 1e-8
    # Stop training when the total loss exceeds this (weights exploding without a NaN).
    _C.WSDET.SOLVER.MAX_LOSS = 1e4

    # An exponential moving average of the weights (parameters and BatchNorm statistics), updated after
    # every step, becomes the final model (model_final.pth and the final evaluation); evaluations during
    # training see the current weights. DECAY: the weight of the old average per step: step k of n
    # weighs DECAY^(n-k) relative to the last, about the last 1 / (1 - DECAY) steps count (bias-corrected:
    # the weights the run started from count for nothing).
    _C.WSDET.MODEL_EMA = CN()
    _C.WSDET.MODEL_EMA.ENABLED = False
    _C.WSDET.MODEL_EMA.DECAY = 0.995

    _C.WSDET.RPN = CN()
    # Anchors lying at least this fraction inside an image's "background_boxes" (regions known to hold no
    # lesion) are RPN negatives (official code: 0.7).
    _C.WSDET.RPN.BACKGROUND_OVERLAP = 0.7
    # On images with background boxes, only those anchors are negatives (official labelling); else they
    # add to Detectron2's negatives (IoU < MODEL.RPN.IOU_THRESHOLDS[0] with every lesion).
    _C.WSDET.RPN.BACKGROUND_NEGATIVES_ONLY = False

    _C.WSDET.AUGMENT = CN()
    # Training augmentations beyond Detectron2's resize and flip (official code of Shin et al.: 5, 0.05,
    # 0.2, (0.2, 1.8)); 0 / () = off. Random rotation within +-ROTATION degrees.
    _C.WSDET.AUGMENT.ROTATION = 0.0
    # Random crop removing up to this fraction of the height and of the width.
    _C.WSDET.AUGMENT.CROP = 0.0
    # Images the rotation and crop apply to: "weak" (image-labelled, official) or "all".
    _C.WSDET.AUGMENT.GEOMETRIC_ON = "weak"
    # Random brightness shift within +-BRIGHTNESS x 255, on every image.
    _C.WSDET.AUGMENT.BRIGHTNESS = 0.0
    # Random contrast factor in (low, high) around the image mean, on every image.
    _C.WSDET.AUGMENT.CONTRAST = ()

    _add_mil_config(_C)
    _add_cam_config(_C)
    _add_best_checkpoint_config(_C)
    _add_reliability_config(_C)


def _add_mil_config(_C: CN) -> None:
    """Keys of the joint strong/weak MIL Faster R-CNN (:class:`wsdet.modeling.WSDetMILRCNN`)."""
    _C.WSDET.MIL = CN()
    # Mass of interest of a weak image: "most_abnormal" (lowest background score; the default, chosen
    # over 3 seeds on 2 synthetic data variants, docs/BENCHMARKS.md), "most_malignant" (the paper's, which
    # makes the joint model fire on normal tissue there), "most_benign" (own class) or
    # "most_discriminative" (top lesion score); malignant images always take their most malignant region.
    _C.WSDET.MIL.MOI = "most_abnormal"
    # Rank regions by softmax probabilities ("prob") or by raw class logits ("logit", official code).
    _C.WSDET.MIL.SELECT_ON = "prob"
    # Contiguous id of the malignant class.
    _C.WSDET.MIL.MALIGNANT_CLASS = 1
    # CE weight of weak images per lesion class (contiguous ids): a list, None / [] = 1 each, or "auto"
    # (official code): 1 - the class's share of the weak lesion images, computed when training starts,
    # i.e. each of two classes weighted by the other's share (SNUBH: benign 0.2209, malignant 0.7791).
    _C.WSDET.MIL.CLASS_WEIGHTS = None
    # CE weight of normal weak images, whose proposals are pushed to background; 0 = ignore them (the
    # official loss). Default 1.0 with NORMAL_REGIONS 1 ("normal top-1": only a normal image's most
    # abnormal region is background): no false positive on normal images in any measured run and the goal
    # of issue #13 met on 8 of 10 runs against 6 of 10 when ignoring them (docs/BENCHMARKS.md).
    _C.WSDET.MIL.NORMAL_WEIGHT = 1.0
    # Proposals of a normal weak image pushed to background: its N most abnormal ones; 0 = all of them.
    _C.WSDET.MIL.NORMAL_REGIONS = 1
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


def _add_cam_config(_C: CN) -> None:
    """Keys of the CAM classifiers (:class:`wsdet.modeling.cam.WSDetCAMClassifier`) and image branches.

    The number of lesion classes is ``MODEL.ROI_HEADS.NUM_CLASSES``, as for the data loader.
    """
    _C.WSDET.CAM = CN()
    # Backbone feature read by the CAM head (e.g. "res4"; an FPN detector's image branch: e.g. "p4").
    _C.WSDET.CAM.IN_FEATURE = "res4"
    # False: one sigmoid per lesion class (multi-label BCE); True: softmax over the K classes + normal.
    _C.WSDET.CAM.SINGLE_LABEL = False
    # Multi-label BCE weights positives by #neg / #pos per class and batch; a class with no positive adds 0.
    _C.WSDET.CAM.BALANCE_BCE = False
    # Multi-label loss over the K classes: "mean" of the per-class BCEs, or "sum" (jfhealthcare/Chexpert).
    _C.WSDET.CAM.CLASS_REDUCTION = "mean"
    # Heatmaps of WSDetCAMClassifier: "head" (the head's maps, or the mask decoder's when enabled) or
    # "gradcam" (Grad-CAM of each lesion class's image logit on the feature GRADCAM.IN_FEATURE).
    _C.WSDET.CAM.HEATMAPS = "head"

    _C.WSDET.CAM.GRADCAM = CN()
    # Backbone feature explained by Grad-CAM; "" = WSDET.CAM.IN_FEATURE.
    _C.WSDET.CAM.GRADCAM.IN_FEATURE = ""

    _C.WSDET.CAM.HEAD = CN()
    # CAM_HEAD_REGISTRY name: "PooledCAMHead", "STLHead", "InfoMaskHead", "ClassInfoMaskHead" or
    # "PositiveCAMHead".
    _C.WSDET.CAM.HEAD.NAME = "PooledCAMHead"
    # PooledCAMHead maps: "probability" (sigmoid / softmax of the class logit maps, PCAM) or "cam" (the
    # class activation maps w_c^T x of Zhou et al. / CheXNet / Wang et al.; use BOXES.NORMALIZE "minmax").
    _C.WSDET.CAM.HEAD.MAP_TYPE = "probability"

    _C.WSDET.CAM.POOLING = CN()
    # WSDET_POOLING_REGISTRY name: "GlobalAvgPool" (GAP), "GlobalMaxPool" (GMP), "LogSumExpPool" (LSE),
    # "ExpPool", "LinearPool", "AttentionMILPool" or "PCAMPool".
    _C.WSDET.CAM.POOLING.NAME = "GlobalAvgPool"
    # gamma of LSE pooling, log(mean(exp(gamma x))) / gamma (Chexpert configs: 0.5).
    _C.WSDET.CAM.POOLING.LSE_GAMMA = 0.5
    # Hidden units of the attention network of AttentionMILPool (Ilse et al.: 128).
    _C.WSDET.CAM.POOLING.ATTENTION_DIM = 128

    _C.WSDET.CAM.STL = CN()
    # Input of STL's classifier branch: "flatten" (FC layers on the whole map, the paper's; one square
    # input size) or "gap" (FC layers on the globally averaged map; a departure for any input size).
    _C.WSDET.CAM.STL.CLASSIFIER_INPUT = "flatten"
    # Hidden units of STL's classifier branch (input -> FC -> ReLU -> FC).
    _C.WSDET.CAM.STL.FC_DIM = 256
    # (early, late) alpha of the loss (1 - alpha) CE_classifier + alpha CE_localizer (paper: 0.1, 0.9).
    _C.WSDET.CAM.STL.ALPHA = (0.1, 0.9)
    # "step": alpha switches at SWITCH_ITER (paper); "linear": ramps from early to late over [0, SWITCH_ITER].
    _C.WSDET.CAM.STL.ALPHA_SCHEDULE = "step"
    # Iteration of the alpha switch, or end of the ramp (paper: 60 of the epochs).
    _C.WSDET.CAM.STL.SWITCH_ITER = 1000

    _C.WSDET.CAM.INFOMASK = CN()
    # Channels of the attention map A = ReLU(1x1 conv(features)); the paper draws one map, whose single
    # ReLU channel died here (A = 0, a constant mask) within 200 iterations from scratch.
    _C.WSDET.CAM.INFOMASK.ATTENTION_DIM = 64
    # Mask threshold tau: M = clamp(sigmoid(z) - tau, 0, 1).
    _C.WSDET.CAM.INFOMASK.TAU = 0.5
    # Mask regularizer: "kl" (InfoMask), "l1" (RegL1 baseline) or "none" (FeatureMask baseline).
    _C.WSDET.CAM.INFOMASK.REGULARIZER = "kl"
    # Weight alpha of the regularizer.
    _C.WSDET.CAM.INFOMASK.ALPHA = 0.01
    # InfoMaskHead's classification block on the masked features: NUM_CONVS 3x3 convs, then global
    # average pooling and a linear layer.
    _C.WSDET.CAM.INFOMASK.NUM_CONVS = 2
    # Channels of those convs.
    _C.WSDET.CAM.INFOMASK.CONV_DIM = 128
    # Normalization of those convs (a Detectron2 norm name; "" = none).
    _C.WSDET.CAM.INFOMASK.NORM = "BN"

    _C.WSDET.CAM.ATTENTION_MINING = CN()
    # Positive-CAM stage 2: L = (1 - lambda) L_cls + lambda L_am, lambda = e^P / e (P: running accuracy).
    _C.WSDET.CAM.ATTENTION_MINING.ENABLED = False
    # L_am: "restrict" (the paper: classification loss of T(A) * I, the image restricted to the attended
    # area) or "erase" (GAIN: mean positive-class probability of I - T(A) * I, to be minimized).
    _C.WSDET.CAM.ATTENTION_MINING.MODE = "restrict"
    # Soft mask T(A) = sigmoid(OMEGA * (A - SIGMA)) of the min-max normalized attention A.
    _C.WSDET.CAM.ATTENTION_MINING.SIGMA = 0.5
    _C.WSDET.CAM.ATTENTION_MINING.OMEGA = 10.0
    # Momentum of the running accuracy P (exponential moving average over iterations).
    _C.WSDET.CAM.ATTENTION_MINING.ACCURACY_MOMENTUM = 0.9
    # Multi-label accuracy P: "balanced" (mean of sensitivity and specificity; default) or "per_label"
    # (fraction of correct label decisions, dominated by the negatives when labels are sparse).
    _C.WSDET.CAM.ATTENTION_MINING.ACCURACY = "balanced"
    # Whether the pass over the masked images updates the BatchNorm running statistics. False (default):
    # it normalizes with its batch statistics but leaves the running ones to the real images (the paper
    # does not say; True, wsdet before 2026-12-07, shifted them: a stage-2 model's validation AUC 0.70 vs 0.85
    # with the statistics recomputed on real images, docs/BENCHMARKS.md).
    _C.WSDET.CAM.ATTENTION_MINING.UPDATE_BN_STATS = False
    # Whose heatmaps make the attention A: "labelled" (the paper: the image's positive classes; a normal
    # image: every lesion class) or "all" (every lesion class on every image: the mask is the same function
    # of the image whatever its label, so its shape cannot tell the restricted pass the label; measured on
    # the synthetic CXR: the shortcut goes, but the maps then avoid the findings, docs/BENCHMARKS.md).
    _C.WSDET.CAM.ATTENTION_MINING.ATTENTION_CLASSES = "labelled"

    _C.WSDET.CAM.MASK_DECODER = CN()
    # Positive-CAM stage 3: decoder on the shared backbone, MSE on the images with masks (MODEL.MASK_ON);
    # its mask probabilities become the heatmaps.
    _C.WSDET.CAM.MASK_DECODER.ENABLED = False
    # Backbone features it decodes, fused from the coarsest to the finest.
    _C.WSDET.CAM.MASK_DECODER.IN_FEATURES = ["res2", "res3", "res4"]
    # Channels of the decoder.
    _C.WSDET.CAM.MASK_DECODER.CONV_DIM = 64
    # Weight lambda' of the MSE (paper: 1).
    _C.WSDET.CAM.MASK_DECODER.LOSS_WEIGHT = 1.0
    # Average the squared errors of mask and background pixels separately and take the mean of the two
    # (default), or a plain MSE over all pixels (paper; collapses to empty masks when lesions are small).
    _C.WSDET.CAM.MASK_DECODER.BALANCED = True

    _C.WSDET.CAM.BOXES = CN()
    # Heatmaps used as they are ("absolute", e.g. PCAM probabilities) or min-max normalized ("minmax").
    _C.WSDET.CAM.BOXES.NORMALIZE = "absolute"
    # Foreground threshold of the (normalized) heatmaps (PCAM paper: 0.9 on probabilities).
    _C.WSDET.CAM.BOXES.THRESHOLD = 0.5
    # Boxes around the "largest" connected region of each class, or around "all" of them.
    _C.WSDET.CAM.BOXES.COMPONENTS = "largest"
    # Box score = this statistic ("max" or "mean") of the map in the region x the class probability.
    _C.WSDET.CAM.BOXES.SCORE = "max"

    _C.WSDET.CAM.IMAGE_BRANCH = CN()
    # Weight of the CAM branch losses when the head is attached to a detector (image_branch.py).
    _C.WSDET.CAM.IMAGE_BRANCH.LOSS_WEIGHT = 1.0


def _add_best_checkpoint_config(_C: CN) -> None:
    """Keys of the validation-based model selection (:class:`wsdet.engine.BestValidationCheckpointer`)."""
    _C.WSDET.BEST_CHECKPOINT = CN()
    # Validation dataset evaluated every TEST.EVAL_PERIOD (and after training); the best model is saved
    # as OUTPUT_DIR/model_best.pth. "" = off.
    _C.WSDET.BEST_CHECKPOINT.DATASET = ""
    # Metric "task/name" of that evaluation that selects the model, and whether higher ("max") or lower
    # ("min") is better.
    _C.WSDET.BEST_CHECKPOINT.METRIC = "classification/mean_auc"
    _C.WSDET.BEST_CHECKPOINT.MODE = "max"
    # Metric that breaks ties of METRIC, and its mode; "" = the earliest of the tied iterations is kept.
    _C.WSDET.BEST_CHECKPOINT.TIE_METRIC = ""
    _C.WSDET.BEST_CHECKPOINT.TIE_MODE = "max"


def _add_reliability_config(_C: CN) -> None:
    """Keys of fault handling: unreadable training images and untrusted checkpoints."""
    # An unreadable training image: "fail" stops training naming the file; "skip" logs the file, trains
    # on the next readable image of its pool (strong / weak) and reports the count at the end.
    _C.WSDET.DATALOADER.ON_IMAGE_ERROR = "fail"
    # Read every training image once before training (the processes share the work): unreadable files
    # give one error listing them ("fail") or are left out with a warning ("skip").
    _C.WSDET.DATALOADER.VERIFY_IMAGES = False
    # Images with more pixels are refused as unreadable (memory guard, PIL-bomb safe); 0 = no limit.
    _C.WSDET.MAX_IMAGE_PIXELS = 16384 * 16384
    # Load checkpoints holding arbitrary pickled objects (legacy files): this runs code from the file, so
    # only for trusted files. False: tensors, numpy arrays and plain containers only.
    _C.WSDET.ALLOW_UNSAFE_CHECKPOINTS = False
