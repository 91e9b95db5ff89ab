"""CAM-style weakly supervised classifiers that localize (STL, PCAM, InfoMask, positive-CAM, pooling
baselines), their meta-architecture, Grad-CAM, and image-level branches for detectors."""
from types import ModuleType as _ModuleType

from .attention_mining import AttentionMining, running_statistics_kept
from .gradcam import grad_cam
from .heads import CAM_HEAD_REGISTRY, CAMHead, PooledCAMHead, build_cam_head
from .heatmap_to_boxes import HeatmapBoxExtractor, heatmap_to_boxes
from .image_branch import GeneralizedRCNNWithImageBranch, ImageBranchMixin, WSDetMILRCNNWithImageBranch
from .infomask import ClassInfoMaskHead, InfoMaskHead, VariationalMask, gaussian_kl, infomask_mask
from .loss import image_classification_loss
from .mask_decoder import MaskDecoder, class_mask_targets
from .meta_arch import WSDetCAMClassifier
from .pcam import PCAMPool
from .pooling import WSDET_POOLING_REGISTRY, GlobalPool, build_pooling
from .positive_cam import PositiveCAMHead, positive_cam
from .postprocessing import HEATMAP_NORMALIZATIONS, normalize_heatmaps, resize_heatmaps
from .stl import STLHead, build_stl_alpha_schedule, fixed_map_size

__all__ = [k for k, v in globals().items() if not k.startswith("_") and not isinstance(v, _ModuleType)]
