"""Detectron2's view of the detailed results: ``{task: {metric: float}}``, per-class metrics "metric-class".

Detectron2 prints every task's metrics whose name has no "-" (``print_csv_format``) and its EvalHook
needs floats, so curves, CIs and counts stay in the detailed results (saved as JSON).
"""

import json
import os
from collections import OrderedDict
from typing import Any, Dict, Mapping, Sequence

from detectron2.utils.file_io import PathManager

from .corloc import DEFINITIONS

Flat = Dict[str, float]


def _classification(res: Dict[str, Any], names: Sequence[str]) -> Flat:
    task = {k: res[k] for k in ("mean_auc", "mean_accuracy", "mean_sensitivity", "mean_specificity")}
    if "accuracy" in res:  # single-label data
        task["accuracy"] = res["accuracy"]
        task.update({f"abnormal_{k}": res["abnormal"][k] for k in ("auc", "sensitivity", "specificity")})
    task.update({f"auc-{n}": res["per_class"][n]["auc"] for n in names})
    return task


def _corloc(res: Dict[str, Any], names: Sequence[str]) -> Flat:
    task: Flat = {}
    for definition in DEFINITIONS:
        task[definition] = res[definition]["corloc"]
        task[f"{definition}_ci_low"], task[f"{definition}_ci_high"] = res[definition]["ci95"]
    task["fp_per_normal_image"] = res["fp_per_normal_image"]
    for definition in DEFINITIONS:
        task.update({f"{definition}-{n}": res[definition]["per_class"][n]["corloc"] for n in names})
    return task


def _froc(res: Dict[str, Any], names: Sequence[str]) -> Flat:
    task = {f"sens@{f:g}": s for f, s in zip(res["fp_rates"], res["sensitivity"])}
    task["mean_sensitivity"] = res["mean_sensitivity"]
    return task


def _cxr_localization(res: Dict[str, Any], names: Sequence[str]) -> Flat:
    task = {f"acc@iobb{t:g}": a for t, a in zip(res["iobb_thresholds"], res["accuracy"])}
    task.update({f"afp@iobb{t:g}": a for t, a in zip(res["iobb_thresholds"], res["afp"])})
    return task


def _heatmap(res: Dict[str, Any], names: Sequence[str]) -> Flat:
    task = {
        "maxboxaccv2": res["maxboxacc"]["maxboxaccv2"],
        "pxap": res["pxap"],
        "pointing_game": res["pointing_game"],
        "stl_ap": res["stl_ap"],
        "pixel_threshold_chosen_here": res["pixel_threshold_chosen_here"],
    }
    if "infomask" in res:
        task.update(
            iop=res["infomask"]["iop"], pixel_fpr=res["infomask"]["fpr"], pixel_fnr=res["infomask"]["fnr"]
        )
    for n in names:
        task[f"maxboxaccv2-{n}"] = res["per_class"][n]["maxboxacc"]["maxboxaccv2"]
        task[f"stl_ap-{n}"] = res["per_class"][n]["stl_ap"]
    return task


_TASKS = {
    "classification": _classification,
    "corloc": _corloc,
    "froc": _froc,
    "cxr_localization": _cxr_localization,
    "heatmap": _heatmap,
}


def flatten_results(results: Dict[str, Any], class_names: Sequence[str]) -> "OrderedDict[str, Flat]":
    """``{task: {metric: float}}`` of the detailed results of :func:`.suite.evaluate_records`."""
    return OrderedDict(
        (task, flatten(results[task], class_names)) for task, flatten in _TASKS.items() if task in results
    )


def save_results_json(results: Mapping[str, Mapping[str, float]], path: str) -> None:
    """Write Detectron2-style ``{task: {metric: value}}`` results (e.g. COCO ``bbox`` AP) as JSON."""
    PathManager.mkdirs(os.path.dirname(path))
    plain = {task: dict(metrics) for task, metrics in results.items()}
    with PathManager.open(path, "w") as f:
        json.dump(plain, f, indent=2, default=float)  # numpy / torch scalars as floats
