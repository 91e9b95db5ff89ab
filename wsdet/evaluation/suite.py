"""Every applicable metric on the collected outputs of a test set (what LocalizationEvaluator runs).

An output record is one dict per image, every key optional:

- ``boxes`` (n, 4) XYXY, ``scores`` (n,), ``classes`` (n,): detections at original resolution;
- ``probs`` (K,): the model's ``image_probs``;
- ``peak_values`` (K,), ``peak_points`` (K, 2): maximum of each class map and its (x, y) in image
  pixels (full resolution);
- ``maps`` {class id: (h, w) array}: downsampled maps of the classes with GT boxes in the image, and
  ``map_scale`` (sx, sy): map pixels per image pixel.

Metric groups (the rule): ``classification`` when every image has ``probs``; ``corloc`` (with the
false positives per normal image) and ``froc`` when every box-annotated image (with boxes, or normal)
has detections; ``cxr_localization`` (IoBB accuracy, the ChestX-ray14 protocol) for models that give
heatmaps and on multi-label test sets (:func:`single_label`), so a detector of normal / benign /
malignant images never reports it; ``heatmap`` only when the records hold heatmap peaks and maps
(models that give heatmaps).
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .classification import classification_metrics
from .corloc import corloc_report
from .curves import nanmean
from .cxr_localization import cxr_localization
from .froc import froc
from .gt_io import GroundTruth
from .heatmap_ops import level_chunks, masks_from_boxes, segmentation_to_mask
from .maxboxacc import CAM_THRESHOLDS, BestBoxIoU, max_box_acc
from .peak_metrics import POINTING_TOLERANCE, pointing_hits, stl_localization_ap
from .pixel_metrics import PixelCounter, PixelCounts, choose_pixel_threshold, pixel_counts, pixel_scores, pxap
from .tables import BoxTable


@dataclass(frozen=True)
class EvalSettings:
    """Options of :func:`evaluate_records`; every threshold must come from validation, not test."""

    score_thresh: float = 0.5  # detection score threshold of CorLoc, FP per normal image, detectors' CXR accuracy
    iou_thresh: float = 0.5  # IoU > iou_thresh is a hit (CorLoc, FROC)
    froc_criterion: str = "iou"  # FROC hit: "iou" or "center" (detection centre inside the lesion box)
    n_resamples: int = 1000  # bootstrap resamples of the CorLoc CIs
    seed: int = 0  # bootstrap seed
    cls_threshold: float = 0.5  # probability threshold of accuracy / sensitivity / specificity
    single_label: Optional[bool] = None  # normal + K exclusive classes; None: when no image has 2 labels
    pixel_threshold: Optional[float] = None  # min-max normalized map threshold of IoP / FPR / FNR


@dataclass(frozen=True)
class HeatmapSamples:
    """The (image, class) pairs with GT boxes of class ``class`` in the image: what heatmap metrics use."""

    image: np.ndarray  # (n,) image row of each sample
    cls: np.ndarray  # (n,) class of each sample
    maps: List[np.ndarray]  # (h, w) float32 map of each sample
    map_boxes: BoxTable  # GT boxes in map pixels; ``image`` = sample
    image_boxes: BoxTable  # the same GT boxes in image pixels
    masks: List[np.ndarray]  # GT mask on each map: segmentations when every box has one, else boxes


def heatmap_samples(gt: GroundTruth, records: Sequence[Dict[str, Any]], num_classes: int) -> HeatmapSamples:
    """Gather the maps, GT boxes and masks of every (image, class) with GT boxes."""
    keys, sample_of_box = np.unique(gt.boxes.image * num_classes + gt.boxes.classes, return_inverse=True)
    image, cls = np.divmod(keys, num_classes)
    maps = [np.asarray(records[i]["maps"][c], dtype=np.float32) for i, c in zip(image, cls)]
    scale = np.array([records[i]["map_scale"] for i in gt.boxes.image], dtype=np.float64).reshape(-1, 2)
    map_boxes = BoxTable(sample_of_box, gt.boxes.boxes * np.tile(scale, 2), gt.boxes.classes, gt.boxes.scores)
    image_boxes = BoxTable(sample_of_box, gt.boxes.boxes, gt.boxes.classes, gt.boxes.scores)

    shapes = [m.shape for m in maps]
    masks = masks_from_boxes(map_boxes, shapes)
    no_seg = np.array([s is None for s in gt.segmentations], dtype=np.float64)
    segmented = np.bincount(sample_of_box, weights=no_seg, minlength=len(maps)) == 0
    for s in np.flatnonzero(segmented):
        masks[s] = np.zeros(shapes[s], dtype=bool)
    for row in np.flatnonzero(segmented[sample_of_box]):
        s = sample_of_box[row]
        masks[s] |= segmentation_to_mask(
            gt.segmentations[row], tuple(gt.sizes[gt.boxes.image[row]]), shapes[s]
        )
    return HeatmapSamples(image, cls, maps, map_boxes, image_boxes, masks)


def _threshold_sweep(samples: HeatmapSamples) -> Tuple[np.ndarray, PixelCounts]:
    """MaxBoxAccV2's best IoUs and PxAP's pixel counts over ``CAM_THRESHOLDS``, from one pass over the
    maps (each normalized and thresholded once)."""
    best_iou = BestBoxIoU(len(samples.maps), len(CAM_THRESHOLDS), samples.map_boxes)
    counter = PixelCounter(samples.masks, CAM_THRESHOLDS)
    for chunk, values, levels in level_chunks(samples.maps, CAM_THRESHOLDS):
        best_iou.add(chunk, levels)
        counter.add(chunk, values, levels)
    return best_iou.best, counter.counts()


def _heatmap_metrics(
    gt: GroundTruth, records: Sequence[Dict[str, Any]], class_names: Sequence[str], settings: EvalSettings
) -> Dict[str, Any]:
    """MaxBoxAccV2, PxAP, IoP / FPR / FNR, pointing game (per (image, class) with boxes) and STL AP."""
    num_classes = len(class_names)
    samples = heatmap_samples(gt, records, num_classes)
    peak_values = np.array([r["peak_values"] for r in records], dtype=np.float64).reshape(-1, num_classes)
    peak_points = np.array([r["peak_points"] for r in records], dtype=np.float64).reshape(-1, num_classes, 2)
    best_iou, counts = _threshold_sweep(samples)
    hits = pointing_hits(peak_points[samples.image, samples.cls], samples.image_boxes, POINTING_TOLERANCE)

    def summary(rows: np.ndarray) -> Dict[str, Any]:
        return {
            "maxboxacc": max_box_acc(best_iou[rows]),
            "pxap": pxap(counts.select(rows)),
            "pointing_game": float(hits[rows].mean()) if rows.any() else float("nan"),
            "num_samples": int(rows.sum()),
        }

    report = summary(np.ones(len(samples.maps), dtype=bool))
    report["per_class"] = {}
    for c, name in enumerate(class_names):
        report["per_class"][name] = summary(samples.cls == c)
        report["per_class"][name]["stl_ap"] = stl_localization_ap(
            peak_values[:, c], peak_points[:, c], gt.boxes.select(gt.boxes.classes == c)
        )
    report["stl_ap"] = nanmean([v["stl_ap"] for v in report["per_class"].values()])
    report["pixel_threshold_chosen_here"] = choose_pixel_threshold(counts)
    if settings.pixel_threshold is not None:
        t = settings.pixel_threshold
        at_t = counts if counts.includes(t) else pixel_counts(samples.maps, samples.masks, [t])
        report["infomask"] = pixel_scores(at_t, t)
    return report


def single_label(gt: GroundTruth, settings: EvalSettings = EvalSettings()) -> bool:
    """``settings.single_label``, else whether no image of the test set holds two classes."""
    if settings.single_label is not None:
        return bool(settings.single_label)
    return bool(gt.labels.sum(axis=1).max(initial=0) <= 1)


def evaluate_records(
    gt: GroundTruth,
    records: Sequence[Dict[str, Any]],
    class_names: Sequence[str],
    settings: EvalSettings = EvalSettings(),
) -> Dict[str, Any]:
    """Detailed results of every metric the records allow; ``records[i]`` is the output on image i."""
    results: Dict[str, Any] = {}
    single = single_label(gt, settings)
    if records and all("probs" in r for r in records):
        probs = np.array([r["probs"] for r in records], dtype=np.float64).reshape(len(records), -1)
        results["classification"] = classification_metrics(
            probs, gt.labels, class_names, settings.cls_threshold, single
        )
    rows = np.flatnonzero(gt.box_evaluable())
    if not len(rows) or not len(gt.boxes):
        return results
    box_gt, box_records = gt.select(rows), [records[i] for i in rows]
    heatmap_model = all("peak_values" in r and "maps" in r for r in box_records)
    if all("boxes" in r for r in box_records):
        dets = BoxTable.from_per_image(
            [r["boxes"] for r in box_records],
            [r["classes"] for r in box_records],
            [r["scores"] for r in box_records],
        )
        results["corloc"] = corloc_report(
            box_gt.boxes,
            dets,
            len(rows),
            class_names,
            box_gt.normal,
            settings.score_thresh,
            settings.iou_thresh,
            settings.n_resamples,
            settings.seed,
        )
        results["froc"] = froc(
            box_gt.boxes, dets, len(rows), iou_thresh=settings.iou_thresh, criterion=settings.froc_criterion
        )
        if heatmap_model or not single:  # the ChestX-ray14 protocol: not for single-label detectors
            results["cxr_localization"] = cxr_localization(  # heatmap models: the GT class's boxes, ungated
                box_gt.boxes, dets, len(rows), class_names,
                score_thresh=None if heatmap_model else settings.score_thresh,
            )
    if heatmap_model:
        results["heatmap"] = _heatmap_metrics(box_gt, box_records, class_names, settings)
    return results
