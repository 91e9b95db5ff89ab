#!/usr/bin/env python
"""Where do a CAM model's heatmaps peak relative to the findings? For every box of a registered dataset,
the peak of its class's heatmap lies inside the box, below or above it (within its columns), or beside
it (wsdet.evaluation.peak_location). On ultrasound "below" is the posterior acoustic shadowing or
enhancement under a mass: a map that classifies from it points there rather than at the mass.

Example:
    python tools/probe_heatmap_peaks.py --config-file configs/bus_cam_pcam.yaml \\
        --dataset-name bus_synth_test MODEL.WEIGHTS output/bus_cam_pcam/model_best.pth
"""
import wsdet  # noqa: F401  (first: silences known third-party warnings before Detectron2 loads)
import argparse
import json
import sys
from typing import Optional, Sequence

import tqdm
from detectron2.data import DatasetCatalog
from detectron2.structures import BoxMode

from wsdet.engine.defaults import build_config, dataset_to_probe, model_tool_parser, register_cli_datasets
from wsdet.engine.predictor import Predictor
from wsdet.evaluation.peak_location import PEAK_POSITIONS, peak_position, peak_position_rates


def build_parser() -> argparse.ArgumentParser:
    parser = model_tool_parser(__doc__, "the CAM model's config", probed_dataset="with boxes")
    parser.add_argument("--max-images", type=int, default=0, help="its first N images (default: all)")
    parser.add_argument("--output", help="also write the shares as JSON here")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    register_cli_datasets(args)
    cfg = build_config(args.config_file, args.opts)
    dataset = dataset_to_probe(args, cfg)
    records = [d for d in DatasetCatalog.get(dataset) if d.get("annotations")]
    if args.max_images:
        records = records[: args.max_images]
    if not records:
        raise SystemExit(f"{dataset} has no image with boxes")
    predictor = Predictor(cfg)
    positions = []
    for record in tqdm.tqdm(records, desc="heatmaps", unit="image"):
        output = predictor(predictor.read(record["file_name"]))
        if "heatmaps" not in output:
            raise SystemExit(f"{args.config_file}: the model gives no heatmaps (a CAM model is needed)")
        for ann in record["annotations"]:
            box = BoxMode.convert(ann["bbox"], ann["bbox_mode"], BoxMode.XYXY_ABS)
            positions.append(peak_position(output["heatmaps"][ann["category_id"]].numpy(), box))
    rates = peak_position_rates(positions)
    print(f"{dataset}, {len(records)} images, {len(positions)} findings: where the heatmap peaks")
    for name in PEAK_POSITIONS:
        print(f"  {name:7s} {rates[name]:.3f}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"dataset": dataset, "images": len(records), **rates}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
