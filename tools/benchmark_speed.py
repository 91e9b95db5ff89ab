#!/usr/bin/env python
"""Time training steps, inference and image reading of wsdet's models against their plain baselines.

Sections (--only, repeatable): mil (joint MIL R-CNN vs plain Faster R-CNN, CPU configs), paper (the
same at the paper's scale: R-50 FPN, 600 px, 1 strong + 2 weak images; default on a GPU only), cam (CAM
heads vs GAP), inference (batch-of-1 latency), io (PNG vs DICOM reading), loader (the training loader's
images/s on PNG and DICOM vs the training step's). Models are timed round-robin
and ratios are medians of per-round ratios (wsdet.benchmark.speed). Trailing KEY VALUE config overrides
apply to every model. Prints markdown tables and writes them as JSON (--output).

Examples:
    OMP_NUM_THREADS=1 python tools/benchmark_speed.py --device cpu --only mil
    python tools/benchmark_speed.py --device cuda          # the GPU profile: every section, < 8 min
"""

import argparse
import json
import os
from typing import Any, Dict, Mapping, Optional, Sequence

import torch

from wsdet.benchmark import markdown_table
from wsdet.benchmark.speed import (
    CAM_CASES,
    CAM_TARGET,
    INFERENCE_CASES,
    MEMORY_STEPS,
    MIL_CASES,
    MIL_JOINT,
    MIL_STRONG,
    MIL_TARGET,
    PAPER_CASES,
    SECTIONS,
    compare_image_reading,
    compare_loading,
    compare_inference,
    compare_training,
    machine_info,
    memory_method,
    paired_ratio,
)
from wsdet.engine.defaults import add_config_overrides


def training_table(result: Mapping[str, Any], column: str) -> str:
    """Markdown table of a :func:`compare_training` result, describing each model by its ``column``."""
    reference = result["reference"]
    rows = [
        [name, m[column], f"{m['strong_images']} strong + {m['weak_images']} weak", f"{m['step_s_median']:.3f}",
         f"{m['images_per_s']:.1f}", f"{m['time_ratio']:.3f}", f"{m['cpu_time_ratio']:.3f}",
         f"{m['peak_memory_mib']:.0f}", f"{m['memory_ratio']:.3f}"]
        for name, m in result["models"].items()
    ]
    header = ["model", column.replace("_", " "), "images / step", "step (s, median)", "images / s",
              f"time / {reference}", "CPU time / same", "peak memory (MiB)", f"memory / {reference}"]
    return markdown_table(header, rows, text_columns=3)


def run(args: argparse.Namespace) -> Dict[str, Any]:
    """Measure the selected sections and print their tables; the report as a JSON-ready dict."""
    report: Dict[str, Any] = {
        "machine": machine_info(args.device),
        "settings": {"device": args.device, "steps": args.steps, "warmup": args.warmup, "overrides": args.opts,
                     "memory_steps": MEMORY_STEPS, "memory_method": memory_method(args.device),
                     "ratio": "median over interleaved rounds of the per-round time ratio"},
    }
    print("\n".join(f"- {k}: {v}" for k, v in {**report["machine"], **report["settings"]}.items()))
    common = (args.device, args.opts, args.steps, args.warmup)
    if "mil" in args.only:
        mil = report["mil"] = compare_training(MIL_CASES, *common)
        joint, strong = (mil["models"][c.name]["step_s"] for c in (MIL_JOINT, MIL_STRONG))
        mil["weak_images_time_ratio"] = paired_ratio(joint, strong)
        print(f"\n## Training step: joint MIL vs plain Faster R-CNN (target: MIL / plain <= {MIL_TARGET})\n")
        print(training_table(mil, "meta_architecture"))
        mil["weak_images_cpu_time_ratio"] = paired_ratio(*(mil["models"][c.name]["step_cpu_s"]
                                                           for c in (MIL_JOINT, MIL_STRONG)))
        print(f"\nMIL machinery ({MIL_STRONG.name} / plain): {mil['models'][MIL_STRONG.name]['time_ratio']:.3f}; "
              f"weak images ({MIL_JOINT.name} / {MIL_STRONG.name}): {mil['weak_images_time_ratio']:.3f}")
    if "paper" in args.only:
        report["paper"] = compare_training(PAPER_CASES, *common)
        print("\n## Training step at the paper's scale (R-50 FPN, 600 px, random weights)\n")
        print(training_table(report["paper"], "meta_architecture"))
    if "cam" in args.only:
        report["cam"] = compare_training(CAM_CASES, *common)
        print(f"\n## Training step: CAM heads vs the GAP classifier (target: ratios <= {CAM_TARGET})\n")
        print(training_table(report["cam"], "config"))
    if "inference" in args.only:
        inference = report["inference"] = compare_inference(INFERENCE_CASES, *common)
        print("\n## Inference latency, batch of 1\n")
        rows = [[name, m["config"], f"{m['latency_ms_median']:.1f}"] for name, m in inference["models"].items()]
        print(markdown_table(["model", "config", "latency (ms, median)"], rows, text_columns=2))
    if "io" in args.only:
        io = report["io"] = compare_image_reading(args.io_images, args.io_side, args.steps, args.warmup)
        print(f"\n## read_image: {args.io_images} synthetic {args.io_side}x{args.io_side} grey images\n")
        rows = [[fmt.upper(), f"{io[fmt]['images_per_s']:.0f}", f"{1000 / io[fmt]['images_per_s']:.2f}"]
                for fmt in ("png", "dicom")]
        print(markdown_table(["format", "images / s", "ms / image"], rows))
        print(f"\nDICOM / PNG read time: {io['dicom_time_ratio']:.2f}")
    if "loader" in args.only:
        loading = report["loader"] = compare_loading(args.device, args.opts, args.io_images, args.io_side,
                                                     args.steps, args.warmup)
        print(f"\n## Training loader vs training step ({args.io_images} weak + {args.io_images // 4} box images)\n")
        rows = []
        for fmt in ("png", "dicom"):
            with_workers, without = loading[fmt]["config_workers"], loading[fmt]["no_workers"]
            speeds = f"{with_workers['images_per_s']:.0f} / {without['images_per_s']:.0f}"
            rows.append([fmt.upper(), f"{with_workers['workers']} / 0", speeds])
        print(markdown_table(["format", "workers", "loader images / s"], rows))
        print(f"\ntraining step (joint MIL): {loading['training_images_per_s']:.1f} images / s")
    return report


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options; ``--quick`` caps the steps at 3 and the warm-up at 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"),
                        help="default: cuda when available")
    parser.add_argument("--steps", type=int, default=10, help="timed rounds per section (default: 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per model first (default: 3)")
    parser.add_argument("--quick", action="store_true", help="at most 3 steps and 1 warm-up step")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="a section to run (repeatable; default: all, 'paper' only on a GPU)")
    parser.add_argument("--io-images", type=int, default=64,
                        help="images read per pass (io), weak images of the loader section (default: 64)")
    parser.add_argument("--io-side", type=int, default=256, help="side of the io section's images (default: 256)")
    parser.add_argument("--output", default="output/benchmark_speed.json", help="JSON report (default: %(default)s)")
    add_config_overrides(parser, "config overrides for every model")
    args = parser.parse_args(argv)
    args.only = args.only or [s for s in SECTIONS if s != "paper" or args.device == "cuda"]
    if args.quick:
        args.steps, args.warmup = min(args.steps, 3), min(args.warmup, 1)
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the benchmark and write its JSON report; returns the report."""
    args = parse_args(argv)
    report = run(args)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=1)
    print(f"\nwrote {args.output}")
    return report


if __name__ == "__main__":
    main()
