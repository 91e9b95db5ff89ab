"""The leaderboard machinery: suites, shortened schedules, tables, and one real run through train_net."""
import json
import math
import os
import subprocess
import sys
import threading

import pytest
import yaml

from wsdet.benchmark import (
    SUITES,
    BenchmarkRunner,
    MethodRun,
    RunResult,
    independent_chains,
    leaderboard_table,
    schedule_overrides,
    slugify,
    suite_runs,
    with_iterations,
    write_report,
)
from wsdet.benchmark.specs import MIL_PERIOD, QUICK_ITERS
from conftest import REPO, instant_opts, load_tool



def test_every_suite_config_exists_and_names_are_unique():
    by_name = {}
    for runs in SUITES.values():
        assert len({run.name for run in runs}) == len(runs)
        for run in runs:  # a name in two suites is the same run (same folder, same results)
            assert by_name.setdefault(run.name, run) == run, run.name
    assert len({slugify(n) for n in by_name}) == len(by_name)
    for runs in SUITES.values():  # a run starts from one that comes before it in its suite
        for i, run in enumerate(runs):
            assert run.init_from is None or run.init_from in [r.name for r in runs[:i]], run.name
    for runs in SUITES.values():
        for run in runs:
            assert os.path.isfile(os.path.join(REPO, run.config)), run.config
            assert run.family in QUICK_ITERS


def test_only_keeps_the_runs_a_stage_starts_from():
    runs = suite_runs(["cxr"], only=["positive-CAM stage 2 (GAIN: erase)", "GAP"])
    assert [r.name for r in runs] == ["GAP", "positive-CAM stage 1", "positive-CAM stage 2 (GAIN: erase)"]
    with pytest.raises(ValueError, match="no run named"):
        suite_runs(["bus"], only=["PCAM"])
    with pytest.raises(ValueError, match="unknown suite"):
        suite_runs(["nope"])


def test_schedule_overrides_scale_steps_and_scaled_keys():
    opts = dict(zip(*[iter(schedule_overrides(400, MIL_PERIOD))] * 2))
    assert opts["SOLVER.MAX_ITER"] == "400" and opts["SOLVER.STEPS"] == "(300, 368)"
    assert opts["SOLVER.WARMUP_ITERS"] == "100" and opts["WSDET.MIL.ALPHA.PERIOD"] == "33"
    assert "WSDET.MIL.ALPHA.PERIOD" not in schedule_overrides(40)
    stl = next(r for r in SUITES["cxr"] if r.name == "STL (GMP)")
    assert dict(zip(*[iter(with_iterations(stl, 40).opts)] * 2))["WSDET.CAM.STL.SWITCH_ITER"] == "24"
    with pytest.raises(ValueError):
        schedule_overrides(0)
    run = MethodRun("x", "configs/bus_joint.yaml", "bus", ("A", "1"), scaled_keys=MIL_PERIOD)
    assert with_iterations(run, None) is run
    assert with_iterations(run, 40).opts[:2] == ("A", "1")


def _result(name, family, test, strong_images=None):
    return RunResult(name, family, "/tmp/x", "/tmp/x/model_final.pth", {}, strong_images, 120.0, 1.5, 0.1,
                     None, {}, test)


@pytest.mark.parametrize("iterations", [1, 2, 3, 5, 13, 40, 100, 600])
def test_shortened_schedules_are_accepted_by_detectron2(iterations):
    """Every run of every suite, shortened: a valid config and an LR scheduler fvcore accepts."""
    import torch
    from detectron2.solver import build_lr_scheduler

    from wsdet.engine.config_checks import check_config
    from wsdet.engine.defaults import build_config

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    for run in {r.config: r for runs in SUITES.values() for r in runs}.values():
        cfg = build_config(os.path.join(REPO, run.config), with_iterations(run, iterations).opts)
        check_config(cfg)
        build_lr_scheduler(cfg, optimizer)


def test_leaderboard_table_shows_cis_and_leaves_out_empty_columns(tmp_path):
    bus = _result("joint", "bus", strong_images=6, test={
        "bbox": {"AP50": 55.04},
        "corloc": {"official": 0.88, "official_ci_low": 0.83, "official_ci_high": 0.93,
                   "top1": 0.6, "top1_ci_low": 0.52, "top1_ci_high": 0.67, "fp_per_normal_image": 1.48},
        "classification": {"mean_auc": 0.95},
    })
    cxr = _result("PCAM", "cxr", test={"heatmap": {"maxboxaccv2": 0.3, "iop": 0.17, "pixel_fpr": 0.19,
                                              "pixel_fnr": math.nan}})
    table = leaderboard_table([bus])
    assert "| joint | 6 | 55.0 | 0.880 [0.830, 0.930] | 0.600 [0.520, 0.670] | 1.48 |" in table
    assert "MaxBoxAccV2" not in table and "IoP" not in table
    cxr_table = leaderboard_table([cxr])
    assert "0.17 / 0.19 / –" in cxr_table and "strong images" not in cxr_table
    text = write_report([bus, cxr], "header", str(tmp_path / "l.md"), str(tmp_path / "l.json"))
    assert text.index("Breast ultrasound") < text.index("Chest X-ray")
    assert json.load(open(tmp_path / "l.json"))["runs"][1]["name"] == "PCAM"


TINY = (*instant_opts("rcnn"), "WSDET.EVAL.BOOTSTRAP_RESAMPLES", "20")


@pytest.fixture
def small_bus_synth(tmp_path, monkeypatch):
    """The built-in ``bus_synth_*`` names, in this process and in the tools it starts, on a tiny copy."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from wsdet.data.builtin import GENERATORS, register_synthetic
    from wsdet.data.registration import datasets_root
    from wsdet.data.synthetic import BUS_SPEC, generate_bus_dataset

    script = dict((spec.dirname, script) for spec, script in GENERATORS)[BUS_SPEC.dirname]

    def register(root):
        for split in BUS_SPEC.splits:
            DatasetCatalog.remove(f"bus_synth_{split}")
            MetadataCatalog.remove(f"bus_synth_{split}")
        register_synthetic(BUS_SPEC, root, script)

    original = datasets_root()
    root = str(tmp_path / "data")
    generate_bus_dataset(root, num_strong=4, num_weak=6, num_val=2, num_test=6, size=64)
    monkeypatch.setenv("WSDET_DATASETS", root)
    register(root)
    yield root
    register(original)


@pytest.mark.slow
def test_runner_trains_a_strong_subset_then_reuses_it(tmp_path, small_bus_synth):
    run = MethodRun("joint, 50% strong", "configs/bus_joint.yaml", "bus", TINY, strong_fraction=0.5,
                    scaled_keys=MIL_PERIOD)
    runner = BenchmarkRunner(REPO, str(tmp_path / "bench"))
    result = runner.run(with_iterations(run, 5))  # D2 times iterations after the first 3
    out = tmp_path / "bench" / "joint_50_strong"
    subset = json.load(open(out / "strong_subset.json"))
    full = json.load(open(os.path.join(small_bus_synth, "bus_synth", "annotations", "strong_train.json")))
    assert 0 < len(subset["images"]) == result.strong_images < len(full["images"])
    assert {"bbox", "corloc", "froc", "classification"} <= set(result.test)
    assert result.val == {}  # a detector: nothing is chosen on the validation set
    assert result.seconds_per_iter > 0 and result.inference_seconds_per_image > 0
    trained_on = yaml.safe_load(open(out / "config.yaml"))["DATASETS"]["TRAIN"]
    assert trained_on == ["bus_synth_strong_train_joint_50_strong", "bus_synth_weak_train"]
    again = BenchmarkRunner(REPO, str(tmp_path / "bench")).run(with_iterations(run, 5))
    assert again == result


class FakeTools:
    """Stands in for the tools: records each command and writes what the real one would."""

    def __init__(self, threshold=0.4):
        self.commands = []
        self.threshold = threshold

    def __call__(self, runner, script, args, log_path):
        self.commands.append((script, list(args)))
        out = args[args.index("OUTPUT_DIR") + 1]
        model_dir = os.path.join(out, "retrain") if script == "self_train.py" else out
        test_sets = args[args.index("DATASETS.TEST") + 1].strip("()',")
        results = {"heatmap": {"pixel_threshold_chosen_here": self.threshold}} if "val" in test_sets else \
            {"corloc": {"official": 0.5}}
        if test_sets:
            os.makedirs(os.path.join(model_dir, "inference", test_sets), exist_ok=True)
            with open(os.path.join(model_dir, "inference", test_sets, "results.json"), "w") as f:
                json.dump(results, f)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "log.txt"), "a") as f:
            if args[0] == "--eval-only":
                f.write("Total inference pure compute time: 0:00:02 (0.0100 s / iter per device, on 1 devices)\n")
            else:
                f.write("Overall training speed: 8 iterations in 0:00:04 (0.5000 s / it)\n")


def _fake_runner(tmp_path, monkeypatch, tools):
    monkeypatch.setattr(BenchmarkRunner, "_tool", lambda self, script, args, log: tools(self, script, args, log))
    return BenchmarkRunner(REPO, str(tmp_path))


def test_runner_commands_for_stages_self_training_and_thresholds(tmp_path, monkeypatch):
    tools = FakeTools(threshold=float("nan"))
    runner = _fake_runner(tmp_path, monkeypatch, tools)
    stage2 = next(r for r in SUITES["cxr"] if r.init_from and r.trains)  # GAIN's stage 2 fine-tunes stage 1
    stage1 = next(r for r in SUITES["cxr"] if r.name == stage2.init_from)
    runner.run(stage1)
    runner.run(stage2)
    (_, train2), (_, test2) = tools.commands[2:4]
    assert train2[:2] == ["--config-file", os.path.join(REPO, "configs", "cxr_poscam_stage2_gain.yaml")]
    weights = train2[train2.index("MODEL.WEIGHTS") + 1]
    assert weights == os.path.join(str(tmp_path), "positive_cam_stage_1", "model_final.pth")
    assert test2[0] == "--eval-only" and "WSDET.EVAL.PIXEL_THRESH" not in test2  # NaN threshold dropped
    assert test2[len(test2) - test2[::-1].index("MODEL.WEIGHTS")] == os.path.join(
        str(tmp_path), "positive_cam_stage_2_gain_erase", "model_final.pth")

    parent = MethodRun("joint", "configs/bus_joint.yaml", "bus")
    child = MethodRun("self", "configs/bus_joint.yaml", "bus", init_from="joint", self_train_fraction=0.5)
    runner.run(parent)
    result = runner.run(child)
    script, args = tools.commands[-2]
    assert script == "self_train.py"
    flags = args[: args.index("--retrain") + 1]
    assert flags == ["--config-file", os.path.join(REPO, "configs", "bus_joint.yaml"), "--fraction", "0.5",
                     "--output-dir", os.path.join(str(tmp_path), "self"), "--retrain"]
    assert args[args.index("--retrain-init") + 1] == "config"
    assert args[args.index("--mil-images") + 1] == "remaining"
    assert args[args.index("MODEL.WEIGHTS") + 1] == os.path.join(str(tmp_path), "joint", "model_final.pth")
    assert args[args.index("OUTPUT_DIR") + 1] == os.path.join(str(tmp_path), "self")
    assert result.weights == os.path.join(str(tmp_path), "self", "retrain", "model_final.pth")
    assert result.seconds_per_iter == 0.5 and result.inference_seconds_per_image == 0.01
    assert result.test == {"corloc": {"official": 0.5}}


def test_runner_reuses_only_the_same_spec_and_retrains_children(tmp_path, monkeypatch):
    tools = FakeTools()
    runner = _fake_runner(tmp_path, monkeypatch, tools)
    gap = next(r for r in SUITES["cxr"] if r.name == "GAP")
    first = runner.run(gap)
    assert first.pixel_threshold == 0.4 and len(tools.commands) == 2
    assert _fake_runner(tmp_path, monkeypatch, tools).run(gap) == first and len(tools.commands) == 2
    _fake_runner(tmp_path, monkeypatch, tools).run(with_iterations(gap, 40))  # other options: trains again
    assert len(tools.commands) == 4
    parent = MethodRun("a", "configs/bus_joint.yaml", "bus")
    child = MethodRun("b", "configs/bus_joint.yaml", "bus", init_from="a")
    runner = _fake_runner(tmp_path, monkeypatch, tools)
    runner.run(parent), runner.run(child)
    assert len(tools.commands) == 8
    runner = _fake_runner(tmp_path, monkeypatch, tools)
    runner.run(parent), runner.run(child)
    assert len(tools.commands) == 8  # both reused
    record = os.path.join(str(tmp_path), "a", "benchmark_run.json")
    with open(record) as f:
        saved = json.load(f)
    del saved["spec"]["self_train_mil"]  # written before MethodRun had the field: its default
    with open(record, "w") as f:
        json.dump(saved, f)
    runner = _fake_runner(tmp_path, monkeypatch, tools)
    runner.run(parent), runner.run(child)
    assert len(tools.commands) == 8
    runner = _fake_runner(tmp_path, monkeypatch, tools)
    runner.force = True
    runner.run(parent)
    runner.force = False
    runner.run(child)
    assert len(tools.commands) == 12  # the parent trained again, so its child did too


def test_a_run_that_does_not_train_evaluates_its_parents_model(tmp_path, monkeypatch):
    tools = FakeTools()
    runner = _fake_runner(tmp_path, monkeypatch, tools)
    gradcam = next(r for r in SUITES["cxr"] if not r.trains)
    parent = runner.run(next(r for r in SUITES["cxr"] if r.name == gradcam.init_from))
    result = runner.run(gradcam)
    (_, val), (_, test) = tools.commands[2:]
    assert val[0] == test[0] == "--eval-only"
    assert val[1:3] == ["--config-file", os.path.join(REPO, "configs", "cxr_gradcam.yaml")]
    assert val[val.index("DATASETS.TEST") + 1] == "('cxr_synth_val',)"
    assert val[val.index("MODEL.WEIGHTS") + 1] == parent.weights == result.weights
    assert test[len(test) - test[::-1].index("MODEL.WEIGHTS")] == parent.weights
    assert test[test.index("WSDET.EVAL.PIXEL_THRESH") + 1] == "0.4" and result.pixel_threshold == 0.4
    assert result.test == {"corloc": {"official": 0.5}}
    header, _, parent_row, row = (line.split(" | ") for line in leaderboard_table([parent, result]).splitlines())
    column = header.index("train min")
    assert row[column] == "–" and parent_row[column] != "–"  # the explainer trained nothing
    with pytest.raises(ValueError, match="evaluates its init_from model"):
        MethodRun("explainer", "configs/cxr_gradcam.yaml", "cxr", trains=False)


def test_explainer_rows_evaluate_the_model_their_parent_trained():
    from wsdet.engine.defaults import build_config

    by_name = {r.name: r for runs in SUITES.values() for r in runs}
    explainers = [r for r in by_name.values() if not r.trains]
    assert {r.family for r in explainers} == {"cxr", "bus"}
    for run in explainers:
        parent = by_name[run.init_from]
        child_cfg, parent_cfg = (build_config(os.path.join(REPO, r.config), r.opts) for r in (run, parent))
        assert child_cfg.MODEL == parent_cfg.MODEL, run.name
        for cfg in (child_cfg, parent_cfg):  # the explainer's own keys aside, the same CAM model
            cfg.WSDET.CAM.pop("HEATMAPS"), cfg.WSDET.CAM.pop("GRADCAM")
        assert child_cfg.WSDET.CAM == parent_cfg.WSDET.CAM, run.name


def test_self_training_runs_score_pseudo_boxes_when_the_truth_is_known(tmp_path, tiny_coco):
    from conftest import unique_name
    from wsdet.data import register_wsdet_coco

    strong_json, root, _ = tiny_coco(strong=True)
    weak_json, _, _ = tiny_coco(strong=False)
    names = [unique_name("truth_strong"), unique_name("truth_weak")]
    register_wsdet_coco(names[0], strong_json, root, supervision="strong")
    register_wsdet_coco(names[1], weak_json, root, supervision="weak")
    run = MethodRun("self", "configs/bus_joint.yaml", "bus", ("DATASETS.TRAIN", str(tuple(names))),
                    init_from="joint", self_train_fraction=0.5)
    runner = BenchmarkRunner(REPO, str(tmp_path))
    assert runner._truth_arguments(run) == []
    truth = weak_json.replace(".json", "_truth.json")
    with open(truth, "w") as f:
        f.write("{}")
    assert runner._truth_arguments(run) == ["--truth-json", truth]


def test_seed_summary_gives_mean_spread_and_each_value():
    from wsdet.benchmark import seed_summary_table

    def run(name, ap50, fp):
        return RunResult(name, "bus", "", "", {}, None, 0.0, 0.0, 0.0, None, {},
                         {"bbox": {"AP50": ap50}, "corloc": {"fp_per_normal_image": fp}})

    runs = [run("joint, seed 1", 80.0, 0.2), run("joint, seed 0", 90.0, 0.0), run("joint, seed 2", 70.0, float("nan")),
            run("single", 50.0, 1.0)]
    table = seed_summary_table(runs, [("AP50", "bbox", "AP50", 1), ("FP", "corloc", "fp_per_normal_image", 2)])
    lines = table.splitlines()
    assert len(lines) == 3  # header, alignment, one method: the run without seeds is not summarized
    assert lines[2] == "| joint | 0, 1, 2 | 80.0 ± 10.0 (90.0, 80.0, 70.0) | 0.10 ± 0.14 (0.00, 0.20, –) |"


def test_every_paper_claim_names_rows_of_a_suite():
    from wsdet.benchmark import PAPER_CLAIMS

    names = {r.name for runs in SUITES.values() for r in runs}
    for claim in PAPER_CLAIMS:
        assert {claim.better, *claim.worse} <= names, claim
    assert {c.better for c in PAPER_CLAIMS} >= {"PCAM", "InfoMask", "BUS PCAM", "positive-CAM stage 3"}


def test_claims_table_compares_on_common_seeds_and_gives_a_verdict():
    from wsdet.benchmark import PaperClaim, claims_table

    def run(name, seed, iop):
        return RunResult(f"{name}, seed {seed}", "cxr", "", "", {}, None, 0.0, 0.0, 0.0, None, {},
                         {"heatmap": {"iop": iop}})

    iop = (("IoP", "heatmap", "iop"),)
    claims = [PaperClaim("every seed", "A", ("B",), iop), PaperClaim("mean only", "A", ("C",), iop),
              PaperClaim("no", "C", ("A",), iop), PaperClaim("not run", "A", ("D",), iop)]
    runs = [run("A", 0, 0.5), run("A", 1, 0.3), run("A", 2, 0.9), run("B", 0, 0.4), run("B", 1, 0.2),
            run("C", 0, 0.1), run("C", 1, 0.35), run("C", 2, float("nan"))]
    lines = claims_table(runs, claims).splitlines()
    assert len(lines) == 5  # header, alignment, three claims: D never ran
    assert lines[2] == ("| every seed | IoP | 0, 1 | A: 0.400 ± 0.141 (0.500, 0.300) "
                        "| B: 0.300 ± 0.141 (0.400, 0.200) | reproduces on every seed |")
    assert lines[3].endswith("| C: 0.225 ± 0.177 (0.100, 0.350) | in the mean, not on every seed |")
    assert lines[4].startswith("| no | IoP | 0, 1 | C: 0.225") and lines[4].endswith("| does not reproduce |")
    assert claims_table(runs[:3], claims) is None


def test_reevaluation_and_report_of_finished_runs(tmp_path, monkeypatch):
    tools = FakeTools()
    runner = _fake_runner(tmp_path, monkeypatch, tools)
    joint = MethodRun("joint", "configs/bus_joint.yaml", "bus")
    assert runner.finished(joint) is None and runner.reevaluate(joint) is None  # nothing ran yet
    trained = runner.run(joint)
    assert [script for script, _ in tools.commands] == ["train_net.py", "train_net.py"]

    with open(os.path.join(trained.output_dir, "test", "inference", "bus_synth_test", "results.json"), "w") as f:
        json.dump({"corloc": {"official": 0.5, "top1_any_class": 0.4}}, f)  # what newer metrics would add
    tools.commands.clear()
    again = BenchmarkRunner(REPO, str(tmp_path)).finished(joint)
    assert again == trained and not tools.commands  # the report reads the record, trains nothing
    updated = runner.reevaluate(joint)
    (script, args), = tools.commands  # one evaluation, of the same model
    assert script == "train_net.py" and args[0] == "--eval-only"
    assert args[args.index("MODEL.WEIGHTS") + 1] == trained.weights
    assert updated.test == {"corloc": {"official": 0.5}}  # what the (fake) evaluation wrote
    assert BenchmarkRunner(REPO, str(tmp_path)).finished(joint).test == updated.test
    assert runner.finished(MethodRun("joint", "configs/bus_joint.yaml", "bus", ("SEED", "3"))) is None


def test_independent_chains_keep_each_run_with_its_parent():
    a, b = MethodRun("a", "configs/cxr_gap.yaml", "cxr"), MethodRun("b", "configs/cxr_gap.yaml", "cxr")
    a2 = MethodRun("a2", "configs/cxr_gradcam.yaml", "cxr", init_from="a", trains=False)
    a3 = MethodRun("a3", "configs/cxr_gap.yaml", "cxr", init_from="a2")
    orphan = MethodRun("c", "configs/cxr_gap.yaml", "cxr", init_from="not among the runs")
    assert independent_chains([a, b, a2, orphan, a3]) == [[a, a2, a3], [b], [orphan]]
    assert independent_chains([]) == []


def test_leaderboard_jobs_run_chains_at_the_same_time_and_skip_children_of_failures(tmp_path, monkeypatch):
    tool = load_tool("leaderboard")
    both_started = threading.Barrier(2, timeout=30)  # two runs must be in flight at once to pass it
    order = []

    class FakeRunner:
        def __init__(self, repo, output_root, force=False):
            pass

        def run(self, method):
            order.append(method.name)
            if method.name.startswith(("GAP,", "positive-CAM stage 1,")):
                both_started.wait()
            if method.name.startswith("positive-CAM stage 1,"):
                raise RuntimeError("diverged")
            return RunResult(method.name, method.family, str(tmp_path), "w.pth", {}, None, 1.0, 0.1, 0.01, None,
                             {}, {"classification": {"mean_auc": 0.5}})

    monkeypatch.setattr(tool, "BenchmarkRunner", FakeRunner)
    only = ["GradCAM (GAP model)", "positive-CAM stage 2 (GAIN: erase)"]  # each with the run it starts from
    code = tool.main(["--suite", "cxr", "--only", *only, "--seeds", "0", "--jobs", "2",
                      "--output-dir", str(tmp_path)])
    assert code == 1
    assert order.index("GAP, seed 0") < order.index("GradCAM (GAP model), seed 0")
    assert "positive-CAM stage 2 (GAIN: erase), seed 0" not in order  # its parent failed
    report = (tmp_path / "leaderboard.md").read_text()
    assert "GradCAM (GAP model), seed 0" in report
    assert "Failed: positive-CAM stage 1, seed 0, positive-CAM stage 2 (GAIN: erase), seed 0." in report


@pytest.mark.slow
def test_device_tables_script_reports_within_its_budget(tmp_path):
    """tools/device_tables.sh without wheels to install and with no budget left for training: the data,
    the GPU note, both suites' reports and the records archive still come back."""
    out = tmp_path / "out"
    out.mkdir()
    env = dict(os.environ, OUT=str(out), WSDET_DEVICE_PYTHON=sys.executable, WSDET_DEVICE_JOBS="1",
               WSDET_DEVICE_WHEELS=str(tmp_path / "no_wheels"), TMPDIR=str(tmp_path))
    script = os.path.join(REPO, "tools", "device_tables.sh")
    result = subprocess.run(["bash", script, "0", "3"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "finished 0 runs" in result.stdout
    assert "torch" in (out / "gpu.txt").read_text()
    for suite in ("bus-cam", "cxr"):
        assert "--seeds 3 --report-only" in (out / f"leaderboard_{suite}.md").read_text()
    assert (out / "records.tar.gz").stat().st_size > 0


def test_seed_summary_of_bus_cam_heads_adds_their_heatmap_metrics():
    from wsdet.benchmark.report import summary_metrics, seed_summary_table

    def run(seed, heatmap):
        test = {"bbox": {"AP50": 10.0 * seed}, "classification": {"mean_auc": 0.9}}
        if heatmap:
            test["heatmap"] = {"maxboxaccv2": 0.5 + seed / 10}
        return RunResult(f"CAM, seed {seed}", "bus", "", "", {}, None, 0.0, 0.0, 0.0, None, {}, test)

    detector = [run(0, False), run(1, False)]
    assert [m[0] for m in summary_metrics("bus", detector)][-1] == "AUC"
    cam = [run(0, True), run(1, True)]
    metrics = summary_metrics("bus", cam)
    assert [m[0] for m in metrics][6:] == ["AUC", "acc@IoBB>0.5", "MaxBoxAccV2", "PxAP", "pointing", "IoP"]
    header, _, row = seed_summary_table(cam, metrics).splitlines()
    # columns without any value (CorLoc, FP, FROC, IoBB, PxAP, pointing, IoP here) are left out
    assert header == "| method | seeds | AP50 (%) | AUC | MaxBoxAccV2 |"
    assert row == "| CAM | 0, 1 | 5.0 ± 7.1 (0.0, 10.0) | 0.900 ± 0.000 (0.900, 0.900) | 0.550 ± 0.071 (0.500, 0.600) |"


def test_goal_table_checks_each_joint_run_against_strong_only_of_its_seed():
    from wsdet.benchmark import JointGoal, goal_table

    def run(name, seed, official, top1, ap50, fp, config="configs/bus_joint.yaml"):
        return RunResult(f"{name}, seed {seed}", "bus", "", "", {"config": config}, None, 0.0, 0.0, 0.0, None, {},
                         {"corloc": {"official": official, "top1_any_class": top1, "fp_per_normal_image": fp},
                          "bbox": {"AP50": ap50}})

    strong = "configs/bus_strong_only.yaml"
    runs = [run("strong only", 0, 0.70, 0.80, 80.0, 0.0, strong), run("strong only", 1, 0.90, 0.89, 93.8, 0.0, strong),
            run("joint, A", 0, 0.75, 0.83, 80.0, 0.5),  # every gain exactly the least one: met
            run("joint, A", 1, 0.94, 0.90, 92.6, 0.06),  # official +0.04, top-1 +0.01, AP50 -1.2
            run("joint, A", 2, 0.99, 0.99, 99.0, 0.0),  # no strong-only run of seed 2: not compared
            run("joint, B", 0, 0.95, 0.95, 95.0, 0.6),  # too many false positives
            run("joint, weak only", 0, 1.0, 1.0, 100.0, 0.0, "configs/bus_weak_only.yaml")]  # not a joint model
    tables = goal_table(runs, JointGoal(max_fp_per_normal_image=0.5)).split("\n\n")
    lines = tables[0].splitlines()
    assert lines[0] == ("| model | seed | official CorLoc (Δ) | top-1 CorLoc, any class (Δ) | AP50 (%) (Δ) "
                        "| FP / normal image | goal |")
    assert lines[2] == "| joint, A | 0 | 0.750 (+0.050) | 0.830 (+0.030) | 80.0 (+0.0) | 0.50 | met |"
    assert lines[3] == ("| joint, A | 1 | 0.940 (+0.040) | 0.900 (+0.010) | 92.6 (-1.2) | 0.06 "
                        "| NOT met: official CorLoc, top-1 CorLoc, any class, AP50 (%) |")
    assert lines[4].endswith("| 0.60 | NOT met: FP / normal image |") and len(lines) == 5
    assert tables[1].splitlines()[2:] == ["| joint, A | 2 | 1 |", "| joint, B | 1 | 0 |"]
    assert goal_table([r for r in runs if not r.name.startswith("strong")]) is None
