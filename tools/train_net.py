#!/usr/bin/env python
"""Train and evaluate wsdet models with Detectron2's trainer and ``launch``.

Examples:
    python tools/train_net.py --config-file configs/bus_joint.yaml
    python tools/train_net.py --config-file configs/bus_joint.yaml --num-gpus 8
    python tools/train_net.py --config-file configs/bus_joint.yaml --resume
    python tools/train_net.py --config-file configs/bus_joint.yaml --eval-only MODEL.WEIGHTS model.pth
    python tools/train_net.py --config-file configs/bus_joint.yaml \
        --dataset my_strong my/strong.json my/images --weak-dataset my_weak my/weak.json my/images \
        DATASETS.TRAIN "('my_strong','my_weak')"

Without a GPU, ``--num-gpus N`` starts N CPU processes that synchronize through gloo.
"""
from detectron2.engine import default_argument_parser, launch
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from wsdet.engine import WSDetTrainer, load_weights_to_evaluate
from wsdet.engine.defaults import add_dataset_arguments, register_cli_datasets, setup


def main(args):
    register_cli_datasets(args)
    cfg = setup(args)
    setup_logger(cfg.OUTPUT_DIR, distributed_rank=comm.get_rank(), name="wsdet")
    if args.eval_only:
        model = WSDetTrainer.build_model(cfg)
        load_weights_to_evaluate(model, cfg, resume=args.resume, allow_untrained=args.allow_untrained)
        return WSDetTrainer.test(cfg, model)
    trainer = WSDetTrainer(cfg)
    trainer.resume_or_load(resume=args.resume)
    return trainer.train()


def build_parser():
    parser = default_argument_parser()
    add_dataset_arguments(parser)
    parser.add_argument(
        "--allow-untrained",
        action="store_true",
        help="with --eval-only: evaluate even when no weights were loaded or none fits the model "
        "(e.g. an untrained baseline); without it such a run stops with an error",
    )
    return parser


if __name__ == "__main__":
    args = build_parser().parse_args()
    print("Command Line Args:", args)
    launch(
        main,
        args.num_gpus,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
