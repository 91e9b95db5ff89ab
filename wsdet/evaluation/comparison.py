"""Two models on the same test images: CorLoc, FROC and AUC of each with CIs, and paired bootstrap
p-values of their differences (images resampled jointly)."""
from typing import Any, Dict, Optional, Sequence

import numpy as np
from tabulate import tabulate

from .corloc import DEFINITIONS, corloc_outcomes, corloc_pvalue, corloc_report
from .curves import roc_auc
from .froc import froc
from .froc_bootstrap import froc_pvalue
from .gt_io import GroundTruth
from .intervals import auc_pvalue, delong_ci
from .report import json_safe
from .suite import EvalSettings, single_label
from .tables import BoxTable

__all__ = ["compare_models", "format_comparison"]


def _on_rows(dets: BoxTable, rows: np.ndarray, num_images: int) -> BoxTable:
    """The detections on the images ``rows``, renumbered as ``GroundTruth.select(rows)`` does."""
    index = np.full(num_images, -1)
    index[rows] = np.arange(len(rows))
    kept = dets.select(index[dets.image] >= 0)
    return BoxTable(index[kept.image], kept.boxes, kept.classes, kept.scores)


def _auc_problems(gt: GroundTruth, class_names: Sequence[str]) -> Dict[str, tuple]:
    """name -> (labels, probs -> scores) of each binary problem: every class, and abnormal vs normal
    on single-label data."""
    problems = {name: (gt.labels[:, c], lambda p, c=c: p[:, c]) for c, name in enumerate(class_names)}
    if single_label(gt):
        problems["abnormal vs normal"] = (gt.labels.any(axis=1), lambda p: p.sum(axis=1))
    return problems


def compare_models(
    gt: GroundTruth,
    class_names: Sequence[str],
    detections: Dict[str, BoxTable],
    probs: Dict[str, Optional[np.ndarray]],
    settings: EvalSettings = EvalSettings(),
) -> Dict[str, Any]:
    """
    Compare two models (the two keys of ``detections``) on the test images of ``gt``.

    Box metrics use the box-annotated images (with boxes, or normal); AUCs all images, when both
    models have image probabilities (``probs[name]``, (N, K) on ``gt``'s images, or None).
    """
    a, b = detections
    s = settings
    rows = np.flatnonzero(gt.box_evaluable())
    box_gt, n = gt.select(rows), len(rows)
    dets = {m: _on_rows(d, rows, len(gt.image_ids)) for m, d in detections.items()}
    out: Dict[str, Any] = {"num_images": n, "models": {}, "paired_pvalue": {}}
    options = {"score_thresh": s.score_thresh, "iou_thresh": s.iou_thresh}
    for m in (a, b):
        out["models"][m] = {
            "corloc": corloc_report(box_gt.boxes, dets[m], n, class_names, box_gt.normal,
                                    n_resamples=s.n_resamples, seed=s.seed, **options),
            "froc": {k: v for k, v in froc(box_gt.boxes, dets[m], n, iou_thresh=s.iou_thresh,
                                           criterion=s.froc_criterion).items() if k != "curve"},
        }
    for definition in DEFINITIONS:
        (correct_a, has_gt), (correct_b, _) = (
            corloc_outcomes(box_gt.boxes, dets[m], n, len(class_names), definition, **options) for m in (a, b)
        )
        out["paired_pvalue"][f"corloc_{definition}"] = corloc_pvalue(
            correct_a, correct_b, has_gt, n_resamples=s.n_resamples, seed=s.seed
        )
    out["paired_pvalue"]["froc_mean_sensitivity"] = froc_pvalue(
        box_gt.boxes, dets[a], dets[b], n, n_resamples=s.n_resamples, seed=s.seed,
        iou_thresh=s.iou_thresh, criterion=s.froc_criterion,
    )
    if probs.get(a) is not None and probs.get(b) is not None:
        for name, (labels, scores) in _auc_problems(gt, class_names).items():
            for m in (a, b):
                model_scores = scores(probs[m])
                out["models"][m].setdefault("auc", {})[name] = {
                    "auc": roc_auc(model_scores, labels),
                    "ci95": list(delong_ci(model_scores, labels)),
                }
            out["paired_pvalue"][f"auc {name}"] = auc_pvalue(
                scores(probs[a]), scores(probs[b]), labels, n_resamples=s.n_resamples, seed=s.seed
            )
    return json_safe(out)


def _value(value: Optional[float], ci: Optional[Sequence[Optional[float]]] = None, digits: int = 3) -> str:
    """``value [low, high]``, "–" for a missing number."""
    def number(x: Optional[float], d: int = digits) -> str:
        return "–" if x is None else f"{x:.{d}f}"

    return number(value) + ("" if ci is None else f" [{number(ci[0], 3)}, {number(ci[1], 3)}]")


def format_comparison(result: Dict[str, Any]) -> str:
    """The comparison as a table: one row per metric, each model's value [95% CI] and the p-value."""
    a, b = result["models"]
    ma, mb = result["models"][a], result["models"][b]
    p = result["paired_pvalue"]
    rows = []
    labels = {
        "official": "CorLoc official",
        "top1": "CorLoc top-1 of the class",
        "top1_any_class": "CorLoc top-1 of the image",
    }
    for definition, label in labels.items():
        rows.append([label, *(_value(m["corloc"][definition]["corloc"], m["corloc"][definition]["ci95"])
                              for m in (ma, mb)), _value(p[f"corloc_{definition}"], digits=4)])
    rows.append(["FP per normal image", _value(ma["corloc"]["fp_per_normal_image"], digits=2),
                 _value(mb["corloc"]["fp_per_normal_image"], digits=2), ""])
    rows.append(["FROC mean sensitivity", *(_value(m["froc"]["mean_sensitivity"]) for m in (ma, mb)),
                 _value(p["froc_mean_sensitivity"], digits=4)])
    for name in ma.get("auc", {}):
        rows.append([f"AUC {name}", *(_value(m["auc"][name]["auc"], m["auc"][name]["ci95"]) for m in (ma, mb)),
                     _value(p[f"auc {name}"], digits=4)])
    table = tabulate(rows, headers=["metric", a, b, "paired p"], tablefmt="pipe", disable_numparse=True,
                     colalign=("left", "right", "right", "right"))
    note = "" if "auc" in ma else "\n(no AUC: a results folder has no image_probs.json)"
    return (f"{result['num_images']} box-annotated or normal images; 95% CIs: bootstrap (CorLoc), DeLong (AUC); "
            f"p: paired bootstrap\n{table}{note}")
