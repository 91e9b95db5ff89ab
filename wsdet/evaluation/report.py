"""What an evaluation reports beside the metrics themselves: DeLong intervals of the AUCs, the confusion
matrix of the image-level decision, readable tables for the log, and JSON without NaN literals.
(Which metric groups apply is the rule of :mod:`.suite`.)"""

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from tabulate import tabulate

from .gt_io import GroundTruth
from .intervals import delong_ci

__all__ = ["add_auc_intervals", "decision_confusion", "format_tables", "json_safe"]


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


def add_auc_intervals(details: Dict[str, Any], gt: GroundTruth, probs: Optional[np.ndarray]) -> Dict[str, Any]:
    """The details with the DeLong 95% CI (``auc_ci95``) of every AUC; ``probs`` (N, K) are the image
    probabilities on ``gt``'s images (None without classification)."""
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


_CORLOC_NAMES = {
    "official": "official (any det. >= score thresh.)",
    "top1": "top-1 of the class",
    "top1_any_class": "top-1 of the image",
}


def _corloc_tables(res: Dict[str, Any], class_names: Sequence[str]) -> List[str]:
    definitions = [d for d in _CORLOC_NAMES if d in res]
    rows = [
        [_CORLOC_NAMES[d], _num(res[d]["corloc"]), _ci(res[d]["ci95"]), _ci(res[d].get("exact_ci95")),
         res[d]["num_images"]]
        for d in definitions
    ]
    overall = _table(rows, ["CorLoc", "value", "bootstrap 95% CI", "exact 95% CI", "lesion images"])
    per_class = _table(
        [
            [name, *(f"{_num(res[d]['per_class'][name]['corloc'])} {_ci(res[d]['per_class'][name].get('exact_ci95'))}"
                     for d in definitions), res["official"]["per_class"][name]["num_images"]]
            for name in class_names
        ],
        ["class", *(f"{_CORLOC_NAMES[d].split(' (')[0]} [exact 95% CI]" for d in definitions), "lesion images"],
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

