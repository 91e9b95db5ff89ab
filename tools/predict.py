#!/usr/bin/env python
"""Run a wsdet model on image files; write COCO-results JSON, image-level probabilities and overlays.

Inputs: --input image files and folders (PNG, JPEG, TIFF, BMP and DICOM files; DICOM also by the DICM
magic, so extensionless PACS exports are found; --recursive enters sub-folders, --exclude leaves out
names matching a glob, e.g. "*_mask*.png" in a BUSI folder), or --input-dataset NAME: the images of a
registered dataset (register a COCO JSON with --dataset NAME JSON IMAGE_ROOT), whose image ids and
category ids the outputs then use, so that they can be scored with pycocotools' COCOeval directly.
Each file is read as in training (DICOM options: cfg.WSDET.DICOM) and resized as in Detectron2's
DefaultPredictor.

Outputs (--output):
    predictions.json   COCO results: "image_id" (the dataset's, or the position of the file in this
                       run from 1), "category_id", "bbox" [x, y, w, h] in original pixels, "score",
                       plus "file_name" and, for DICOM files, "study_instance_uid",
                       "series_instance_uid" and "sop_instance_uid".
    image_probs.json   {file: {class name: probability}}, plus "normal" for single-label models.
    images.json        COCO "images" entries of the predicted files (with the DICOM UIDs).
    overlays/*.png     detections scoring >= --score-thresh and the heatmap of the most probable class.
    overlays_grid.png  with --grid N: the first N overlays on one page.
    heatmaps/*.npy     with --save-heatmaps: the (K, height, width) heatmaps of models that have them.

The JSON files are rewritten as the run goes and when it stops, whatever stops it. A file that cannot
be read is logged with the reason and skipped; the summary lists such files and what was not read
(folders without --recursive, dangling links, link loops). Exit status: 0 when at least one file was
predicted, 1 when none was.

Example:
    python tools/predict.py --config-file configs/bus_joint.yaml --input scans/ --output preds/ \\
        MODEL.WEIGHTS output/bus_joint/model_final.pth
"""

import argparse
import sys
from typing import Optional, Sequence

import wsdet  # noqa: F401  (first: its warning filters apply to what Detectron2 imports)

import tqdm
from detectron2.data.detection_utils import convert_image_to_rgb
from detectron2.utils.logger import setup_logger

from wsdet.data.image_io import ImageReadError
from wsdet.engine.defaults import build_config, model_tool_parser, register_cli_datasets
from wsdet.engine.prediction_writer import PredictionWriter
from wsdet.engine.predictor import Predictor, class_metadata, dataset_inputs, dicom_uids, list_inputs

logger = setup_logger(name="predict")


def build_parser() -> argparse.ArgumentParser:
    parser = model_tool_parser(__doc__.split("\n\n")[0], "the model's config", epilog=__doc__.split("\n\n", 1)[1])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", nargs="+", help="image files and/or folders of images")
    source.add_argument("--input-dataset", metavar="NAME", help="predict the images of this registered dataset")
    parser.add_argument("--output", required=True, help="folder for the outputs")
    parser.add_argument("--recursive", action="store_true", help="also read the folders inside input folders")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="leave out files whose name or path matches (repeatable)")
    parser.add_argument("--score-thresh", type=float, default=0.5,
                        help="minimum score of the boxes drawn (default: 0.5)")
    parser.add_argument("--no-overlays", action="store_true", help="write no overlay pictures")
    parser.add_argument("--save-heatmaps", action="store_true", help="write each image's heatmaps as .npy")
    parser.add_argument("--allow-untrained", action="store_true",
                        help="predict even with weights that fit none of the model's parameters (a baseline)")
    parser.add_argument("--grid", type=int, default=0, metavar="N",
                        help="also write overlays_grid.png: the overlays of the first N images (default: 0)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logger(name="fvcore")
    register_cli_datasets(args)
    cfg = build_config(args.config_file, args.opts)
    if not cfg.MODEL.WEIGHTS:
        raise SystemExit("MODEL.WEIGHTS is empty: give the trained model, e.g. MODEL.WEIGHTS model_final.pth")
    class_names, category_ids = class_metadata(cfg, args.input_dataset)
    if args.input_dataset:
        inputs, not_read = dataset_inputs(args.input_dataset), {}
    else:
        inputs, not_read = list_inputs(args.input, args.recursive, args.exclude)
    if not inputs:
        logger.error("No image file found in %s", args.input_dataset or " ".join(args.input))
    predictor = Predictor(cfg, allow_untrained=args.allow_untrained)
    writer = PredictionWriter(
        args.output, class_names, category_ids, predictor.single_label, overlays=not args.no_overlays,
        heatmaps=args.save_heatmaps, score_thresh=args.score_thresh,
        heatmap_norm=cfg.WSDET.CAM.BOXES.NORMALIZE, grid=args.grid,
    )
    with writer:
        for path, image_id in tqdm.tqdm(inputs, desc="predict", unit="image"):
            try:
                image = predictor.read(path)
            except ImageReadError as e:
                logger.warning("Skipping %s: %s", path, e.reason)
                writer.add_failure(path, e.reason)
                continue
            rgb = convert_image_to_rgb(image, predictor.input_format)
            writer.add(path, image_id, rgb, predictor(image), dicom_uids(path))

    logger.info("Predicted %d of %d files; outputs in %s", writer.done, len(inputs), args.output)
    for title, paths in (("Files that could not be read", writer.failures), ("Not read", not_read)):
        if paths:
            lines = "\n".join(f"  {path}: {reason}" for path, reason in paths.items())
            logger.warning("%s (%d):\n%s", title, len(paths), lines)
    return 0 if writer.done else 1


if __name__ == "__main__":
    sys.exit(main())
