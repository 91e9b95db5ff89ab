#!/usr/bin/env python
"""Compare two models on the same test set: CorLoc (official and top-1), FP per normal image, FROC mean
sensitivity and image-level AUCs of each, with 95% CIs, and the paired bootstrap p-value of each
difference (test images resampled jointly).

Each --results folder is what ``tools/train_net.py --eval-only`` writes for the test set
(OUTPUT_DIR/inference/<dataset>): coco_instances_results.json (detections) and image_probs.json (image
probabilities; without it, no AUC). The registered dataset gives the ground truth.

Example:
    python tools/compare_models.py --dataset-name bus_synth_test \\
        --results output/bus_joint/inference/bus_synth_test output/bus_strong_only/inference/bus_synth_test \\
        --labels joint "strong only"
"""
import wsdet  # noqa: F401  (first: silences known third-party warnings before Detectron2 loads)
import argparse
import json
from typing import Optional, Sequence

from detectron2.data import DatasetCatalog, MetadataCatalog

from wsdet.engine.defaults import add_dataset_arguments, register_cli_datasets
from wsdet.evaluation import EvalSettings, gt_from_dataset_dicts
from wsdet.evaluation.comparison import compare_models, format_comparison
from wsdet.evaluation.saved_results import load_detections, load_image_probs, run_label


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset-name", required=True, help="the registered test set of both results")
    parser.add_argument("--results", nargs=2, required=True, metavar=("A", "B"), help="--eval-only output folders")
    parser.add_argument("--labels", nargs=2, metavar=("A", "B"), help="model names (default: their run folders)")
    parser.add_argument("--score-thresh", type=float, default=0.5,
                        help="score threshold of the official CorLoc and FP counts (default: 0.5)")
    parser.add_argument("--iou-thresh", type=float, default=0.5, help="a hit has IoU above this (default: 0.5)")
    parser.add_argument("--froc-criterion", default="iou", choices=("iou", "center"),
                        help="FROC hit: IoU, or the detection centre inside the lesion box (default: iou)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    parser.add_argument("--output", help="also write the comparison as JSON here")
    add_dataset_arguments(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    register_cli_datasets(args)
    labels = args.labels or [run_label(folder) for folder in args.results]
    if labels[0] == labels[1]:
        raise SystemExit(f"the two models need different --labels, got {labels}")
    dicts = DatasetCatalog.get(args.dataset_name)  # loading sets the class names
    meta = MetadataCatalog.get(args.dataset_name)
    class_names = list(meta.thing_classes)
    gt = gt_from_dataset_dicts(dicts, len(class_names))
    to_contiguous = meta.thing_dataset_id_to_contiguous_id
    settings = EvalSettings(score_thresh=args.score_thresh, iou_thresh=args.iou_thresh,
                            froc_criterion=args.froc_criterion, n_resamples=args.bootstrap, seed=args.seed)
    result = compare_models(
        gt,
        class_names,
        {label: load_detections(folder, gt, to_contiguous) for label, folder in zip(labels, args.results)},
        {label: load_image_probs(folder, gt) for label, folder in zip(labels, args.results)},
        settings,
    )
    result["dataset"] = args.dataset_name
    print(f"{args.dataset_name}: {format_comparison(result)}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
