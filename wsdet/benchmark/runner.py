"""Train and evaluate one :class:`~wsdet.benchmark.specs.MethodRun` through ``tools/train_net.py``.

Each run is two subprocesses (so that one failing or leaking method does not affect the others, and
timings are those of the real command): training, which for heatmap models ends with an evaluation on
the validation set (where the pixel threshold is chosen), then ``--eval-only`` on the test set. A
self-training run pseudo-labels the weak set with its ``init_from`` model and retrains
(``tools/self_train.py --retrain``) instead of training; a run that does not train (``trains=False``, a
post-hoc explainer) evaluates its ``init_from`` model on both sets. Everything lands in
``<output_root>/<run slug>/``; ``benchmark_run.json`` there records the spec, timings and results, and a
finished run is reused when its spec is unchanged (unless ``force``).
"""

import json
import logging
import math
import os
import re
import subprocess
import sys
import time
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, Dict, List, Optional, Tuple

from detectron2.data import MetadataCatalog

from ..data.converters import keep_fraction, write_json
from ..data.registration import datasets_root
from ..data.synthetic.common import TRUTH_SUFFIX
from ..engine.defaults import build_config, training_datasets
from .specs import MethodRun

__all__ = ["RunResult", "BenchmarkRunner", "slugify"]

logger = logging.getLogger(__name__)
RECORD = "benchmark_run.json"  # per run folder: its spec, timings and results

_INFERENCE_TIME = re.compile(r"Total inference pure compute time: \S+ \(([0-9.]+) s / iter per device")
_TRAINING_SPEED = re.compile(r"Overall training speed: \d+ iterations in \S+ \(([0-9.]+) s / it\)")


def slugify(name: str) -> str:
    """A folder name for a run name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass
class RunResult:
    """Timings and metrics of one run: ``val`` / ``test`` are the ``results.json`` of each set."""

    name: str
    family: str
    output_dir: str
    weights: str  # the trained model
    spec: Dict[str, Any]  # the MethodRun it came from (a finished run is reused only for the same spec)
    strong_images: Optional[int]  # box images trained on, when a fraction of the strong pool
    train_seconds: float  # the training command with the validation of heatmap models (no training: the validation)
    seconds_per_iter: float
    inference_seconds_per_image: float
    pixel_threshold: Optional[float]
    val: Dict[str, Dict[str, float]]
    test: Dict[str, Dict[str, float]]
    pseudo_box_quality: Optional[Dict[str, float]] = None  # self-training, when the truth is known


class BenchmarkRunner:
    """Runs methods in order; a run may start from an earlier run's weights (``init_from``)."""

    def __init__(self, repo: str, output_root: str, python: str = sys.executable, force: bool = False):
        self.repo = repo
        self.output_root = output_root
        self.python = python
        self.force = force
        self.results: Dict[str, RunResult] = {}
        self._retrained = set()  # runs trained by this runner (their children are retrained too)

    def finished(self, method: MethodRun) -> Optional[RunResult]:
        """The recorded result of ``method`` when it ran with the same spec (and its parent was not
        retrained by this runner), else None."""
        record = os.path.join(self.output_root, slugify(method.name), RECORD)
        if self.force or not os.path.isfile(record) or method.init_from in self._retrained:
            return None
        with open(record) as f:
            saved = json.load(f)
        if not _same_spec(saved.get("spec"), method):
            logger.info("%s: options changed since %s", method.name, record)
            return None
        logger.info("%s: reusing %s", method.name, record)
        return RunResult(**saved)

    def run(self, method: MethodRun) -> RunResult:
        """Train and evaluate ``method`` (its ``init_from`` run must have run), or reuse its finished run
        when it has the same spec and its parent was not retrained."""
        out = os.path.join(self.output_root, slugify(method.name))
        result = self.finished(method)
        if result is None:
            result = self._train_and_evaluate(method, out, _spec(method))
            _write_record(result, out)
            self._retrained.add(method.name)
        self.results[method.name] = result
        return result

    def _train_and_evaluate(self, method: MethodRun, out: str, spec: Dict[str, Any]) -> RunResult:
        os.makedirs(out, exist_ok=True)
        if os.path.isfile(os.path.join(out, "log.txt")):  # Detectron2 appends to its logs
            os.remove(os.path.join(out, "log.txt"))
        flags, data_opts, strong_images = self._data_arguments(method, out)
        opts = list(data_opts)
        if method.init_from:
            opts += ["MODEL.WEIGHTS", self.results[method.init_from].weights]
        base = ["--config-file", os.path.join(self.repo, method.config), *flags]
        val_sets = f"('{method.val_dataset}',)" if method.heatmaps else "()"
        train_opts = [*method.opts, *opts, "OUTPUT_DIR", out, "DATASETS.TEST", val_sets]
        start = time.perf_counter()
        if not method.trains:  # the init_from model, evaluated on the validation set with this config
            model_dir = out
            self._tool("train_net.py", ["--eval-only", *base, *train_opts], os.path.join(out, "train.log"))
        elif method.self_train_fraction is None:
            model_dir = out
            self._tool("train_net.py", [*base, *train_opts], os.path.join(out, "train.log"))
        else:  # pseudo-label the weak set with the init_from model, then retrain
            model_dir = os.path.join(out, "retrain")
            self_train = ["--fraction", str(method.self_train_fraction), "--output-dir", out, "--retrain",
                          "--retrain-init", method.self_train_init, "--mil-images", method.self_train_mil,
                          *self._truth_arguments(method)]
            self._tool("self_train.py", [*base, *self_train, *train_opts], os.path.join(out, "train.log"))
        train_seconds = time.perf_counter() - start
        val = _read_results(model_dir, method.val_dataset) if method.heatmaps else {}
        threshold = val.get("heatmap", {}).get("pixel_threshold_chosen_here")
        if threshold is not None and not math.isfinite(threshold):
            threshold = None
        if not method.trains:  # the model it explains
            weights = self.results[method.init_from].weights
        else:  # the model a validation-based selection kept (WSDET.BEST_CHECKPOINT), else the last one
            best = os.path.join(model_dir, "model_best.pth")
            weights = best if os.path.isfile(best) else os.path.join(model_dir, "model_final.pth")
        test, inference_time = self._evaluate_on_test(method, out, flags, data_opts, weights, threshold)
        return RunResult(
            name=method.name,
            family=method.family,
            output_dir=out,
            weights=weights,
            spec=spec,
            strong_images=strong_images,
            train_seconds=train_seconds,
            # the training speed is logged to OUTPUT_DIR/log.txt, also by self_train.py's retraining
            seconds_per_iter=_last_match(_TRAINING_SPEED, os.path.join(out, "log.txt")),
            inference_seconds_per_image=inference_time,
            pixel_threshold=threshold,
            val=val,
            test=test,
            pseudo_box_quality=_read_json(os.path.join(out, "pseudo_box_quality.json")),
        )

    def _evaluate_on_test(
        self,
        method: MethodRun,
        out: str,
        flags: List[str],
        opts: List[str],
        weights: str,
        threshold: Optional[float],
    ) -> Tuple[Dict[str, Dict[str, float]], float]:
        """``--eval-only`` of ``weights`` on the test set into ``<out>/test`` with the run's data
        arguments (:meth:`_data_arguments`): (results, s / image)."""
        test_out = os.path.join(out, "test")
        if os.path.isfile(os.path.join(test_out, "log.txt")):  # Detectron2 appends to its logs
            os.remove(os.path.join(test_out, "log.txt"))
        eval_opts = ["MODEL.WEIGHTS", weights, "OUTPUT_DIR", test_out, "DATASETS.TEST", f"('{method.test_dataset}',)"]
        if threshold is not None:
            eval_opts += ["WSDET.EVAL.PIXEL_THRESH", str(threshold)]
        base = ["--config-file", os.path.join(self.repo, method.config), *flags]
        self._tool("train_net.py", ["--eval-only", *base, *method.opts, *opts, *eval_opts],
                   os.path.join(out, "test.log"))
        inference_time = _last_match(_INFERENCE_TIME, os.path.join(test_out, "log.txt"))
        return _read_results(test_out, method.test_dataset), inference_time

    def reevaluate(self, method: MethodRun) -> Optional[RunResult]:
        """Evaluate the kept model of a finished run on the test set again, with the current code (e.g.
        after metrics were added), and update its record; None when the run has no record yet."""
        out = os.path.join(self.output_root, slugify(method.name))
        result = self.finished(method)
        if result is None:
            return None
        flags, opts, _ = self._data_arguments(method, out)
        result.test, result.inference_seconds_per_image = self._evaluate_on_test(
            method, out, flags, opts, result.weights, result.pixel_threshold
        )
        _write_record(result, out)
        self.results[method.name] = result
        return result

    def _truth_arguments(self, method: MethodRun) -> List[str]:
        """``--truth-json`` of the weak training set when its true boxes are known (synthetic data)."""
        cfg = build_config(os.path.join(self.repo, method.config), method.opts)
        weak = [n for n in cfg.DATASETS.TRAIN if MetadataCatalog.get(n).get("supervision") == "weak"]
        truth = os.path.splitext(MetadataCatalog.get(weak[0]).json_file)[0] + TRUTH_SUFFIX if weak else ""
        return ["--truth-json", truth] if os.path.isfile(truth) else []

    def _data_arguments(self, method: MethodRun, out: str) -> Tuple[List[str], List[str], Optional[int]]:
        """Flags, overrides and image count that give the run its fraction of the strong BUS pool."""
        if method.strong_fraction >= 1.0:
            return [], [], None
        cfg = build_config(os.path.join(self.repo, method.config), method.opts)
        strong = training_datasets(cfg, "strong")
        if len(strong) != 1:
            raise ValueError(f"{method.name}: expected one strong training set, found {strong}")
        meta = MetadataCatalog.get(strong[0])
        with open(meta.json_file) as f:
            subset = keep_fraction(json.load(f), method.strong_fraction, seed=0)
        subset_name = f"{strong[0]}_{slugify(method.name)}"
        subset_json = os.path.join(out, "strong_subset.json")
        write_json(subset, subset_json)
        train = tuple(subset_name if d == strong[0] else d for d in cfg.DATASETS.TRAIN)
        flags = ["--strong-dataset", subset_name, subset_json, os.path.abspath(meta.image_root)]
        return flags, ["DATASETS.TRAIN", str(train)], len(subset["images"])

    def _tool(self, script: str, args: List[str], log_path: str) -> None:
        """Run ``tools/<script>`` in the repository, on the same datasets as this process."""
        command = [self.python, os.path.join(self.repo, "tools", script), *args]
        logger.info("running %s", " ".join(command))
        env = dict(os.environ, WSDET_DATASETS=os.path.abspath(datasets_root()))
        with open(log_path, "w") as log:
            code = subprocess.call(command, cwd=self.repo, stdout=log, stderr=subprocess.STDOUT, env=env)
        if code != 0:
            raise RuntimeError(f"{' '.join(command)} failed with exit code {code}; see {log_path}")


def _spec(method: MethodRun) -> Dict[str, Any]:
    """``method`` as its record stores it (read back from JSON: tuples become lists)."""
    return json.loads(json.dumps(asdict(method)))


def _same_spec(saved: Optional[Dict[str, Any]], method: MethodRun) -> bool:
    """Whether a record's spec is ``method``'s; a field added to MethodRun after the record was
    written counts as its default there."""
    if saved is None:
        return False
    defaults = {f.name: f.default for f in fields(MethodRun) if f.default is not MISSING}
    return {**json.loads(json.dumps(defaults)), **saved} == _spec(method)


def _write_record(result: RunResult, out: str) -> None:
    """``<out>/benchmark_run.json``, written atomically."""
    record = os.path.join(out, RECORD)
    write_json(asdict(result), record + ".tmp")
    os.replace(record + ".tmp", record)


def _read_json(path: str) -> Optional[Dict[str, Any]]:
    """The JSON file at ``path``, None when it does not exist."""
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _read_results(output_dir: str, dataset: str) -> Dict[str, Dict[str, float]]:
    """The ``results.json`` that ``WSDetTrainer.test`` wrote for ``dataset`` under ``output_dir``."""
    path = os.path.join(output_dir, "inference", dataset, "results.json")
    with open(path) as f:
        return json.load(f)


def _last_match(pattern: "re.Pattern[str]", log_txt: str) -> float:
    """The number captured by the last match of ``pattern`` in a Detectron2 log (NaN if none)."""
    if not os.path.isfile(log_txt):
        return float("nan")
    with open(log_txt) as f:
        found = pattern.findall(f.read())
    return float(found[-1]) if found else float("nan")
