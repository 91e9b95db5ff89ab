"""wsdet models. Importing this package registers them in Detectron2's registries."""
from . import cam  # noqa: F401  (registers the CAM meta-architectures, heads and pooling operators)
from .alpha_schedule import AlphaSchedule
from .mil_loss import MOI_VARIANTS, image_label_targets, mil_loss, moi_probs, select_moi
from .mil_rcnn import WSDetMILRCNN
from .mil_roi_heads import MILRes5ROIHeads, MILROIHeads, MILROIHeadsMixin

__all__ = [
    "AlphaSchedule",
    "MOI_VARIANTS",
    "image_label_targets",
    "mil_loss",
    "moi_probs",
    "select_moi",
    "WSDetMILRCNN",
    "MILROIHeads",
    "MILRes5ROIHeads",
    "MILROIHeadsMixin",
]
