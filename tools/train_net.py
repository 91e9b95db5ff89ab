#!/usr/bin/env python
"""Train and evaluate wsdet models with Detectron2's trainer and ``launch``."""
import wsdet  # noqa: F401  (first: silences known third-party warnings before Detectron2 loads)
from detectron2.engine import default_argument_parser, launch
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

from wsdet.engine import WSDetTrainer, load_weights_to_evaluate
from wsdet.engine.defaults import add_dataset_arguments, register_cli_datasets, setup

EXAMPLES = """
Results land in OUTPUT_DIR (set by each config, e.g. output/bus_joint): log.txt, checkpoints,
metrics.json, TensorBoard events (tensorboard --logdir OUTPUT_DIR), and per test set
inference/<dataset>/ with results.json, the metric details and the evaluation figures.

Examples:
  train the joint strong/weak MIL detector on the synthetic ultrasound data (2-core CPU: ~10 min)
    python tools/train_net.py --config-file configs/bus_joint.yaml
  evaluate a trained model
    python tools/train_net.py --config-file configs/bus_joint.yaml --eval-only \\
        MODEL.WEIGHTS output/bus_joint/model_final.pth
  continue an interrupted run from OUTPUT_DIR/last_checkpoint
    python tools/train_net.py --config-file configs/bus_joint.yaml --resume
  your own data: --dataset NAME JSON IMAGE_ROOT registers a COCO JSON with image-level labels
  before the config is read, so DATASETS.TRAIN / DATASETS.TEST can name it
    python tools/train_net.py --config-file configs/bus_joint.yaml \\
        --strong-dataset my_strong my/strong.json my/images \\
        --weak-dataset my_weak my/weak.json my/images --dataset my_test my/test.json my/images \\
        DATASETS.TRAIN "('my_strong','my_weak')" DATASETS.TEST "('my_test',)" OUTPUT_DIR output/mine
  a CAM classifier trained from image labels only
    python tools/train_net.py --config-file configs/cxr_pcam.yaml
  2 processes: GPUs, or CPU processes through gloo when no GPU is visible (the images per step
  of the config must divide by the number of processes)
    python tools/train_net.py --config-file configs/bus_joint.yaml --num-gpus 2
  2 machines (run on each, RANK 0 on the machine at IP)
    python tools/train_net.py --config-file configs/bus_joint_paper.yaml --num-gpus 8 \\
        --num-machines 2 --machine-rank RANK --dist-url tcp://IP:PORT
"""


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
    parser = default_argument_parser(epilog=EXAMPLES)
    parser.description = __doc__
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
