#!/usr/bin/env python
"""Draw overlay grids and a FROC plot from the --eval-only output folders of one or more models.

Each --results folder is what ``tools/train_net.py --eval-only`` writes for a test set
(OUTPUT_DIR/inference/<dataset>): coco_instances_results.json (detections), and, from wsdet's
evaluator, froc_curve.npz and wsdet_metrics.json. The dataset (--dataset-name, registered: built in,
or by --dataset NAME JSON IMAGE_ROOT) gives the images and the ground truth.

Outputs (--output):
    overlays_<label>.png   a grid of test images: ground-truth boxes (green, class below) and the
                           model's detections scoring >= --score-thresh; the same images for every
                           model, taken in turn from each image-label group (normal, benign, ...).
    froc.png               the FROC curves of all models on the box-annotated test images (hits:
                           --iou-thresh / --froc-criterion, as WSDET.EVAL), with percentile bootstrap
                           bands (--bootstrap resamples of the images, --seed); a warning when a curve
                           differs from the evaluator's froc_curve.npz.

Example:
    python tools/visualize_results.py --dataset-name bus_synth_test \\
        --results output/bus_joint/inference/bus_synth_test output/bus_strong/inference/bus_synth_test \\
        --labels joint "strong only" --output figures/
"""

import argparse
import itertools
import logging
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.utils.logger import setup_logger

from wsdet.data.image_io import read_image
from wsdet.engine.defaults import add_dataset_arguments, register_cli_datasets
from wsdet.evaluation import (
    BoxTable,
    GroundTruth,
    detections_from_coco_results,
    froc,
    gt_from_dataset_dicts,
    sensitivity_at,
)
from wsdet.evaluation.froc import FROC_FP_RATES
from wsdet.visualization import froc_band, plot_froc, render_overlay, save_grid

logger = logging.getLogger("visualize_results")


def pick_images(gt: GroundTruth, count: int) -> List[int]:
    """``count`` box-annotated images, taken in turn from each group of images with the same labels."""
    groups: Dict[tuple, List[int]] = {}
    for row in np.flatnonzero(gt.box_evaluable()):
        groups.setdefault(tuple(np.flatnonzero(gt.labels[row])), []).append(int(row))
    interleaved = itertools.chain.from_iterable(itertools.zip_longest(*[groups[k] for k in sorted(groups)]))
    return [row for row in interleaved if row is not None][:count]


def default_label(results_dir: str) -> str:
    """The run folder of ``<run>/inference/<dataset>``, else the folder's own name."""
    parts = os.path.normpath(os.path.abspath(results_dir)).split(os.sep)
    return parts[-3] if len(parts) >= 3 and parts[-2] == "inference" else parts[-1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--dataset-name", required=True, help="the registered test set the results are on")
    parser.add_argument(
        "--results", nargs="+", required=True, help="--eval-only output folders, one per model"
    )
    parser.add_argument(
        "--labels", nargs="+", help="model names for the legend and files (default: run folders)"
    )
    parser.add_argument("--output", required=True, help="folder for the PNG files")
    parser.add_argument("--num-images", type=int, default=8, help="images in each overlay grid")
    parser.add_argument("--columns", type=int, default=4, help="images per grid row")
    parser.add_argument("--tile-size", type=int, default=192, help="pixels of each grid tile")
    parser.add_argument(
        "--palette-colors",
        type=int,
        default=0,
        help="write indexed-colour grids of at most this many colours (smaller files; 0: RGB)",
    )
    parser.add_argument("--score-thresh", type=float, default=0.5, help="minimum score of the boxes drawn")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the FROC bands")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument(
        "--iou-thresh", type=float, default=0.5, help="FROC hit: IoU > this (WSDET.EVAL.IOU_THRESH)"
    )
    parser.add_argument(
        "--froc-criterion",
        default="iou",
        choices=("iou", "center"),
        help="FROC hit criterion (WSDET.EVAL.FROC_CRITERION)",
    )
    add_dataset_arguments(parser)
    return parser


def draw_overlays(
    gt: GroundTruth, dets: BoxTable, rows: Sequence[int], images, class_names, score_thresh: float
) -> List[np.ndarray]:
    """The ground truth and detections of the images ``rows`` (indices of ``gt``) drawn on them."""
    overlays = []
    for row, image in zip(rows, images):
        mine, truth = dets.select(dets.image == row), gt.boxes.select(gt.boxes.image == row)
        overlays.append(
            render_overlay(
                image,
                class_names,
                gt_boxes=truth.boxes,
                gt_classes=truth.classes,
                pred_boxes=mine.boxes,
                pred_scores=mine.scores,
                pred_classes=mine.classes,
                score_thresh=score_thresh,
            )
        )
    return overlays


def froc_curve_and_band(
    folder: str, box_gt: GroundTruth, dets: BoxTable, args: argparse.Namespace
) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    """The FROC curve of a model's detections and its bootstrap band; a warning when the curve differs
    from the evaluator's froc_curve.npz in ``folder`` (other hit criterion than in the evaluation)."""
    options = {"iou_thresh": args.iou_thresh, "criterion": args.froc_criterion}
    num_images = len(box_gt.image_ids)
    curve = froc(box_gt.boxes, dets, num_images, **options)["curve"]
    saved_file = os.path.join(folder, "froc_curve.npz")
    if os.path.isfile(saved_file):
        saved = dict(np.load(saved_file))
        if not np.allclose(sensitivity_at(saved, FROC_FP_RATES), sensitivity_at(curve, FROC_FP_RATES)):
            logger.warning(
                "%s: this FROC (--iou-thresh %g, --froc-criterion %s) differs from the evaluator's",
                folder,
                args.iou_thresh,
                args.froc_criterion,
            )
    band = froc_band(box_gt.boxes, dets, num_images, n_resamples=args.bootstrap, seed=args.seed, **options)
    return curve, band


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    setup_logger(name="visualize_results")
    register_cli_datasets(args)
    labels = args.labels or [default_label(d) for d in args.results]
    if len(labels) != len(args.results):
        raise SystemExit(f"{len(labels)} --labels for {len(args.results)} --results folders")
    dicts = DatasetCatalog.get(args.dataset_name)
    meta = MetadataCatalog.get(args.dataset_name)
    class_names = list(meta.thing_classes)
    gt = gt_from_dataset_dicts(dicts, len(class_names))
    box_gt = gt.select(np.flatnonzero(gt.box_evaluable()))
    shown = pick_images(gt, args.num_images)
    images = [read_image(dicts[row]["file_name"], "RGB") for row in shown]
    titles = [
        f"{os.path.basename(dicts[row]['file_name'])}  "
        + (", ".join(class_names[c] for c in np.flatnonzero(gt.labels[row])) or "normal")
        for row in shown
    ]

    curves, bands = {}, {}
    for label, folder in zip(labels, args.results):
        results_file = os.path.join(folder, "coco_instances_results.json")
        dets = detections_from_coco_results(results_file, gt, meta.thing_dataset_id_to_contiguous_id)
        save_grid(
            os.path.join(args.output, "overlays_{}.png".format(re.sub(r"[^A-Za-z0-9_.-]+", "_", label))),
            draw_overlays(gt, dets, shown, images, class_names, args.score_thresh),
            titles,
            columns=args.columns,
            tile_size=args.tile_size,
            palette_colors=args.palette_colors or None,
        )
        box_dets = detections_from_coco_results(results_file, box_gt, meta.thing_dataset_id_to_contiguous_id)
        curves[label], bands[label] = froc_curve_and_band(folder, box_gt, box_dets, args)
    plot_froc(
        os.path.join(args.output, "froc.png"),
        curves,
        bands,
        title=f"FROC on {args.dataset_name}\n{len(box_gt.image_ids)} images, {len(box_gt.boxes)} lesions, hit: "
        + ("centre in box" if args.froc_criterion == "center" else f"IoU > {args.iou_thresh:g}"),
    )
    logger.info("Wrote %d overlay grids and froc.png to %s", len(labels), args.output)


if __name__ == "__main__":
    main()
