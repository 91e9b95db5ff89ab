#!/usr/bin/env python
"""Time wsdet's evaluation metrics on randomly generated images (boxes, detections, heatmaps).

Example: ``python tools/benchmark_evaluators.py --images 10000``. Prints one line per metric (wall
and CPU seconds: on a shared machine the CPU time is the steadier), their sum, and the time of all
metrics as LocalizationEvaluator.evaluate runs them; ``--json`` also writes them to a file. The
contour sweep of MaxBoxAccV2 is compiled by numba; loading it (once per process) is timed apart.
"""

import argparse
import json
import time

import numpy as np
import torch

from wsdet.benchmark.evaluation_speed import process_ms_per_image, synthesize, time_metrics


def print_line(label: str, wall: float, cpu: float) -> None:
    print(f"{label:<52s} {wall:8.2f} s {cpu:8.2f} s")


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
    start, cpu = time.perf_counter(), time.process_time()
    gt, records = synthesize(args.images, args.dets_per_image, args.heatmap_size, args.seed)
    elapsed = (time.perf_counter() - start, time.process_time() - cpu)
    print_line(f"synthesize {args.images} images (not a metric)", *elapsed)
    print(f"{args.images} images, {len(gt.boxes)} lesions, {args.images * args.dets_per_image} detections, "
          f"{args.heatmap_size}px heatmaps")
    start, cpu = time.perf_counter(), time.process_time()
    from wsdet.evaluation.contour_sweep import best_contour_iou  # numba: import, load (or compile) once

    best_contour_iou(np.zeros((1, 2, 2), np.int32), 1, np.zeros((1, 4)), [0], [1])
    load = (time.perf_counter() - start, time.process_time() - cpu)
    print_line("load the compiled contour sweep (not a metric)", *load)
    times = time_metrics(gt, records, args.resamples, print_line)
    torch.set_num_threads(1)  # these tensors are small
    per_image = process_ms_per_image(min(args.images, 1000), args.dets_per_image, args.heatmap_size)
    print(f"{'per-image output summary (256px heatmaps, process)':<52s} {per_image:8.2f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"times": times, "load_contour_sweep": load, "process_ms_per_image": per_image,
                       "args": vars(args)}, f, indent=2)


if __name__ == "__main__":
    main()
