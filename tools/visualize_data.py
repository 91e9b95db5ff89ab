#!/usr/bin/env python
"""Browse registered datasets: each image with its boxes, background boxes, image labels and supervision,
as stored or as the training data loader hands it to the model (after augmentation), and a table of
what each dataset holds. Use it to check a converted dataset (BUSI, ChestX-ray14, your own) before
training.

Outputs (--output-dir), per dataset:
    <dataset>/<image>.png   each image: ground-truth boxes (green, class below), background boxes (grey),
                            title: file, supervision (strong / weak) and image labels ("normal": none)
    <dataset>_grid.png      a grid of up to --grid images, taken in turn from each label group
and the table of images / boxes per (supervision, labels) group, printed and in <dataset>_summary.md.

Examples:
    python tools/visualize_data.py --dataset-name bus_synth_strong_train bus_synth_weak_train \\
        --output-dir data_check/
    python tools/visualize_data.py --dataset busi_strong busi/strong.json busi/images \\
        --dataset-name busi_strong --output-dir data_check/ --num-images 20
    python tools/visualize_data.py --source dataloader --config-file configs/bus_joint_paper.yaml \\
        --dataset-name bus_synth_weak_train --output-dir data_check/augmented/ --num-images 8
"""
import wsdet  # noqa: F401  (first: silences known third-party warnings before Detectron2 loads)
import argparse
import itertools
import logging
import os
import re
from typing import Dict, List, Optional, Sequence

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.utils.logger import setup_logger

from wsdet.data import WSDetDatasetMapper
from wsdet.data.image_io import read_image
from wsdet.data.summary import dataset_summary, label_group
from wsdet.engine.defaults import add_config_overrides, add_dataset_arguments, build_config, register_cli_datasets
from wsdet.visualization import save_grid
from wsdet.visualization.dataset import draw_mapped, draw_record

logger = logging.getLogger("wsdet.visualize_data")
TILE = 320  # pixels of each grid tile


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset-name", nargs="+", required=True, help="registered datasets to browse")
    parser.add_argument("--output-dir", required=True, help="folder for the PNG files and summaries")
    parser.add_argument(
        "--source",
        choices=("annotation", "dataloader"),
        default="annotation",
        help="draw the stored records, or the training mapper's output (needs --config-file) "
        "(default: %(default)s)",
    )
    parser.add_argument("--config-file", metavar="FILE", help="config of the training mapper (--source dataloader)")
    parser.add_argument("--num-images", type=int, help="images drawn per dataset (default: all)")
    parser.add_argument("--grid", type=int, default=16, help="images in each grid (default: %(default)s)")
    add_dataset_arguments(parser)
    add_config_overrides(parser, "config overrides (--source dataloader)")
    return parser


def interleaved(dicts: Sequence[Dict], class_names: Sequence[str]) -> List[int]:
    """Indices of the records taken in turn from each (supervision, image labels) group."""
    groups: Dict[tuple, List[int]] = {}
    for i, record in enumerate(dicts):
        groups.setdefault((record.get("supervision"), label_group(record, class_names)), []).append(i)
    order = itertools.chain.from_iterable(itertools.zip_longest(*(groups[k] for k in sorted(groups))))
    return [i for i in order if i is not None]


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    setup_logger(name="wsdet")
    register_cli_datasets(args)
    mapper, input_format = None, "RGB"
    if args.source == "dataloader":
        if not args.config_file:
            raise SystemExit("--source dataloader needs --config-file (its INPUT and WSDET.AUGMENT options)")
        cfg = build_config(args.config_file, args.opts)
        mapper, input_format = WSDetDatasetMapper(cfg, is_train=True), cfg.INPUT.FORMAT
    for name in args.dataset_name:
        dicts = DatasetCatalog.get(name)
        class_names = list(MetadataCatalog.get(name).thing_classes)
        summary = dataset_summary(dicts, class_names)
        print(f"\n{name}: {len(dicts)} images\n{summary}")
        os.makedirs(os.path.join(args.output_dir, name), exist_ok=True)
        with open(os.path.join(args.output_dir, f"{name}_summary.md"), "w") as f:
            f.write(summary + "\n")
        order = interleaved(dicts, class_names)[: args.num_images]
        grid, grid_titles = [], []
        for i in order:
            record = dicts[i]
            if mapper is None:
                image = read_image(record["file_name"], "RGB")
                draw = lambda **options: draw_record(image, record, class_names, **options)  # noqa: E731
            else:
                mapped = mapper(record)
                draw = lambda **options: draw_mapped(mapped, class_names, input_format, **options)  # noqa: E731
            overlay, title = draw()
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.splitext(os.path.basename(record["file_name"]))[0])
            path = os.path.join(args.output_dir, name, f"{record['image_id']}_{stem}.png")
            save_grid(path, [overlay], [title], tile_size=max(overlay.shape[:2]))
            if len(grid) < args.grid:
                grid.append(draw(display_size=TILE)[0])
                grid_titles.append(title)
        if grid:
            save_grid(os.path.join(args.output_dir, f"{name}_grid.png"), grid, grid_titles, tile_size=TILE)
        logger.info("%s: %d images drawn into %s", name, len(order), os.path.join(args.output_dir, name))


if __name__ == "__main__":
    main()
