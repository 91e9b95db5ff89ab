"""Benchmark results as markdown tables (one per data family) and a JSON file."""

import json
import math
import re
import statistics
from dataclasses import asdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .runner import RunResult
from .specs import JOINT_GOAL, PAPER_CLAIMS, JointGoal, PaperClaim

__all__ = [
    "COLUMNS",
    "SEED_METRICS",
    "claims_table",
    "goal_table",
    "leaderboard_table",
    "markdown_table",
    "seed_summary_table",
    "write_report",
]

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
    ("train min", lambda r: _fmt(r.train_seconds / 60, 1) if r.spec.get("trains", True) else "–"),  # explainers
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


# The metrics summarized over seeds, per family: (header, task, key, digits).
SEED_METRICS: Dict[str, Tuple[Tuple[str, str, str, int], ...]] = {
    "bus": (
        ("AP50 (%)", "bbox", "AP50", 1),
        ("CorLoc official", "corloc", "official", 3),
        ("CorLoc top-1", "corloc", "top1", 3),
        ("CorLoc top-1, any class", "corloc", "top1_any_class", 3),
        ("FP / normal image", "corloc", "fp_per_normal_image", 2),
        ("FROC mean sens.", "froc", "mean_sensitivity", 3),
        ("AUC", "classification", "mean_auc", 3),
    ),
    "cxr": (
        ("AUC", "classification", "mean_auc", 3),
        ("acc@IoBB>0.5", "cxr_localization", "acc@iobb0.5", 3),
        ("MaxBoxAccV2", "heatmap", "maxboxaccv2", 3),
        ("PxAP", "heatmap", "pxap", 3),
        ("pointing", "heatmap", "pointing_game", 3),
        ("IoP", "heatmap", "iop", 3),
    ),
}
_SEED_SUFFIX = re.compile(r", seed (\d+)$")


def runs_by_seed(results: Sequence[RunResult]) -> Dict[str, Dict[int, RunResult]]:
    """The runs with a seed in their name ("..., seed S"): method name -> seed -> run, seeds in order."""
    groups: Dict[str, Dict[int, RunResult]] = {}
    for r in results:
        match = _SEED_SUFFIX.search(r.name)
        if match:
            groups.setdefault(r.name[: match.start()], {})[int(match.group(1))] = r
    return {name: dict(sorted(runs.items())) for name, runs in groups.items()}


def _mean_and_each(values: Sequence[Optional[float]], digits: int) -> str:
    """"mean ± sample standard deviation (each value)" of the known values; "–" when none is."""
    known = [v for v in values if v is not None]
    if not known:
        return "–"
    spread = f" ± {statistics.stdev(known):.{digits}f}" if len(known) > 1 else ""
    return f"{statistics.mean(known):.{digits}f}{spread} ({', '.join(_fmt(v, digits) for v in values)})"


def seed_summary_table(results: Sequence[RunResult], metrics: Sequence[Tuple[str, str, str, int]]) -> str:
    """One row per method run with several seeds (names "..., seed S"): for each metric, the mean, the
    sample standard deviation and every value in seed order; metrics that no run has are left out."""
    rows = []
    for name, runs in runs_by_seed(results).items():
        row = [name, ", ".join(str(seed) for seed in runs)]
        row += [_mean_and_each([_get(r.test, task, key) for r in runs.values()], digits)
                for _, task, key, digits in metrics]
        rows.append(row)
    keep = [i for i in range(len(metrics)) if any(row[2 + i] != "–" for row in rows)]
    return markdown_table(["method", "seeds", *(metrics[i][0] for i in keep)],
                          [row[:2] + [row[2 + i] for i in keep] for row in rows], text_columns=2)


def summary_metrics(family: str, results: Sequence[RunResult]) -> List[Tuple[str, str, str, int]]:
    """The metrics of ``family`` (:data:`SEED_METRICS`), and the heatmap ones where its runs have
    heatmaps (the CAM heads on breast ultrasound)."""
    metrics = list(SEED_METRICS.get(family, ()))
    if any(r.test.get("heatmap") for r in results):
        metrics += [m for m in SEED_METRICS["cxr"] if m not in metrics]
    return metrics


def _verdict(better: Sequence[float], worse: Sequence[Sequence[float]]) -> str:
    """Whether the claimed better row wins on every seed, on the mean only, or not."""
    if all(b > w for values in worse for b, w in zip(better, values)):
        return "reproduces on every seed"
    if all(statistics.mean(better) > statistics.mean(values) for values in worse):
        return "in the mean, not on every seed"
    return "does not reproduce"


def claims_table(results: Sequence[RunResult], claims: Sequence[PaperClaim] = PAPER_CLAIMS) -> Optional[str]:
    """Each claim whose rows ran with common seeds, per metric: the claimed better row and the others
    (mean ± standard deviation, each seed's value) on the seeds where all of them have the metric, and
    whether the claim reproduces; None when no claim can be checked."""
    by_seed = runs_by_seed(results)
    rows = []
    for claim in claims:
        names = (claim.better, *claim.worse)
        if not all(name in by_seed for name in names):
            continue
        for header, task, key in claim.metrics:
            values = {name: {seed: _get(r.test, task, key) for seed, r in by_seed[name].items()} for name in names}
            seeds = [s for s in values[claim.better] if all(values[n].get(s) is not None for n in names)]
            if not seeds:
                continue
            each = {name: [values[name][s] for s in seeds] for name in names}
            rows.append([
                claim.source, header, ", ".join(map(str, seeds)),
                f"{claim.better}: {_mean_and_each(each[claim.better], 3)}",
                "; ".join(f"{name}: {_mean_and_each(each[name], 3)}" for name in claim.worse),
                _verdict(each[claim.better], [each[name] for name in claim.worse]),
            ])
    if not rows:
        return None
    return markdown_table(["claim", "metric", "seeds", "claimed better", "compared with", "verdict"], rows,
                          text_columns=6)


def goal_table(results: Sequence[RunResult], goal: JointGoal = JOINT_GOAL) -> Optional[str]:
    """Each joint model (runs with a seed trained from ``goal.joint_config``) against ``goal.baseline`` of
    the same seed: its official CorLoc, top-1 CorLoc over all classes and AP50 with the difference to the
    baseline, its false positives per normal image, and whether it meets ``goal`` (else which parts it
    misses); then how many runs of each model meet it. None when no joint run has a baseline of its seed."""
    by_seed = runs_by_seed(results)
    baseline = by_seed.get(goal.baseline, {})
    gains = (  # (header, task, key, digits, least gain)
        ("official CorLoc", "corloc", "official", 3, goal.official_gain),
        ("top-1 CorLoc, any class", "corloc", "top1_any_class", 3, goal.top1_any_class_gain),
        ("AP50 (%)", "bbox", "AP50", 1, goal.ap50_gain),
    )
    rows, tally = [], []
    for name, runs in by_seed.items():
        if any(run.spec.get("config") != goal.joint_config for run in runs.values()):
            continue
        met = []
        for seed, run in runs.items():
            if seed not in baseline:
                continue
            cells, missed = [], []
            for header, task, key, digits, least in gains:
                value, reference = _get(run.test, task, key), _get(baseline[seed].test, task, key)
                if value is None or reference is None:
                    cells.append("–")
                    missed.append(f"{header} unknown")
                    continue
                cells.append(f"{value:.{digits}f} ({value - reference:+.{digits}f})")
                if value - reference < least - 1e-9:  # a gain of exactly ``least`` meets it
                    missed.append(header)
            fp = _get(run.test, "corloc", "fp_per_normal_image")
            if fp is None or fp > goal.max_fp_per_normal_image:
                missed.append("FP / normal image")
            met.append(not missed)
            rows.append([name, seed, *cells, _fmt(fp, 2), "met" if not missed else "NOT met: " + ", ".join(missed)])
        if met:
            tally.append([name, len(met), sum(met)])
    if not rows:
        return None
    header = ["model", "seed", *(f"{h} (Δ)" for h, *_ in gains), "FP / normal image", "goal"]
    return "\n\n".join([
        markdown_table(header, rows, text_columns=1),
        markdown_table([f"model (against {goal.baseline})", "runs", "goal met"], tally),
    ])


def write_report(results: Sequence[RunResult], header: str, markdown_path: str, json_path: str) -> str:
    """Write the markdown tables (one per family, in order of appearance; with runs of several seeds,
    also their mean ± standard deviation (each value), the papers' claims they check and the joint
    models against the goal) and the raw JSON."""
    families: List[str] = list(dict.fromkeys(r.family for r in results))
    titles = {"bus": "Breast ultrasound (bus_synth_test)", "cxr": "Chest X-ray (cxr_synth_test)"}
    parts = [header]
    for family in families:
        runs = [r for r in results if r.family == family]
        parts += [f"### {titles.get(family, family)}", leaderboard_table(runs)]
        if any(_SEED_SUFFIX.search(r.name) for r in runs):
            parts += [f"#### {titles.get(family, family)}: mean ± standard deviation over seeds (each seed's value)",
                      seed_summary_table(runs, summary_metrics(family, runs))]
        claims = claims_table(runs)
        if claims:
            parts += [f"#### {titles.get(family, family)}: the papers' claims", claims]
        goal = goal_table(runs)
        if goal:
            parts += [f"#### {titles.get(family, family)}: the joint models against {JOINT_GOAL.baseline}, "
                      "seed by seed (the goal of issue #13)", goal]
    text = "\n\n".join(parts) + "\n"
    with open(markdown_path, "w") as f:
        f.write(text)
    with open(json_path, "w") as f:
        json.dump({"header": header, "runs": [asdict(r) for r in results]}, f, indent=2)
    return text
