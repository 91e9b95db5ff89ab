#!/usr/bin/env python
r"""Convert a public dataset's own layout to wsdet COCO JSON (COCO + ``pos_category_ids``).

``file_name`` entries are relative to ``--input``: register the outputs with that folder as image root.
``--output-json`` gets the box-annotated (strong) images, ``--weak-output-json`` the image-label-only
(weak) ones. A summary of what was written, warned about and skipped (and why) ends every run.

Examples:
    python tools/convert_dataset.py busi --input Dataset_BUSI_with_GT --output-json busi_strong.json \
        --weak-output-json busi_weak.json --weak-fraction 0.8 --seed 0 --min-area 20
    python tools/convert_dataset.py chestxray14 --input ChestX-ray14 --output-json cxr14_boxes.json \
        --weak-output-json cxr14_trainval.json --split-list ChestX-ray14/train_val_list.txt
    python tools/convert_dataset.py udiat --input DatasetB --labels DatasetB/DatasetB.csv \
        --output-json udiat.json
"""
import argparse
import logging
import sys
from typing import Optional, Sequence

from wsdet.data.converters import (
    Conversion,
    ConversionError,
    convert_busi,
    convert_chestxray14,
    convert_udiat,
    split_weak,
    write_conversion,
)


def _mask_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--box-per", choices=("mask", "component"), default="mask",
        help="one box per mask file (default: each file outlines one lesion) or per connected component",
    )
    parser.add_argument(
        "--min-area", type=int, default=0,
        help="ignore mask components with fewer pixels (each ignored one is reported)",
    )
    parser.add_argument(
        "--weak-fraction", type=float, default=0.0,
        help="move this fraction of the box images (per class, seeded) to the weak file, boxes dropped",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the --weak-fraction draw")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="dataset", required=True)
    busi = sub.add_parser("busi", help="BUSI (Dataset_BUSI_with_GT: benign/, malignant/, normal/)")
    chest = sub.add_parser("chestxray14", help="NIH ChestX-ray14 (Data_Entry_2017.csv, BBox_List_2017.csv)")
    udiat = sub.add_parser("udiat", help="UDIAT Dataset B (original/, GT/, label table)")
    for p in (busi, chest, udiat):
        p.add_argument("--input", required=True, help="the dataset folder (image root of the outputs)")
        p.add_argument("--output-json", required=True, help="box-annotated (strong) COCO JSON to write")
        p.add_argument("--weak-output-json", help="image-label-only (weak) COCO JSON to write")
    _mask_options(busi)
    _mask_options(udiat)
    udiat.add_argument("--labels", help="label table with columns Image,Type (default: DatasetB.csv/.xlsx)")
    chest.add_argument("--data-entry-csv", help="default: Data_Entry_2017_v2020.csv or Data_Entry_2017.csv")
    chest.add_argument("--bbox-csv", help="default: BBox_List_2017.csv in --input")
    chest.add_argument("--split-list", help="e.g. train_val_list.txt: only these images go to the weak file")
    chest.add_argument(
        "--scan-images", action="store_true",
        help="find the PNGs anywhere under --input and decode each for its size, reporting unreadable "
        "ones (slower; default: images/, 1024x1024, not read)",
    )
    chest.add_argument(
        "--exclude-box-images", action="store_true", help="keep the boxed images out of the weak file"
    )
    return parser


def convert(args: argparse.Namespace) -> Conversion:
    """Run the chosen converter (and the weak split) on parsed arguments."""
    if args.dataset == "chestxray14":
        return convert_chestxray14(
            args.input, args.data_entry_csv, args.bbox_csv, args.split_list, args.scan_images,
            args.exclude_box_images,
        )
    if args.dataset == "busi":
        conversion = convert_busi(args.input, args.box_per, args.min_area)
    else:
        conversion = convert_udiat(args.input, args.labels, args.box_per, args.min_area)
    if args.weak_fraction > 0:
        conversion = split_weak(conversion, args.weak_fraction, args.seed)
    return conversion


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    fraction = getattr(args, "weak_fraction", 0.0)
    if not 0.0 <= fraction <= 1.0:
        parser.error(f"--weak-fraction must lie in [0, 1], got {fraction}")
    if fraction > 0 and not args.weak_output_json:
        parser.error("--weak-fraction needs --weak-output-json")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        conversion = convert(args)
        write_conversion(conversion, args.output_json, args.weak_output_json)
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(conversion.report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
