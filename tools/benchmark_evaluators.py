#!/usr/bin/env python
"""Time wsdet's evaluation metrics on randomly generated images (boxes, detections, heatmaps).

Example: ``python tools/benchmark_evaluators.py --images 10000``. Prints one line per metric (wall
and CPU seconds: on a shared machine the CPU time is the steadier), their sum, and the time of all
metrics as LocalizationEvaluator.evaluate runs them; ``--json`` also writes them to a file.
"""

import argparse
import json
import time
from contextlib import contextmanager
from typing import Dict, List

import cv2
import numpy as np
import torch
from detectron2.structures import Boxes, Instances

from wsdet.evaluation import (
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
from wsdet.evaluation.evaluators import summarize_heatmaps

NAMES = ["benign", "malignant"]
IMAGE_SIZE = 512


TIMES: Dict[str, List[float]] = {}  # label -> [wall seconds, CPU seconds]


@contextmanager
def timed(label: str):
    start, cpu = time.perf_counter(), time.process_time()
    yield
    TIMES[label] = [time.perf_counter() - start, time.process_time() - cpu]
    print(f"{label:<52s} {TIMES[label][0]:8.2f} s {TIMES[label][1]:8.2f} s")


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, IMAGE_SIZE * 0.7, (n, 2))
    return np.hstack([xy, xy + rng.uniform(20, IMAGE_SIZE * 0.3, (n, 2))])


def smooth_map(rng: np.random.Generator, size: int, box: np.ndarray) -> np.ndarray:
    """A CAM-like map: upsampled 8x8 noise plus a blob near the lesion."""
    noise = cv2.resize(rng.random((8, 8)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[:size, :size] + 0.5
    cx, cy = (box[:2] + box[2:]) / 2 * size / IMAGE_SIZE + rng.normal(0, 3, 2)
    sigma = (box[2:] - box[:2]).mean() * size / IMAGE_SIZE / 3
    return noise * 0.5 + np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2)).astype(np.float32)


def synthesize(n_images: int, dets_per_image: int, heatmap_size: int, seed: int):
    """Ground truth (70% lesion images with 1-2 boxes, 30% normal) and model output records."""
    rng = np.random.default_rng(seed)
    n_gt = np.where(rng.random(n_images) < 0.7, rng.integers(1, 3, n_images), 0)
    gt_image = np.repeat(np.arange(n_images), n_gt)
    gt_boxes, gt_classes = random_boxes(rng, len(gt_image)), rng.integers(0, 2, len(gt_image))
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
        boxes = random_boxes(rng, dets_per_image)
        boxes[: len(per_image_gt[i])] = per_image_gt[i] + rng.normal(0, 8, (len(per_image_gt[i]), 4))
        maps = {
            int(c): smooth_map(rng, heatmap_size, b).astype(np.float16)
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


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--images", type=int, default=10000, help="random test images")
    parser.add_argument("--dets-per-image", type=int, default=100, help="detections per image")
    parser.add_argument("--heatmap-size", type=int, default=64, help="side of the stored class maps")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the CIs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random data")
    parser.add_argument("--json", default=None, help="also write the times (wall, CPU seconds) to this file")
    args = parser.parse_args()

    print(f"{'':<52s} {'wall':>10s} {'CPU':>10s}")
    with timed(f"synthesize {args.images} images (not a metric)"):
        gt, records = synthesize(args.images, args.dets_per_image, args.heatmap_size, args.seed)
    n = args.images
    dets = BoxTable.from_per_image(
        [r["boxes"] for r in records], [r["classes"] for r in records], [r["scores"] for r in records]
    )
    print(f"{n} images, {len(gt.boxes)} lesions, {len(dets)} detections, {args.heatmap_size}px heatmaps")

    with timed(f"CorLoc official + top-1, {args.resamples} bootstrap CIs"):
        corloc_report(gt.boxes, dets, n, NAMES, gt.normal, n_resamples=args.resamples)
    with timed("FROC (greedy matching + curve)"):
        froc(gt.boxes, dets, n)
    with timed("ChestX-ray14 accuracy / AFP at 5 IoBB thresholds"):
        cxr_localization(gt.boxes, dets, n, NAMES)
    with timed("classification (AUC, accuracy, sens/spec)"):
        classification_metrics(np.array([r["probs"] for r in records]), gt.labels, NAMES, single_label=False)

    with timed("gather heatmap samples and GT masks"):
        samples = heatmap_samples(gt, records, len(NAMES))
    with timed(f"MaxBoxAccV2 ({len(samples.maps)} maps x 100 thresholds)"):
        max_box_acc(best_box_iou(samples.maps, samples.map_boxes))
    with timed("PxAP + threshold choice + IoP / FPR / FNR"):
        counts = pixel_counts(samples.maps, samples.masks)
        pxap(counts)
        pixel_scores(counts, choose_pixel_threshold(counts))
    with timed("pointing game + STL localization AP"):
        peak_values = np.array([r["peak_values"] for r in records])
        peak_points = np.array([r["peak_points"] for r in records])
        pointing_hits(peak_points[samples.image, samples.cls], samples.image_boxes)
        for c in range(len(NAMES)):
            stl_localization_ap(peak_values[:, c], peak_points[:, c], gt.boxes.select(gt.boxes.classes == c))
    metrics = [label for label in TIMES if "not a metric" not in label]
    total = [sum(TIMES[label][k] for label in metrics) for k in (0, 1)]
    print(f"{'sum of the metrics above':<52s} {total[0]:8.2f} s {total[1]:8.2f} s")
    with timed("all metrics, as LocalizationEvaluator.evaluate"):
        evaluate_records(gt, records, NAMES, EvalSettings(n_resamples=args.resamples, pixel_threshold=0.5))

    # what process() keeps of one output; one intra-op thread: these tensors are small
    torch.set_num_threads(1)
    n_process = min(n, 1000)
    heatmaps = torch.rand(2, 256, 256)
    instances = Instances(
        (256, 256),
        pred_boxes=Boxes(torch.rand(args.dets_per_image, 4) * 128),
        scores=torch.rand(args.dets_per_image),
        pred_classes=torch.zeros(args.dets_per_image, dtype=torch.int64),
    )
    start = time.perf_counter()
    for _ in range(n_process):
        instances.to("cpu")
        summarize_heatmaps(heatmaps, (256, 256), [0], args.heatmap_size)
    per_image = (time.perf_counter() - start) / n_process * 1000
    print(f"{'per-image output summary (256px heatmaps, process)':<52s} {per_image:8.2f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"times": TIMES, "process_ms_per_image": per_image, "args": vars(args)}, f, indent=2)


if __name__ == "__main__":
    main()
