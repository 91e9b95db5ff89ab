"""What an evaluation reports, beside the metrics themselves: which metric groups apply, the exact and
DeLong intervals, readable tables for the log, and JSON without NaN literals.

Metric groups (the rule): ``classification`` when the model gives ``image_probs``; ``corloc`` (with
the false positives per normal image) and ``froc`` when it gives boxes and the test set has
box-annotated images; ``cxr_localization`` (IoBB accuracy, the ChestX-ray14 protocol) only on
multi-label test sets (an image may hold several findings), so a normal / benign / malignant detector
never reports it; ``heatmap`` only for models that give heatmaps.
"""

import math
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from tabulate import tabulate

from .gt_io import GroundTruth
from .intervals import clopper_pearson, delong_ci

__all__ = [
    "add_intervals",
    "applicable_groups",
    "decision_confusion",
    "format_tables",
    "is_single_label",
    "json_safe",
]


def is_single_label(gt: GroundTruth, single_label=None) -> bool:
    """The setting, else whether no image of the test set holds two classes."""
    if single_label is not None:
        return bool(single_label)
    return bool(gt.labels.sum(axis=1).max(initial=0) <= 1)


def applicable_groups(details: Dict[str, Any], single_label: bool) -> Dict[str, Any]:
    """The metric groups of :func:`.suite.evaluate_records` that apply (see the module doc)."""
    return {k: v for k, v in details.items() if not (k == "cxr_localization" and single_label)}


def decision_confusion(
    probs: np.ndarray, labels: np.ndarray, class_names: Sequence[str], single_label: bool, threshold: float = 0.5
) -> Tuple[np.ndarray, List[str]]:
    """
    Confusion matrix ``[truth, decision]`` of the image-level decision, and its class names. Single-label
    data: normal or one class, the most probable of (1 - sum(probs), probs); multi-label data: normal
    or abnormal, abnormal when any class probability reaches ``threshold``.
    """
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels, dtype=bool)
    if single_label:
        names = ["normal", *class_names]
        truth = np.where(labels.any(axis=1), labels.argmax(axis=1) + 1, 0)
        decision = np.concatenate([1.0 - probs.sum(axis=1, keepdims=True), probs], axis=1).argmax(axis=1)
    else:
        names = ["normal", "abnormal"]
        truth, decision = labels.any(axis=1).astype(int), (probs >= threshold).any(axis=1).astype(int)
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(matrix, (truth, decision), 1)
    return matrix, names


def _exact(result: Dict[str, Any], pairs: int) -> None:
    """Add the Clopper-Pearson CI of a CorLoc over ``pairs`` (image, class) pairs (``corloc`` = k / n)."""
    value = result["corloc"]
    successes = round(value * pairs) if pairs and math.isfinite(value) else 0
    result["exact_ci95"] = list(clopper_pearson(successes, pairs))


def add_intervals(details: Dict[str, Any], gt: GroundTruth, probs: np.ndarray) -> Dict[str, Any]:
    """
    The details with exact CIs of every CorLoc (``exact_ci95``, Clopper-Pearson over the (image,
    class) pairs with a lesion) and DeLong CIs of every AUC (``auc_ci95``); ``probs`` (N, K) are the
    image probabilities on ``gt``'s images (None without classification).
    """
    if "corloc" in details:
        for definition in ("official", "top1"):
            result = details["corloc"][definition]
            per_class = result["per_class"].values()
            for class_result in per_class:  # one pair per image with a lesion of the class
                _exact(class_result, class_result["num_images"])
            _exact(result, sum(c["num_images"] for c in per_class))
    if "classification" in details and probs is not None:
        report = details["classification"]
        for c, result in enumerate(report["per_class"].values()):
            result["auc_ci95"] = list(delong_ci(probs[:, c], gt.labels[:, c]))
        if "abnormal" in report:
            report["abnormal"]["auc_ci95"] = list(delong_ci(probs.sum(axis=1), gt.labels.any(axis=1)))
    return details


def json_safe(value: Any) -> Any:
    """``value`` with numpy types as Python ones and NaN / infinities as None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _num(value: Any, digits: int = 3) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _ci(bounds: Sequence[float]) -> str:
    return f"[{_num(bounds[0])}, {_num(bounds[1])}]" if bounds is not None else "–"


def _table(rows: List[List[Any]], headers: Sequence[str], names: int = 1) -> str:
    """A Markdown table whose first ``names`` columns are left-aligned, the numbers right-aligned."""
    align = ("left",) * names + ("right",) * (len(headers) - names)
    return tabulate(rows, headers=headers, tablefmt="pipe", colalign=align, disable_numparse=True)


def _corloc_tables(res: Dict[str, Any], class_names: Sequence[str]) -> List[str]:
    names = {"official": "official (any det. >= score thresh.)", "top1": "top-1"}
    rows = [
        [names[d], _num(res[d]["corloc"]), _ci(res[d]["ci95"]), _ci(res[d].get("exact_ci95")), res[d]["num_images"]]
        for d in ("official", "top1")
    ]
    overall = _table(rows, ["CorLoc", "value", "bootstrap 95% CI", "exact 95% CI", "lesion images"])
    per_class = _table(
        [
            [name, *(f"{_num(res[d]['per_class'][name]['corloc'])} {_ci(res[d]['per_class'][name].get('exact_ci95'))}"
                     for d in ("official", "top1")), res["official"]["per_class"][name]["num_images"]]
            for name in class_names
        ],
        ["class", "official [exact 95% CI]", "top-1 [exact 95% CI]", "lesion images"],
    )
    normal = res["num_normal_images"]
    fp = f"False positives per normal image: {_num(res['fp_per_normal_image'], 2)} ({normal} normal image"
    fp += ")" if normal == 1 else "s)"
    return [f"CorLoc:\n{overall}", f"CorLoc per class:\n{per_class}", fp]


def _froc_table(res: Dict[str, Any]) -> str:
    labels = [f"1/{round(1 / f)}" if f < 1 else f"{f:g}" for f in res["fp_rates"]]
    row = [[_num(s) for s in res["sensitivity"]] + [_num(res["mean_sensitivity"])]]
    title = f"FROC sensitivity ({res['num_lesions']} lesions on {res['num_images']} images) at FP per image:"
    return f"{title}\n{_table(row, [*labels, 'mean'], names=0)}"


def _classification_table(res: Dict[str, Any], class_names: Sequence[str]) -> str:
    def row(name: str, m: Dict[str, Any]) -> List[Any]:
        return [name, _num(m["auc"]), _ci(m.get("auc_ci95")), _num(m["accuracy"]), _num(m["sensitivity"]),
                _num(m["specificity"]), m["num_positive"], m["num_negative"]]

    rows = [row(name, res["per_class"][name]) for name in class_names]
    if "abnormal" in res:
        rows.append(row("abnormal vs normal", res["abnormal"]))
    headers = ["class", "AUC", "DeLong 95% CI", "accuracy", "sensitivity", "specificity", "positives", "negatives"]
    text = f"Image-level classification:\n{_table(rows, headers)}"
    if "accuracy" in res:
        text += f"\n{len(class_names) + 1}-way accuracy (normal or one class): {_num(res['accuracy'])}"
    return text


def _cxr_table(res: Dict[str, Any]) -> str:
    rows = [[f"{t:g}", _num(a), _num(f, 2)] for t, a, f in zip(res["iobb_thresholds"], res["accuracy"], res["afp"])]
    return "Localization accuracy at IoBB > T (ChestX-ray14):\n" + _table(rows, ["T", "accuracy", "avg. FP"])


def _heatmap_table(res: Dict[str, Any], class_names: Sequence[str]) -> str:
    def row(name: str, m: Dict[str, Any]) -> List[Any]:
        return [name, _num(m["maxboxacc"]["maxboxaccv2"]), _num(m["pxap"]), _num(m["pointing_game"]),
                _num(m.get("stl_ap", res["stl_ap"])), m["num_samples"]]

    rows = [row("all", res)] + [row(name, res["per_class"][name]) for name in class_names]
    text = "Heatmaps:\n" + _table(rows, ["class", "MaxBoxAccV2", "PxAP", "pointing game", "STL AP", "samples"])
    if "infomask" in res:
        m = res["infomask"]
        text += f"\nIoP {_num(m['iop'])}, pixel FPR {_num(m['fpr'])}, pixel FNR {_num(m['fnr'])}"
    return text


def format_tables(details: Dict[str, Any], class_names: Sequence[str]) -> str:
    """Every metric group of ``details`` as tables (Markdown pipes), for the log."""
    parts: List[str] = []
    if "corloc" in details:
        parts += _corloc_tables(details["corloc"], class_names)
    if "froc" in details:
        parts.append(_froc_table(details["froc"]))
    if "classification" in details:
        parts.append(_classification_table(details["classification"], class_names))
    if "cxr_localization" in details:
        parts.append(_cxr_table(details["cxr_localization"]))
    if "heatmap" in details:
        parts.append(_heatmap_table(details["heatmap"], class_names))
    return "\n\n".join(parts)

