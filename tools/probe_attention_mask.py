#!/usr/bin/env python
"""Probe a positive-CAM stage-2 model (attention mining): does it classify an image restricted to its mask
T(A) from what the mask shows, or from the mask's shape and place? Each image's content is put under
another image's mask, and the image probabilities are scored (mean per-class ROC AUC) against the
content's labels and against the mask's. Printed and, with --output, written as JSON:

    full                    the images as they are
    own_mask                each image under its own mask (the restricted loss's input in training)
    swapped_vs_content      image i's content under image j's mask, against i's labels
    swapped_vs_mask         the same scores against j's labels
    normal_content_vs_mask  a normal image's content under each image's mask, against the mask's labels

A model that reads the content: swapped_vs_content near own_mask, the last two near 0.5. Masks chosen by
the labels (WSDET.CAM.ATTENTION_MINING.ATTENTION_CLASSES labelled) let the model learn the label from the
mask: the last two well above 0.5.

Example:
    python tools/probe_attention_mask.py --config-file configs/cxr_poscam_stage2.yaml \\
        --dataset-name cxr_synth_val MODEL.WEIGHTS output/cxr_poscam_stage2/model_final.pth
"""
import wsdet  # noqa: F401  (first: silences known third-party warnings before Detectron2 loads)
import argparse
import json
import sys
from typing import Optional, Sequence

import torch
import tqdm
from detectron2.data import DatasetCatalog
from detectron2.modeling import build_model

from wsdet.data import WSDetDatasetMapper
from wsdet.engine import load_weights_to_evaluate
from wsdet.engine.defaults import build_config, dataset_to_probe, model_tool_parser, register_cli_datasets
from wsdet.evaluation.attention_probe import probe_attention_masks
from wsdet.modeling.mil_loss import stack_image_labels


def build_parser() -> argparse.ArgumentParser:
    parser = model_tool_parser(__doc__, "the stage-2 model's config", probed_dataset="to probe")
    parser.add_argument("--max-images", type=int, default=200, help="its first N images (default: 200)")
    parser.add_argument("--seed", type=int, default=0, help="of the pairing of masks and contents (default: 0)")
    parser.add_argument("--output", help="also write the AUCs as JSON here")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    register_cli_datasets(args)
    cfg = build_config(args.config_file, args.opts)
    if not cfg.WSDET.CAM.ATTENTION_MINING.ENABLED:
        raise SystemExit(f"{args.config_file} trains no attention mining (WSDET.CAM.ATTENTION_MINING.ENABLED "
                         "False): give a stage-2 config")
    dataset = dataset_to_probe(args, cfg)
    model = build_model(cfg)
    load_weights_to_evaluate(model, cfg)
    model.eval()
    mapper = WSDetDatasetMapper(cfg, is_train=False)
    inputs = [mapper(d) for d in tqdm.tqdm(DatasetCatalog.get(dataset)[: args.max_images], desc="read", unit="image")]
    with torch.no_grad():
        images = model.preprocess_image(inputs).tensor
    aucs = probe_attention_masks(model, images, stack_image_labels(inputs, model.device), seed=args.seed)
    print(f"{dataset}, {len(inputs)} images: mean per-class AUC")
    for name, value in aucs.items():
        print(f"  {name:24s} {value:.3f}")
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"dataset": dataset, "images": len(inputs), **aucs}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
