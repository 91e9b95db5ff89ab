"""Metrics of weakly supervised lesion localization, and the Detectron2 evaluator that runs them.

The metric functions are pure numpy on flat arrays (:class:`BoxTable`), usable on COCO JSON files
through :mod:`.gt_io`; :class:`LocalizationEvaluator` collects Detectron2 model outputs and runs them.
"""
from types import ModuleType as _ModuleType

from .bootstrap import bootstrap_ci, paired_bootstrap_pvalue
from .box_ops import box_iobb, box_iou, points_in_boxes, xywh_to_xyxy
from .classification import binary_metrics, classification_metrics
from .corloc import corloc_outcomes, corloc_pvalue, corloc_report, false_positives_per_normal_image
from .curves import average_precision, roc_auc
from .cxr_localization import cxr_localization
from .evaluators import LocalizationEvaluator
from .flatten import flatten_results, save_results_json
from .froc import froc, match_detections, sensitivity_at
from .gt_io import GroundTruth, detections_from_coco_results, gt_from_coco_json, gt_from_dataset_dicts
from .maxboxacc import best_box_iou, max_box_acc
from .peak_metrics import pointing_hits, stl_localization_ap
from .pixel_metrics import choose_pixel_threshold, pixel_counts, pixel_scores, pxap
from .suite import EvalSettings, evaluate_records, heatmap_samples
from .tables import BoxTable

__all__ = [k for k, v in globals().items() if not k.startswith("_") and not isinstance(v, _ModuleType)]
