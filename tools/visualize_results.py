#!/usr/bin/env python
"""Draw overlay grids and a FROC plot from the --eval-only output folders of one or more models.

Each --results folder is what ``tools/train_net.py --eval-only`` writes for a test set
(OUTPUT_DIR/inference/<dataset>): coco_instances_results.json (detections), and, from wsdet's
evaluator, froc_curve.npz. The dataset (--dataset-name, registered: built in, or by --dataset NAME JSON
IMAGE_ROOT) gives the images and the ground truth. (Each evaluation also draws its own figures into
its folder; this tool puts several models side by side.)

Outputs (--output):
    overlays_<label>.png   a grid of test images: ground-truth boxes (green, class below) and the
                           model's detections scoring >= --score-thresh; the same images for every
                           model, taken in turn from each image-label group (normal, benign, ...).
    froc.png               the FROC curves of all models on the box-annotated test images, with
                           percentile bootstrap bands (--bootstrap resamples of the images, --seed); a
                           warning when a curve differs from the evaluator's froc_curve.npz.

Example:
    python tools/visualize_results.py --dataset-name bus_synth_test \\
        --results output/bus_joint/inference/bus_synth_test output/bus_strong/inference/bus_synth_test \\
        --labels joint "strong only" --output figures/
"""
import wsdet  # noqa: F401  (first: silences known third-party warnings before Detectron2 loads)
import argparse
import logging
import os
import re
from typing import Optional, Sequence

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.utils.logger import setup_logger

from wsdet.data.image_io import read_image
from wsdet.engine.defaults import add_dataset_arguments, register_cli_datasets
from wsdet.evaluation import gt_from_dataset_dicts, sensitivity_at
from wsdet.evaluation.froc import FROC_FP_RATES
from wsdet.evaluation.saved_results import load_detections, load_froc_curve, run_label
from wsdet.visualization import plot_froc, save_grid
from wsdet.visualization.curves import froc_curve_and_band
from wsdet.visualization.examples import draw_overlays, pick_images

logger = logging.getLogger("wsdet.visualize_results")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--dataset-name", required=True, help="the registered test set the results are on")
    parser.add_argument("--results", nargs="+", required=True, help="--eval-only output folders, one per model")
    parser.add_argument("--labels", nargs="+", help="model names for the legend and files (default: run folders)")
    parser.add_argument("--output", required=True, help="folder for the PNG files")
    parser.add_argument("--num-images", type=int, default=8, help="images in each overlay grid (default: 8)")
    parser.add_argument("--columns", type=int, default=4, help="images per grid row (default: 4)")
    parser.add_argument("--tile-size", type=int, default=256, help="pixels of each grid tile (default: 256)")
    parser.add_argument("--palette-colors", type=int, default=0,
                        help="write indexed-colour grids of at most this many colours (smaller files; 0: RGB)")
    parser.add_argument("--score-thresh", type=float, default=0.5,
                        help="minimum score of the boxes drawn (default: 0.5)")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="bootstrap resamples of the FROC bands (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--iou-thresh", type=float, default=0.5,
                        help="FROC hit: IoU above this, as in the evaluation (default: 0.5)")
    parser.add_argument("--froc-criterion", default="iou", choices=("iou", "center"),
                        help="FROC hit: IoU, or the detection centre inside the lesion box (default: iou)")
    add_dataset_arguments(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    setup_logger(name="wsdet")
    register_cli_datasets(args)
    labels = args.labels or [run_label(d) for d in args.results]
    if len(labels) != len(args.results):
        raise SystemExit(f"{len(labels)} --labels for {len(args.results)} --results folders")
    dicts = DatasetCatalog.get(args.dataset_name)
    meta = MetadataCatalog.get(args.dataset_name)
    class_names, to_contiguous = list(meta.thing_classes), meta.thing_dataset_id_to_contiguous_id
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
        overlays = draw_overlays(
            gt, load_detections(folder, gt, to_contiguous), shown, images, class_names, args.score_thresh,
            display_size=args.tile_size,
        )
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
        save_grid(os.path.join(args.output, f"overlays_{name}.png"), overlays, titles, columns=args.columns,
                  tile_size=args.tile_size, palette_colors=args.palette_colors or None)
        curves[label], bands[label] = froc_curve_and_band(
            box_gt.boxes, load_detections(folder, box_gt, to_contiguous), len(box_gt.image_ids),
            iou_thresh=args.iou_thresh, criterion=args.froc_criterion, n_resamples=args.bootstrap, seed=args.seed,
        )
        saved = load_froc_curve(folder)
        ours = sensitivity_at(curves[label], FROC_FP_RATES)
        if saved and not np.allclose(sensitivity_at(saved, FROC_FP_RATES), ours):
            logger.warning("%s: this FROC (--iou-thresh %g, --froc-criterion %s) differs from the evaluator's",
                           folder, args.iou_thresh, args.froc_criterion)
    hit = "centre in box" if args.froc_criterion == "center" else f"IoU > {args.iou_thresh:g}"
    plot_froc(
        os.path.join(args.output, "froc.png"), curves, bands,
        title=f"FROC on {args.dataset_name}\n{len(box_gt.image_ids)} images, {len(box_gt.boxes)} lesions, hit: {hit}",
    )
    logger.info("Wrote %d overlay grids and froc.png to %s", len(labels), args.output)


if __name__ == "__main__":
    main()
