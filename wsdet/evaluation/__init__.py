"""Metrics of weakly supervised lesion localization, and the Detectron2 evaluator that runs them.

The metric functions are pure numpy on flat arrays (:class:`BoxTable`), usable on COCO JSON files
through :mod:`.gt_io`; :class:`LocalizationEvaluator` collects Detectron2 model outputs and runs them.
"""

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

__all__ = [
    "BoxTable",
    "EvalSettings",
    "GroundTruth",
    "LocalizationEvaluator",
    "average_precision",
    "best_box_iou",
    "binary_metrics",
    "bootstrap_ci",
    "box_iobb",
    "box_iou",
    "choose_pixel_threshold",
    "classification_metrics",
    "corloc_outcomes",
    "corloc_pvalue",
    "corloc_report",
    "cxr_localization",
    "detections_from_coco_results",
    "evaluate_records",
    "false_positives_per_normal_image",
    "flatten_results",
    "froc",
    "gt_from_coco_json",
    "gt_from_dataset_dicts",
    "heatmap_samples",
    "match_detections",
    "max_box_acc",
    "paired_bootstrap_pvalue",
    "pixel_counts",
    "pixel_scores",
    "pointing_hits",
    "points_in_boxes",
    "pxap",
    "roc_auc",
    "save_results_json",
    "sensitivity_at",
    "stl_localization_ap",
    "xywh_to_xyxy",
]
