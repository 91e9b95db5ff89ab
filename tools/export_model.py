#!/usr/bin/env python
"""Export a trained wsdet model to TorchScript (traced) and/or ONNX, and check the exported model
against the eager one on a sample image.

The exported model takes one CHW image tensor in the config's INPUT.FORMAT, resized as in testing
(INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST), and returns a flat tuple of tensors at that resolution; their
names are in outputs.json (and are the ONNX output names): detections, image_probs and, for models
with heatmaps, heatmaps. A CAM classifier's boxes are not in the graph: apply
wsdet.modeling.cam.HeatmapBoxExtractor.from_config(cfg) to the exported heatmaps and image_probs.

Examples:
    python tools/export_model.py --config-file configs/bus_joint.yaml --output exported/bus_joint \\
        --sample-image scans/case1.png MODEL.WEIGHTS output/bus_joint/model_final.pth
    python tools/export_model.py --config-file configs/bus_cam.yaml --format onnx \\
        --output exported/bus_cam MODEL.WEIGHTS output/bus_cam/model_final.pth
"""
import wsdet  # noqa: F401  (first: silences known third-party warnings before Detectron2 loads)
import argparse
import json
import logging
import os
import sys
from typing import List, Optional, Sequence

import numpy as np
import torch
from detectron2.utils.logger import setup_logger

from wsdet.engine.defaults import add_config_overrides, build_config
from wsdet.engine.predictor import Predictor
from wsdet.export import (
    export_onnx,
    export_torchscript,
    load_torchscript,
    max_difference,
    run_onnx,
    tracing_adapter,
)

logger = logging.getLogger("wsdet.export_model")
FILES = {"torchscript": "model.ts", "onnx": "model.onnx"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config-file", required=True, metavar="FILE", help="the model's wsdet config")
    parser.add_argument("--output", required=True, help="folder for model.ts / model.onnx and outputs.json")
    parser.add_argument(
        "--format", choices=[*FILES, "all"], default="all", help="what to write (default: %(default)s)"
    )
    parser.add_argument(
        "--sample-image",
        help="image (PNG, DICOM, ...) to trace and check on (default: a random image of the test size)",
    )
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest accepted output difference (default: %(default)s)")
    parser.add_argument("--allow-untrained", action="store_true",
                        help="export even when MODEL.WEIGHTS provides none of the model's weights")
    add_config_overrides(parser)
    return parser


def sample_tensor(predictor: Predictor, path: Optional[str], size: int) -> torch.Tensor:
    """The sample image as the model's CHW input: read, resized as in testing."""
    if path is None:
        image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    else:
        image = predictor.read(path)
    resized = predictor.resize.get_transform(image).apply_image(image)
    return torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1)))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logger(name="wsdet")
    cfg = build_config(args.config_file, [*args.opts, "MODEL.DEVICE", "cpu"])
    predictor = Predictor(cfg, allow_untrained=args.allow_untrained)
    image = sample_tensor(predictor, args.sample_image, cfg.INPUT.MIN_SIZE_TEST)
    with torch.no_grad():
        reference = tracing_adapter(predictor.model, image)(image)
    os.makedirs(args.output, exist_ok=True)
    failed: List[str] = []
    for fmt in FILES if args.format == "all" else [args.format]:
        path = os.path.join(args.output, FILES[fmt])
        if fmt == "torchscript":
            names = export_torchscript(predictor.model, image, path)
            with torch.no_grad():
                outputs = load_torchscript(path)(image)
        else:
            names = export_onnx(predictor.model, image, path)
            outputs = run_onnx(path, image)
        difference = max_difference(reference, outputs)
        logger.info("%s: %s, largest difference to the eager model %.2e", fmt, path, difference)
        if not difference <= args.tolerance:
            failed.append(fmt)
    with open(os.path.join(args.output, "outputs.json"), "w") as f:
        json.dump({"input": f"image: uint8 (3, H, W), {cfg.INPUT.FORMAT}", "outputs": names}, f, indent=2)
    if failed:
        logger.error("exported outputs differ from the eager model's by more than %g: %s", args.tolerance, failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
