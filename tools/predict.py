#!/usr/bin/env python
"""Run a wsdet model on image files; write COCO-results JSON, image-level probabilities and overlays.

Inputs (--input): image files and folders (their PNG, JPEG, TIFF, BMP and DICOM files, not
recursive; DICOM by extension or by the DICM magic, so extensionless exports are found). Each file is
read as in training (DICOM options: cfg.WSDET.DICOM) and resized as in Detectron2's DefaultPredictor.

Outputs (--output):
    predictions.json   COCO results, one entry per detection: "file_name", "image_id" (position of
                       the file in this run, from 1), "category_id", "bbox" [x, y, w, h] in original
                       image pixels, "score". Category ids are the dataset's when a dataset of the
                       config (DATASETS.TEST, then TRAIN) is registered and loadable, else contiguous
                       id + 1.
    image_probs.json   {file: {class name: probability}}, plus "normal" for single-label models
                       (softmax detectors and single-label CAM heads): 1 - sum of the others.
    overlays/*.png     the image with the detections scoring >= --score-thresh and, for models that
                       output heatmaps, the heatmap of the most probable lesion class
                       (normalization: cfg.WSDET.CAM.BOXES.NORMALIZE).
    overlays_grid.png  with --grid N: the first N overlays on one page (256-colour PNG).

A file that cannot be read is logged with the reason and skipped; the summary at the end lists every
such file. Exit status: 0 when at least one file was predicted, 1 when none was (all unreadable, or
no input file found).

Example:
    python tools/predict.py --config-file configs/bus_joint.yaml --input scans/ --output preds/ \\
        MODEL.WEIGHTS output/bus_joint/model_final.pth
"""

import argparse
import json
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import tqdm
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data import transforms as T
from detectron2.data.detection_utils import convert_image_to_rgb
from detectron2.evaluation.coco_evaluation import instances_to_coco_json
from detectron2.modeling import build_model
from detectron2.utils.logger import setup_logger

from wsdet.data import DatasetFormatError
from wsdet.data.image_io import DICOM_EXTENSIONS, ImageReadError, is_dicom, read_image
from wsdet.engine import WSDetCheckpointer
from wsdet.engine.defaults import add_dataset_arguments, build_config, register_cli_datasets
from wsdet.modeling.cam import CAMHead
from wsdet.visualization import render_overlay, save_grid

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp") + DICOM_EXTENSIONS

logger = setup_logger(name="predict")


def list_inputs(paths: Sequence[str]) -> List[str]:
    """The files given, and the image / DICOM files of the folders given (sorted, not recursive)."""
    files = []
    for path in paths:
        if not os.path.isdir(path):
            files.append(path)
            continue
        for entry in sorted(os.listdir(path)):
            full = os.path.join(path, entry)
            if entry.startswith(".") or not os.path.isfile(full):
                continue
            if entry.lower().endswith(IMAGE_EXTENSIONS) or is_dicom(full):
                files.append(full)
    return files


def class_metadata(cfg: CfgNode) -> Tuple[List[str], List[int]]:
    """Class names and the category id of each contiguous class, from the first dataset of the config
    (DATASETS.TEST, then TRAIN) that is registered and loads; else "class_<i>" and ids i + 1."""
    for name in (*cfg.DATASETS.TEST, *cfg.DATASETS.TRAIN):
        if name not in DatasetCatalog.list():
            continue
        meta = MetadataCatalog.get(name)
        if not hasattr(meta, "thing_dataset_id_to_contiguous_id"):
            try:
                DatasetCatalog.get(name)  # wsdet's loader sets thing_classes and the id mapping
            except (OSError, DatasetFormatError) as e:
                logger.warning("No class names from dataset %s: %s", name, e)
                continue
        to_dataset = {c: d for d, c in meta.thing_dataset_id_to_contiguous_id.items()}
        return list(meta.thing_classes), [to_dataset[c] for c in range(len(to_dataset))]
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    logger.warning("No registered dataset in the config: classes named class_<i>, category ids i + 1")
    return [f"class_{i}" for i in range(num_classes)], list(range(1, num_classes + 1))


class Predictor:
    """Detectron2's DefaultPredictor for wsdet models: wsdet's image reader (DICOM included), no
    dependency on dataset metadata, outputs on the CPU."""

    def __init__(self, cfg: CfgNode):
        self.model = build_model(cfg)
        self.model.eval()
        WSDetCheckpointer(self.model, allow_unsafe=cfg.WSDET.ALLOW_UNSAFE_CHECKPOINTS).load(cfg.MODEL.WEIGHTS)
        self.resize = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
        self.input_format = cfg.INPUT.FORMAT
        self.dicom_frame = cfg.WSDET.DICOM.FRAME
        self.dicom_window = tuple(cfg.WSDET.DICOM.WINDOW) or None
        cam_heads = [m for m in self.model.modules() if isinstance(m, CAMHead)]
        # image_probs of softmax detectors drop the background (normal) probability
        self.single_label = cam_heads[0].single_label if cam_heads else True

    def read(self, path: str) -> np.ndarray:
        """The image in ``cfg.INPUT.FORMAT``; raises :class:`ImageReadError`."""
        return read_image(
            path, self.input_format, dicom_frame=self.dicom_frame, dicom_window=self.dicom_window
        )

    def __call__(self, image: np.ndarray) -> Dict[str, object]:
        height, width = image.shape[:2]
        resized = self.resize.get_transform(image).apply_image(image)
        tensor = torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1)))
        with torch.no_grad():
            output = self.model([{"image": tensor, "height": height, "width": width}])[0]
        return {k: v.to("cpu") for k, v in output.items()}


def image_probabilities(
    probs: torch.Tensor, class_names: Sequence[str], single_label: bool
) -> Dict[str, float]:
    """Class name -> probability, and "normal" (1 - sum) for single-label models."""
    values = {name: float(p) for name, p in zip(class_names, probs.tolist())}
    if single_label:
        values["normal"] = max(0.0, 1.0 - float(probs.sum()))
    return values


def save_overlay(
    path: str,
    title: str,
    image_rgb: np.ndarray,
    output: Dict[str, object],
    probs: Dict[str, float],
    class_names: Sequence[str],
    score_thresh: float,
    heatmap_norm: str,
) -> Tuple[np.ndarray, str]:
    """Write the overlay of one image to ``path``; the title gets the most probable class, and the
    class of the heatmap shown when that is another one (e.g. the top lesion class of a normal image).

    Returns the overlay and its title."""
    heatmap, top = None, None
    if probs:
        top = max(probs, key=probs.get)
        title += f"  {top} {probs[top]:.2f}"
    if "heatmaps" in output:
        maps = output["heatmaps"]
        c = int(output["image_probs"].argmax() if "image_probs" in output else maps.amax(dim=(1, 2)).argmax())
        heatmap = maps[c].float().numpy()
        if class_names[c] != top:
            title += f", map: {class_names[c]}"
    instances = output["instances"]
    overlay = render_overlay(
        image_rgb,
        class_names,
        heatmap=heatmap,
        pred_boxes=instances.pred_boxes.tensor.numpy(),
        pred_scores=instances.scores.numpy(),
        pred_classes=instances.pred_classes.numpy(),
        score_thresh=score_thresh,
        heatmap_options={"normalize": heatmap_norm},
    )
    save_grid(path, [overlay], [title], tile_size=max(256, *image_rgb.shape[:2]))
    return overlay, title


def overlay_path(output_dir: str, path: str, taken: set) -> str:
    """``overlays/<file stem>.png``, with a numeric suffix if another input had the same stem."""
    stem = os.path.splitext(os.path.basename(path))[0]
    name, k = stem, 1
    while name in taken:
        name, k = f"{stem}_{k}", k + 1
    taken.add(name)
    return os.path.join(output_dir, "overlays", f"{name}.png")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--config-file", required=True, metavar="FILE", help="path to the config file")
    parser.add_argument("--input", nargs="+", required=True, help="image files and/or folders of images")
    parser.add_argument("--output", required=True, help="folder for the outputs")
    parser.add_argument("--score-thresh", type=float, default=0.5, help="minimum score of the boxes drawn")
    parser.add_argument("--no-overlays", action="store_true", help="write the JSON files only")
    parser.add_argument(
        "--grid",
        type=int,
        default=0,
        metavar="N",
        help="also write overlays_grid.png: the overlays of the first N images, 4 per row",
    )
    add_dataset_arguments(parser)
    parser.add_argument(
        "opts",
        nargs=argparse.REMAINDER,
        default=[],
        help="config KEY VALUE pairs, e.g. MODEL.WEIGHTS model_final.pth",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logger(name="fvcore")
    register_cli_datasets(args)
    cfg = build_config(args.config_file, args.opts)
    if not cfg.MODEL.WEIGHTS:
        raise SystemExit("MODEL.WEIGHTS is empty: give the trained model, e.g. MODEL.WEIGHTS model_final.pth")
    class_names, category_ids = class_metadata(cfg)
    predictor = Predictor(cfg)
    files = list_inputs(args.input)
    if not files:
        logger.error("No image file found in %s", " ".join(args.input))
    os.makedirs(args.output, exist_ok=True)

    predictions, probabilities, failures, taken, preview = [], {}, {}, set(), []
    for image_id, path in enumerate(tqdm.tqdm(files, desc="predict", unit="image"), start=1):
        try:
            image = predictor.read(path)
        except ImageReadError as e:
            logger.warning("Skipping %s: %s", path, e.reason)
            failures[path] = e.reason
            continue
        output = predictor(image)
        for result in instances_to_coco_json(output["instances"], image_id):
            result["category_id"] = category_ids[result["category_id"]]
            predictions.append({"file_name": path, **result})
        probs = {}
        if "image_probs" in output:
            probs = image_probabilities(output["image_probs"], class_names, predictor.single_label)
            probabilities[path] = probs
        if not args.no_overlays:
            overlay, title = save_overlay(
                overlay_path(args.output, path, taken),
                os.path.basename(path),
                convert_image_to_rgb(image, predictor.input_format),
                output,
                probs,
                class_names,
                args.score_thresh,
                cfg.WSDET.CAM.BOXES.NORMALIZE,
            )
            if len(preview) < args.grid:
                preview.append((overlay, title))

    if preview:
        overlays, titles = zip(*preview)
        save_grid(
            os.path.join(args.output, "overlays_grid.png"),
            overlays,
            titles,
            tile_size=192,
            palette_colors=256,
        )

    with open(os.path.join(args.output, "predictions.json"), "w") as f:
        json.dump(predictions, f)
    with open(os.path.join(args.output, "image_probs.json"), "w") as f:
        json.dump(probabilities, f, indent=1)
    done = len(files) - len(failures)
    logger.info("Predicted %d of %d files; outputs in %s", done, len(files), args.output)
    if failures:
        logger.warning(
            "Files that could not be read (%d):\n%s",
            len(failures),
            "\n".join(f"  {path}: {reason}" for path, reason in failures.items()),
        )
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
