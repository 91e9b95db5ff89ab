"""Benchmark results as markdown tables (one per data family) and a JSON file."""

import json
import math
from dataclasses import asdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .runner import RunResult

__all__ = ["COLUMNS", "leaderboard_table", "markdown_table", "write_report"]

Metrics = Dict[str, Dict[str, float]]


def _get(metrics: Metrics, task: str, key: str) -> Optional[float]:
    value = metrics.get(task, {}).get(key)
    return None if value is None or math.isnan(value) else value


def _fmt(value: Optional[float], digits: int = 3) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _with_ci(metrics: Metrics, task: str, key: str) -> str:
    value = _get(metrics, task, key)
    if value is None:
        return "–"
    low, high = _get(metrics, task, f"{key}_ci_low"), _get(metrics, task, f"{key}_ci_high")
    return f"{value:.3f} [{_fmt(low)}, {_fmt(high)}]"


def _metric(task: str, key: str, digits: int = 3) -> Callable[[RunResult], str]:
    return lambda r: _fmt(_get(r.test, task, key), digits)


# (header, cell) of every column; a metric that a method does not produce shows "–".
COLUMNS: Tuple[Tuple[str, Callable[[RunResult], str]], ...] = (
    ("method", lambda r: r.name),
    ("strong images", lambda r: "–" if r.strong_images is None else str(r.strong_images)),
    ("AP50 (%)", _metric("bbox", "AP50", 1)),
    ("CorLoc official [95% CI]", lambda r: _with_ci(r.test, "corloc", "official")),
    ("CorLoc top-1 [95% CI]", lambda r: _with_ci(r.test, "corloc", "top1")),
    ("CorLoc top-1, any class", _metric("corloc", "top1_any_class")),
    ("FP / normal image", _metric("corloc", "fp_per_normal_image", 2)),
    ("FROC mean sens.", _metric("froc", "mean_sensitivity")),
    ("acc@IoBB>0.5", _metric("cxr_localization", "acc@iobb0.5")),
    ("MaxBoxAccV2", _metric("heatmap", "maxboxaccv2")),
    ("pointing", _metric("heatmap", "pointing_game")),
    ("IoP / FPR / FNR", lambda r: " / ".join(_fmt(_get(r.test, "heatmap", k), 2)
                                          for k in ("iop", "pixel_fpr", "pixel_fnr"))),
    ("AUC", _metric("classification", "mean_auc")),
    ("pseudo boxes IoU>=0.5", lambda r: _fmt((r.pseudo_box_quality or {}).get("iou_at_least_0.5"))),
    ("train s/it", lambda r: _fmt(r.seconds_per_iter, 2)),
    ("train min", lambda r: _fmt(r.train_seconds / 60, 1)),
    ("infer s/img", lambda r: _fmt(r.inference_seconds_per_image, 3)),
)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], text_columns: int = 1) -> str:
    """A markdown table: the first ``text_columns`` columns left-aligned, the others right-aligned."""
    aligns = ["---"] * text_columns + ["---:"] * (len(header) - text_columns)
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in (header, aligns, *rows))


def leaderboard_table(results: Sequence[RunResult]) -> str:
    """One leaderboard table; columns that no result fills are left out."""
    rows = [[cell(r) for _, cell in COLUMNS] for r in results]
    keep = [i for i in range(len(COLUMNS)) if any(row[i].strip("– /") for row in rows)]
    return markdown_table([COLUMNS[i][0] for i in keep], [[row[i] for i in keep] for row in rows])


def write_report(results: Sequence[RunResult], header: str, markdown_path: str, json_path: str) -> str:
    """Write the markdown tables (one per family, in order of appearance) and the raw JSON."""
    families: List[str] = list(dict.fromkeys(r.family for r in results))
    titles = {"bus": "Breast ultrasound (bus_synth_test)", "cxr": "Chest X-ray (cxr_synth_test)"}
    parts = [header]
    for family in families:
        parts += [f"### {titles.get(family, family)}", leaderboard_table([r for r in results if r.family == family])]
    text = "\n\n".join(parts) + "\n"
    with open(markdown_path, "w") as f:
        f.write(text)
    with open(json_path, "w") as f:
        json.dump({"header": header, "runs": [asdict(r) for r in results]}, f, indent=2)
    return text
