"""wsdet models. Importing this package registers them in Detectron2's registries."""
from types import ModuleType as _ModuleType

from . import cam  # noqa: F401  (registers the CAM meta-architectures, heads and pooling operators)
from .mil_loss import (
    MOI_VARIANTS,
    MoISelector,
    class_weights_from_counts,
    image_label_targets,
    mil_loss,
    regions_with_gradient,
    stack_image_labels,
)
from .mil_rcnn import WSDetMILRCNN
from .mil_roi_heads import MILRes5ROIHeads, MILROIHeads, MILROIHeadsMixin
from .mil_rpn import MILRPN
from .schedules import IterationSchedule, build_mil_alpha_schedule, milestone_scheduler, ramp_scheduler

__all__ = [k for k, v in globals().items() if not k.startswith("_") and not isinstance(v, _ModuleType)]
