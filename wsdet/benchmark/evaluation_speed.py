"""Evaluation speed on generated data: what ``tools/benchmark_evaluators.py`` times.

The data imitate a test set of ``n`` images (70% with 1-2 lesions, 30% normal), a detector's outputs
(``dets_per_image`` boxes, the first ones near the lesions) and CAM-like class maps of the lesions.
"""
import time
from typing import Callable, Dict, List, Tuple

import cv2
import numpy as np
import torch
from detectron2.structures import Boxes, Instances

from ..evaluation import (
    BoxTable,
    EvalSettings,
    GroundTruth,
    best_box_iou,
    choose_pixel_threshold,
    classification_metrics,
    corloc_report,
    cxr_localization,
    evaluate_records,
    froc,
    heatmap_samples,
    max_box_acc,
    pixel_counts,
    pixel_scores,
    pointing_hits,
    pxap,
    stl_localization_ap,
)
from ..evaluation.evaluators import summarize_heatmaps

__all__ = ["CLASS_NAMES", "synthesize", "time_metrics", "process_ms_per_image"]

CLASS_NAMES = ["benign", "malignant"]
IMAGE_SIZE = 512
Report = Callable[[str, float, float], None]  # (label, wall seconds, CPU seconds)


def _random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, IMAGE_SIZE * 0.7, (n, 2))
    return np.hstack([xy, xy + rng.uniform(20, IMAGE_SIZE * 0.3, (n, 2))])


def _smooth_map(rng: np.random.Generator, size: int, box: np.ndarray) -> np.ndarray:
    """A CAM-like map: upsampled 8x8 noise plus a blob near the lesion."""
    noise = cv2.resize(rng.random((8, 8)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[:size, :size] + 0.5
    cx, cy = (box[:2] + box[2:]) / 2 * size / IMAGE_SIZE + rng.normal(0, 3, 2)
    sigma = (box[2:] - box[:2]).mean() * size / IMAGE_SIZE / 3
    return noise * 0.5 + np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)).astype(np.float32)


def synthesize(n_images: int, dets_per_image: int, heatmap_size: int, seed: int) -> Tuple[GroundTruth, List[dict]]:
    """Ground truth (70% lesion images with 1-2 boxes, 30% normal) and model output records."""
    rng = np.random.default_rng(seed)
    n_gt = np.where(rng.random(n_images) < 0.7, rng.integers(1, 3, n_images), 0)
    gt_image = np.repeat(np.arange(n_images), n_gt)
    gt_boxes, gt_classes = _random_boxes(rng, len(gt_image)), rng.integers(0, 2, len(gt_image))
    labels = np.zeros((n_images, 2), dtype=bool)
    labels[gt_image, gt_classes] = True
    gt = GroundTruth(
        list(range(n_images)),
        np.full((n_images, 2), IMAGE_SIZE),
        labels,
        np.ones(n_images, dtype=bool),
        BoxTable(gt_image, gt_boxes, gt_classes, np.ones(len(gt_image))),
        [None] * len(gt_image),
    )
    per_image_gt = gt.boxes.boxes_per_image(n_images)
    order = np.argsort(gt_image, kind="stable")
    classes_per_image = np.split(gt_classes[order], np.cumsum(n_gt)[:-1])
    scale = np.array([heatmap_size / IMAGE_SIZE] * 2)
    records = []
    for i in range(n_images):
        boxes = _random_boxes(rng, dets_per_image)
        boxes[: len(per_image_gt[i])] = per_image_gt[i] + rng.normal(0, 8, (len(per_image_gt[i]), 4))
        maps = {
            int(c): _smooth_map(rng, heatmap_size, b).astype(np.float16)
            for b, c in zip(per_image_gt[i], classes_per_image[i])
        }
        records.append(
            {
                "boxes": boxes.astype(np.float32),
                "scores": rng.random(dets_per_image).astype(np.float32),
                "classes": rng.integers(0, 2, dets_per_image),
                "probs": np.clip(labels[i] * 0.5 + rng.random(2) * 0.5, 0, 1),
                "peak_values": rng.random(2),
                "peak_points": rng.uniform(0, IMAGE_SIZE, (2, 2)),
                "maps": maps,
                "map_scale": scale,
            }
        )
    return gt, records


def time_metrics(
    gt: GroundTruth, records: List[dict], resamples: int, report: Report
) -> Dict[str, Tuple[float, float]]:
    """(wall, CPU) seconds of each metric on ``records``, reported as each finishes, then their sum and
    all metrics as ``LocalizationEvaluator.evaluate`` runs them."""
    times: Dict[str, Tuple[float, float]] = {}
    n = len(records)

    def timed(label: str, work: Callable[[], object]):
        start, cpu = time.perf_counter(), time.process_time()
        result = work()
        times[label] = (time.perf_counter() - start, time.process_time() - cpu)
        report(label, *times[label])
        return result

    dets = BoxTable.from_per_image(
        [r["boxes"] for r in records], [r["classes"] for r in records], [r["scores"] for r in records]
    )
    names = CLASS_NAMES
    timed(f"CorLoc official + top-1, {resamples} bootstrap CIs",
          lambda: corloc_report(gt.boxes, dets, n, names, gt.normal, n_resamples=resamples))
    timed("FROC (greedy matching + curve)", lambda: froc(gt.boxes, dets, n))
    timed("ChestX-ray14 accuracy / AFP at 5 IoBB thresholds", lambda: cxr_localization(gt.boxes, dets, n, names))
    timed("classification (AUC, accuracy, sens/spec)", lambda: classification_metrics(
        np.array([r["probs"] for r in records]), gt.labels, names, single_label=False))
    samples = timed("gather heatmap samples and GT masks", lambda: heatmap_samples(gt, records, len(names)))
    timed(f"MaxBoxAccV2 ({len(samples.maps)} maps x 100 thresholds)",
          lambda: max_box_acc(best_box_iou(samples.maps, samples.map_boxes)))

    def pixel_metrics():
        counts = pixel_counts(samples.maps, samples.masks)
        pxap(counts)
        pixel_scores(counts, choose_pixel_threshold(counts))

    timed("PxAP + threshold choice + IoP / FPR / FNR", pixel_metrics)

    def peak_metrics():
        peak_values = np.array([r["peak_values"] for r in records])
        peak_points = np.array([r["peak_points"] for r in records])
        pointing_hits(peak_points[samples.image, samples.cls], samples.image_boxes)
        for c in range(len(names)):
            stl_localization_ap(peak_values[:, c], peak_points[:, c], gt.boxes.select(gt.boxes.classes == c))

    timed("pointing game + STL localization AP", peak_metrics)
    times["sum of the metrics above"] = tuple(sum(t[k] for t in times.values()) for k in (0, 1))
    report("sum of the metrics above", *times["sum of the metrics above"])
    timed("all metrics, as LocalizationEvaluator.evaluate",
          lambda: evaluate_records(gt, records, names, EvalSettings(n_resamples=resamples, pixel_threshold=0.5)))
    return times


def process_ms_per_image(images: int, dets_per_image: int, heatmap_size: int) -> float:
    """Milliseconds per image of what ``LocalizationEvaluator.process`` keeps of one model output
    (detections to the CPU, 256 px heatmaps summarized at ``heatmap_size``)."""
    heatmaps = torch.rand(2, 256, 256)
    instances = Instances(
        (256, 256),
        pred_boxes=Boxes(torch.rand(dets_per_image, 4) * 128),
        scores=torch.rand(dets_per_image),
        pred_classes=torch.zeros(dets_per_image, dtype=torch.int64),
    )
    start = time.perf_counter()
    for _ in range(images):
        instances.to("cpu")
        summarize_heatmaps(heatmaps, (256, 256), [0], heatmap_size)
    return (time.perf_counter() - start) / images * 1000
