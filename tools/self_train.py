#!/usr/bin/env python
"""Self-training: pseudo-label confident weak images with a trained model, then (optionally) retrain.

    python tools/self_train.py --config-file configs/bus_joint.yaml --fraction 0.5 \
        --output-dir output/bus_self_train --retrain MODEL.WEIGHTS output/bus_joint/model_final.pth

Writes ``pseudo_strong.json`` (weak images promoted to box images, their top detection as the box)
and ``remaining_weak.json`` into ``--output-dir``; with ``--retrain``, trains the same config on the
strong datasets + the pseudo-labelled images (+ all weak images, or only the remaining ones with
``--mil-images remaining``, when the config uses weak images) into ``<output-dir>/retrain`` and evaluates it.
"""
import argparse
import json
import logging
import os
from typing import List

import wsdet  # noqa: F401  (first: its warning filters apply to what Detectron2 imports)

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.engine import launch
from detectron2.utils import comm

from wsdet.data import load_wsdet_coco_json, register_wsdet_coco
from wsdet.engine import WSDetTrainer, load_weights_to_evaluate
from wsdet.engine.self_training import (
    collect_predictions,
    RETRAIN_INIT,
    initial_weights_of_run,
    pseudo_box_quality,
    pseudo_box_quality_by_fraction,
    retrain_config,
    retrain_weights,
    select_pseudo_labels,
    write_pseudo_label_jsons,
)
from wsdet.engine.defaults import (
    add_dataset_arguments,
    build_config,
    launch_argument_parser,
    register_cli_datasets,
    setup,
    training_datasets,
)

logger = logging.getLogger("wsdet.self_train")


def weak_dataset_of(cfg, requested):
    """The weak training dataset to pseudo-label: ``requested``, or the only weak one in DATASETS.TRAIN."""
    if requested:
        return requested
    weak = training_datasets(cfg, "weak")
    if len(weak) != 1:
        raise SystemExit(
            f"cfg.DATASETS.TRAIN holds {len(weak)} weak datasets {weak}: "
            "name one with --pseudo-label-dataset"
        )
    return weak[0]


def main(args):
    if args.audit_fractions and not args.truth_json:
        raise SystemExit("--audit-fractions scores pseudo boxes against known boxes: give --truth-json too")
    if args.truth_json and not os.path.isfile(args.truth_json):  # before the model runs over the weak set
        raise SystemExit(f"--truth-json {args.truth_json}: no such file")
    register_cli_datasets(args)
    trained = build_config(args.config_file, args.opts).MODEL.WEIGHTS
    if not trained and not args.allow_untrained:
        raise SystemExit("MODEL.WEIGHTS is empty: give the trained model that makes the pseudo-labels")
    output_dir = os.path.realpath(args.output_dir)
    if os.path.isfile(trained) and output_dir == os.path.dirname(os.path.realpath(trained)):
        raise SystemExit(
            f"--output-dir {args.output_dir} is the folder of the model it reads ({trained}): choose another "
            "folder, so that the original run's files (config.yaml, logs, checkpoints) are kept"
        )
    args.opts = [*args.opts, "OUTPUT_DIR", args.output_dir]
    cfg = setup(args)
    weak_name = weak_dataset_of(cfg, args.pseudo_label_dataset)
    model = WSDetTrainer.build_model(cfg)
    load_weights_to_evaluate(model, cfg, allow_untrained=args.allow_untrained)
    predictions = collect_predictions(model, WSDetTrainer.build_test_loader(cfg, weak_name))

    meta = MetadataCatalog.get(weak_name)
    pseudo_json = os.path.join(args.output_dir, "pseudo_strong.json")
    remaining_json = os.path.join(args.output_dir, "remaining_weak.json")
    if comm.is_main_process():
        pseudo = select_pseudo_labels(DatasetCatalog.get(weak_name), predictions, args.fraction)
        to_dataset_id = {v: k for k, v in meta.thing_dataset_id_to_contiguous_id.items()}
        n_pseudo, n_weak = write_pseudo_label_jsons(
            meta.json_file, pseudo, to_dataset_id, pseudo_json, remaining_json
        )
        logger.info(
            f"Pseudo-labelled {n_pseudo} images of {weak_name} -> {pseudo_json}; "
            f"{n_weak} stay weak -> {remaining_json}"
        )
        if args.truth_json:
            truth = load_wsdet_coco_json(args.truth_json, meta.image_root, supervision="strong")
            quality = pseudo_box_quality(pseudo, truth)
            logger.info(f"Pseudo boxes against {args.truth_json}: {quality}")
            with open(os.path.join(args.output_dir, "pseudo_box_quality.json"), "w") as f:
                json.dump(quality, f, indent=1)
            if args.audit_fractions:
                by_fraction = pseudo_box_quality_by_fraction(
                    DatasetCatalog.get(weak_name), predictions, truth, args.audit_fractions
                )
                for fraction, q in by_fraction.items():
                    logger.info(f"fraction {fraction}: {q['images']} pseudo boxes, IoU >= 0.5 for "
                                f"{q['iou_at_least_0.5']:.1%} of the audited, mean IoU {q['mean_iou']:.3f}")
                with open(os.path.join(args.output_dir, "pseudo_box_quality_by_fraction.json"), "w") as f:
                    json.dump(by_fraction, f, indent=1)
    comm.synchronize()
    if not args.retrain:
        return None
    if not _has_images(pseudo_json):
        raise SystemExit(
            f"no image of {weak_name} qualified for pseudo-labelling (the predicted class never agreed "
            "with the image label or no detection of that class exists): nothing to retrain on"
        )
    register_wsdet_coco("self_train_pseudo", pseudo_json, meta.image_root, supervision="strong")
    register_wsdet_coco("self_train_weak", remaining_json, meta.image_root, supervision="weak")
    initial, source = initial_weights_of_run(cfg.MODEL.WEIGHTS, args.config_file)
    weights = retrain_weights(args.retrain_init, initial, cfg.MODEL.WEIGHTS)
    logger.info(f"Retraining from {weights or 'a random initialization'} (--retrain-init {args.retrain_init}; "
                f"the original run started from {initial or 'a random initialization'}, read from {source})")
    mil_dataset = "self_train_weak" if args.mil_images == "remaining" else weak_name
    logger.info(f"The retraining's MIL loss sees {mil_dataset} (--mil-images {args.mil_images})")
    cfg = retrain_config(cfg, weak_name, "self_train_pseudo", mil_dataset, args.output_dir, weights)
    trainer = WSDetTrainer(cfg)
    trainer.resume_or_load(resume=False)
    return trainer.train()


def _has_images(json_file):
    with open(json_file) as f:
        return bool(json.load(f)["images"])


def _fractions(text: str) -> List[float]:
    """Comma-separated fractions (one argument, so that the config overrides after it stay apart)."""
    try:
        return [float(f) for f in text.split(",") if f.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0.25,0.5, got {text!r}")


def build_parser():
    parser = launch_argument_parser(__doc__.split("\n\n")[0], "\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--fraction", type=float, default=0.5,
                        help="fraction of the weak lesion images to pseudo-label (default: 0.5; paper: 0.5, 0.75)")
    parser.add_argument("--pseudo-label-dataset", default="",
                        help="weak dataset to pseudo-label (default: the weak one in DATASETS.TRAIN)")
    add_dataset_arguments(parser)
    parser.add_argument("--output-dir", required=True, help="where the JSON files (and retrain/) go")
    parser.add_argument("--retrain", action="store_true", help="retrain with the pseudo labels")
    parser.add_argument("--allow-untrained", action="store_true",
                        help="pseudo-label even with weights that fit none of the model's parameters")
    parser.add_argument("--truth-json", default="", metavar="JSON",
                        help="known boxes of (some of) the weak images, e.g. the synthetic data's "
                        "weak_train_truth.json: the pseudo boxes are scored against them (pseudo_box_quality.json)")
    parser.add_argument("--audit-fractions", type=_fractions, default=[], metavar="F,F,...",
                        help="with --truth-json, also score the pseudo boxes that each of these fractions would "
                        "select (pseudo_box_quality_by_fraction.json), e.g. 0.1,0.25,0.5,0.75")
    parser.add_argument(
        "--retrain-init", choices=RETRAIN_INIT, default="config",
        help="what the retraining starts from: 'config', the original run's initial weights (MODEL.WEIGHTS "
        "of the config.yaml saved beside the model, else of --config-file; default, as in the paper), "
        "'model', the model that made the pseudo-labels, or 'none' (random initialization)",
    )
    parser.add_argument(
        "--mil-images", choices=("remaining", "all"), default="all",
        help="the labelled images the retraining's MIL loss sees (configs that train on them): 'all', the "
        "pseudo-labelled ones too, which are then both box images and labelled images (default: the better "
        "of the two on 2 seeds, docs/BENCHMARKS.md), or 'remaining', those not pseudo-labelled",
    )
    return parser


if __name__ == "__main__":
    args = build_parser().parse_args()
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))
