#!/usr/bin/env python
"""Compare two models' CorLoc on the same test set: each with its bootstrap 95% CI, and the paired
bootstrap p-value of their difference (images resampled jointly), for both CorLoc definitions.

Each --results folder is what ``tools/train_net.py --eval-only`` writes for the test set
(OUTPUT_DIR/inference/<dataset>/coco_instances_results.json); the registered dataset gives the ground truth.

Example:
    python tools/compare_models.py --dataset-name bus_synth_test \\
        --results output/bus_joint/inference/bus_synth_test output/bus_strong_only/inference/bus_synth_test \\
        --labels joint "strong only"
"""

import argparse
import json
import os
from typing import Dict, Optional, Sequence

import numpy as np
from detectron2.data import DatasetCatalog, MetadataCatalog

from wsdet.engine.defaults import add_dataset_arguments, register_cli_datasets
from wsdet.evaluation import (
    corloc_outcomes,
    corloc_pvalue,
    corloc_report,
    detections_from_coco_results,
    gt_from_dataset_dicts,
)
from wsdet.evaluation.corloc import DEFINITIONS


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset-name", required=True, help="the registered test set of both results")
    parser.add_argument("--results", nargs=2, required=True, metavar=("A", "B"), help="--eval-only output folders")
    parser.add_argument("--labels", nargs=2, metavar=("A", "B"), help="model names (default: A and B)")
    parser.add_argument("--score-thresh", type=float, default=0.5, help="WSDET.EVAL.SCORE_THRESH")
    parser.add_argument("--iou-thresh", type=float, default=0.5, help="WSDET.EVAL.IOU_THRESH")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--output", help="also write the comparison as JSON here")
    add_dataset_arguments(parser)
    return parser


def compare(args: argparse.Namespace) -> Dict[str, object]:
    """CorLoc of both models (with CIs), FP per normal image, and paired p-values per definition."""
    dicts = DatasetCatalog.get(args.dataset_name)
    meta = MetadataCatalog.get(args.dataset_name)
    class_names = list(meta.thing_classes)
    gt = gt_from_dataset_dicts(dicts, len(class_names))
    gt = gt.select(np.flatnonzero(gt.box_evaluable()))
    num_images = len(gt.image_ids)
    labels = args.labels or ["A", "B"]
    if labels[0] == labels[1]:
        raise SystemExit(f"--labels must differ, got {labels}")
    options = {"score_thresh": args.score_thresh, "iou_thresh": args.iou_thresh}
    dets = {
        label: detections_from_coco_results(
            os.path.join(folder, "coco_instances_results.json"), gt, meta.thing_dataset_id_to_contiguous_id
        )
        for label, folder in zip(labels, args.results)
    }
    out: Dict[str, object] = {"dataset": args.dataset_name, "num_images": num_images, "models": {}}
    for label in labels:
        out["models"][label] = corloc_report(
            gt.boxes, dets[label], num_images, class_names, normal=gt.normal, n_resamples=args.bootstrap,
            seed=args.seed, **options
        )
    out["paired_pvalue"] = {}
    for definition in DEFINITIONS:
        outcomes = [
            corloc_outcomes(gt.boxes, dets[label], num_images, len(class_names), definition, **options)
            for label in labels
        ]
        (correct_a, has_gt), (correct_b, _) = outcomes
        out["paired_pvalue"][definition] = corloc_pvalue(
            correct_a, correct_b, has_gt, n_resamples=args.bootstrap, seed=args.seed
        )
    return out


def format_comparison(result: Dict[str, object]) -> str:
    """The comparison as printed: one line per CorLoc definition, then the false positives."""
    lines = [f"{result['dataset']}: {result['num_images']} box-annotated or normal images"]
    for definition in DEFINITIONS:
        parts = []
        for label, report in result["models"].items():
            value, (low, high) = report[definition]["corloc"], report[definition]["ci95"]
            parts.append(f"{label} {value:.3f} [{low:.3f}, {high:.3f}]")
        lines.append(f"CorLoc {definition:8s}: " + "  vs  ".join(parts)
                     + f"   paired bootstrap p = {result['paired_pvalue'][definition]:.4f}")
    fps = [f"{label} {r['fp_per_normal_image']:.2f}" for label, r in result["models"].items()]
    lines.append("FP per normal image: " + "  vs  ".join(fps))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    register_cli_datasets(args)
    result = compare(args)
    print(format_comparison(result))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=2, default=float)


if __name__ == "__main__":
    main()
