"""What a benchmark trains: one :class:`MethodRun` per table row, grouped into suites.

A run is a config of ``configs/`` plus ``KEY VALUE`` overrides, trained by ``tools/train_net.py`` on the
synthetic data; its thresholds are chosen on ``val_dataset`` and its metrics measured on ``test_dataset``.
Only heatmap models are evaluated on the validation set (detectors have no threshold chosen there).
Run length: the config's own in ``full`` mode; in ``quick`` mode a few iterations (a smoke test of every
method with its cost, not a ranking), the LR schedule and the MIL alpha period scaled to it.
"""

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = [
    "MethodRun",
    "MIL_PERIOD",
    "JOINT_GOAL",
    "JointGoal",
    "PAPER_CLAIMS",
    "PaperClaim",
    "QUICK_ITERS",
    "SUITES",
    "schedule_overrides",
    "suite_runs",
    "with_iterations",
    "with_seeds",
]

QUICK_ITERS = {"bus": 100, "cxr": 40}


@dataclass(frozen=True)
class MethodRun:
    """One row of a benchmark table."""

    name: str  # row label and output folder
    config: str  # path relative to the repository root
    family: str  # "bus" (breast ultrasound detection) or "cxr" (chest X-ray CAM)
    opts: Tuple[str, ...] = ()  # KEY VALUE overrides
    strong_fraction: float = 1.0  # fraction of the strong BUS pool kept (label-stratified, seeded)
    init_from: Optional[str] = None  # earlier run whose model_final.pth initializes this one
    # False: no training; the init_from model is evaluated with this row's config (a post-hoc explainer
    # such as Grad-CAM of an earlier run's classifier)
    trains: bool = True
    # iteration-valued keys that follow the run length: (key, fraction of SOLVER.MAX_ITER)
    scaled_keys: Tuple[Tuple[str, float], ...] = ()
    heatmaps: bool = False  # outputs heatmaps: their pixel threshold is chosen on the validation set
    self_train_fraction: Optional[float] = None  # self-training: fraction of weak images pseudo-labelled
    self_train_init: str = "config"  # what the retraining starts from (tools/self_train.py --retrain-init)
    # labelled images of the retraining's MIL loss (self_train.py --mil-images); records written before
    # this field existed ran with "remaining"
    self_train_mil: str = "remaining"

    def __post_init__(self):
        if not self.trains and (self.init_from is None or self.self_train_fraction is not None):
            raise ValueError(f"{self.name}: a run that does not train evaluates its init_from model "
                             "(and cannot self-train)")

    @property
    def val_dataset(self) -> str:
        return "bus_synth_val" if self.family == "bus" else "cxr_synth_val"

    @property
    def test_dataset(self) -> str:
        return "bus_synth_test" if self.family == "bus" else "cxr_synth_test"


def schedule_overrides(iterations: int, scaled_keys: Sequence[Tuple[str, float]] = ()) -> List[str]:
    """SOLVER overrides (and ``scaled_keys``) for a run shortened to ``iterations``."""
    if iterations < 1:
        raise ValueError(f"a run needs at least 1 iteration, got {iterations}")
    steps = sorted({s for s in (int(iterations * 0.75), int(iterations * 0.92)) if 0 < s < iterations})
    opts = [
        "SOLVER.MAX_ITER", str(iterations),
        "SOLVER.STEPS", str(tuple(steps)),
        "SOLVER.WARMUP_ITERS", str(min(100, iterations // 4)),
        "SOLVER.CHECKPOINT_PERIOD", str(10 * iterations),
    ]
    for key, fraction in scaled_keys:
        opts += [key, str(max(1, int(iterations * fraction)))]
    return opts


MIL_PERIOD = (("WSDET.MIL.ALPHA.PERIOD", 1 / 12),)  # the base config's 50 of 600 iterations


def _bus(name: str, config: str, *opts: str, is_mil: bool = True, **kwargs) -> MethodRun:
    scaled = MIL_PERIOD if is_mil else ()
    return MethodRun(name, f"configs/{config}.yaml", "bus", tuple(opts), scaled_keys=scaled, **kwargs)


def _cxr(name: str, config: str, *opts: str, **kwargs) -> MethodRun:
    return MethodRun(name, f"configs/{config}.yaml", "cxr", tuple(opts), heatmaps=True, **kwargs)


_BUS_METHODS = (
    _bus("strong only (Faster R-CNN)", "bus_strong_only", is_mil=False),
    _bus("weak only (MIL)", "bus_weak_only"),
    _bus("joint MIL Faster R-CNN", "bus_joint"),
    _bus("joint + LSE image branch", "bus_joint_with_cam", heatmaps=True),
    _bus("LSE CAM classifier", "bus_cam", is_mil=False, heatmaps=True),
)

STL_SWITCH = (("WSDET.CAM.STL.SWITCH_ITER", 0.6),)  # STL's alpha switch after 60% of the run

_CXR_METHODS = (
    _cxr("GAP", "cxr_gap"),
    _cxr("GMP", "cxr_gmp"),
    _cxr("LSE", "cxr_lse"),
    _cxr("PCAM", "cxr_pcam"),
    _cxr("STL (GMP)", "cxr_stl", scaled_keys=STL_SWITCH),
    _cxr("STL (avg)", "cxr_stl_avg", scaled_keys=STL_SWITCH),
    _cxr("InfoMask", "cxr_infomask"),
    _cxr("GradCAM (GAP model)", "cxr_gradcam", init_from="GAP", trains=False),
    _cxr("positive-CAM stage 1", "cxr_poscam_stage1"),
    _cxr("positive-CAM stage 2 (paper: restrict)", "cxr_poscam_stage2"),
    _cxr("positive-CAM stage 2 (GAIN: erase)", "cxr_poscam_stage2_gain", init_from="positive-CAM stage 1"),
    _cxr("positive-CAM stage 3", "cxr_poscam_stage3"),
)


def _bus_cam(name: str, config: str, *opts: str, **kwargs) -> MethodRun:
    return MethodRun(f"BUS {name}", f"configs/{config}.yaml", "bus", tuple(opts), heatmaps=True, **kwargs)


# The CAM heads on the breast-ultrasound data (single-label: normal / benign / malignant; PCAM multi-label).
_BUS_CAM_METHODS = (
    _bus_cam("GAP", "bus_cam", "WSDET.CAM.POOLING.NAME", "GlobalAvgPool", "WSDET.CAM.HEAD.MAP_TYPE", "cam"),
    _bus_cam("GMP", "bus_cam", "WSDET.CAM.POOLING.NAME", "GlobalMaxPool", "WSDET.CAM.HEAD.MAP_TYPE", "cam"),
    _bus_cam("LSE", "bus_cam", "WSDET.CAM.HEAD.MAP_TYPE", "cam"),
    _bus_cam("PCAM", "bus_cam_pcam"),
    _bus_cam("STL (GMP)", "bus_cam_stl", scaled_keys=STL_SWITCH),
    _bus_cam("STL (avg)", "bus_cam_stl", "WSDET.CAM.POOLING.NAME", "GlobalAvgPool", scaled_keys=STL_SWITCH),
    _bus_cam("InfoMask", "bus_cam_infomask"),
    _bus_cam("GradCAM (GAP model)", "bus_cam", "WSDET.CAM.POOLING.NAME", "GlobalAvgPool", "WSDET.CAM.HEAD.MAP_TYPE",
             "cam", "WSDET.CAM.HEATMAPS", "gradcam", init_from="BUS GAP", trains=False),
    _bus_cam("positive-CAM stage 1", "bus_cam_poscam_stage1"),
    _bus_cam("positive-CAM stage 2 (paper: restrict)", "bus_cam_poscam_stage2"),
    _bus_cam("positive-CAM stage 2 (GAIN: erase)", "bus_cam_poscam_stage2", "WSDET.CAM.ATTENTION_MINING.MODE",
             "erase", "SOLVER.BASE_LR", "0.01", init_from="BUS positive-CAM stage 1"),
    _bus_cam("positive-CAM stage 3", "bus_cam_poscam_stage3"),
)


PAPER_MOI = ("WSDET.MIL.MOI", "most_malignant")  # the paper's mass of interest (the configs: most_abnormal)
# the official loss ignores normal weak images (the configs: their most abnormal region -> background)
IGNORE_NORMAL = ("WSDET.MIL.NORMAL_WEIGHT", "0.0")


def _joint_bus(name: str, config: str, *opts: str, **kwargs) -> MethodRun:
    """A MIL run on BUS whose normal weak images are ignored unless ``opts`` set their weight."""
    if "WSDET.MIL.NORMAL_WEIGHT" not in opts:
        opts = (*opts, *IGNORE_NORMAL)
    return _bus(name, config, *opts, **kwargs)


def _paper_bus(name: str, config: str, *opts: str, is_mil: bool = True, **kwargs) -> MethodRun:
    """A BUS run with the paper's MoI and normal weak images ignored, unless ``opts`` choose otherwise."""
    if not is_mil:
        return _bus(name, config, *opts, is_mil=False, **kwargs)
    if "WSDET.MIL.MOI" not in opts:
        opts = (*PAPER_MOI, *opts)
    return _joint_bus(name, config, *opts, **kwargs)


def _bus_study() -> Tuple[MethodRun, ...]:
    """The ablations of Shin et al. (TMI 2019) on the synthetic BUS data (strong pool: 10 images; a
    fraction keeps that share of each label group, rounded half up: 20% = 2, 50% = 6 images). Joint runs
    use the paper's MoI unless they name another."""
    runs = [_paper_bus("weak only", "bus_weak_only")]
    for fraction in (0.2, 0.5, 1.0):
        pct = f"{fraction:.0%}"
        runs.append(_paper_bus(f"strong only, {pct} strong", "bus_strong_only", is_mil=False, strong_fraction=fraction))
        runs.append(_paper_bus(f"joint, {pct} strong", "bus_joint", strong_fraction=fraction))
    for moi in ("most_benign", "most_discriminative", "most_abnormal"):
        runs.append(_paper_bus(f"joint, MoI {moi}", "bus_joint", "WSDET.MIL.MOI", moi))
    runs.append(_paper_bus("joint, MoI on logits", "bus_joint", "WSDET.MIL.SELECT_ON", "logit"))
    runs.append(_paper_bus("joint, static alpha 0.3", "bus_joint", "WSDET.MIL.ALPHA.SCHEDULE", "static"))
    runs.append(_paper_bus("joint, alpha up to 1 (official)", "bus_joint", "WSDET.MIL.ALPHA.VALUE", "1.0"))
    runs.append(
        _paper_bus("joint, alternating mini-batches", "bus_joint", "WSDET.DATALOADER.MODE", "alternating_batches",
             "SOLVER.IMS_PER_BATCH", "2", "WSDET.DATALOADER.STRONG_IMS_PER_BATCH", "2",
             "WSDET.DATALOADER.WEAK_IMS_PER_BATCH", "2")
    )
    runs.append(_paper_bus("joint, normal weak = background", "bus_joint", "WSDET.MIL.NORMAL_WEIGHT", "1.0",
                          "WSDET.MIL.NORMAL_REGIONS", "0"))
    for fraction in (0.5, 0.75):
        runs.append(_paper_bus(f"joint, self-trained on {fraction:.0%} pseudo-labelled weak images", "bus_joint",
                         init_from="joint, 100% strong", self_train_fraction=fraction))
    runs.append(_paper_bus("joint, MoI most_benign, self-trained on 50%", "bus_joint", "WSDET.MIL.MOI", "most_benign",
                     init_from="joint, MoI most_benign", self_train_fraction=0.5))
    return tuple(runs)


# Positive-CAM with the paper's running accuracy and plain MSE instead of wsdet's balanced variants, stage 2
# with a mask made of every class's map (one that cannot carry the label),
# InfoMask's ablations (RegL1, FeatureMask), its single attention channel and wsdet's per-class variant,
# STL's classifier on the averaged map, PCAM's loss averaged over the classes; each beside its default
# row of the "cxr" suite.
_CXR_STUDY = (
    *(run for run in _CXR_METHODS if run.name.startswith("positive-CAM")),
    _cxr("positive-CAM stage 2, per-label accuracy (paper)", "cxr_poscam_stage2",
         "WSDET.CAM.ATTENTION_MINING.ACCURACY", "per_label"),
    _cxr("positive-CAM stage 2 (restrict, every class map)", "cxr_poscam_stage2",
         "WSDET.CAM.ATTENTION_MINING.ATTENTION_CLASSES", "all"),
    _cxr("positive-CAM stage 3, plain MSE (paper)", "cxr_poscam_stage3", "WSDET.CAM.MASK_DECODER.BALANCED", "False"),
    next(run for run in _CXR_METHODS if run.name == "InfoMask"),
    _cxr("InfoMask, RegL1", "cxr_infomask", "WSDET.CAM.INFOMASK.REGULARIZER", "l1"),
    _cxr("InfoMask, FeatureMask (no regularizer)", "cxr_infomask", "WSDET.CAM.INFOMASK.REGULARIZER", "none"),
    _cxr("InfoMask, one attention channel (paper)", "cxr_infomask", "WSDET.CAM.INFOMASK.ATTENTION_DIM", "1"),
    # the KL summed over the 16x16 res4 locations instead of averaged: 256 x 0.01
    _cxr("InfoMask, KL weight 2.56", "cxr_infomask", "WSDET.CAM.INFOMASK.ALPHA", "2.56"),
    _cxr("InfoMask, per-class masks on CAM evidence (wsdet)", "cxr_infomask", "WSDET.CAM.HEAD.NAME",
         "ClassInfoMaskHead"),
    next(run for run in _CXR_METHODS if run.name == "STL (avg)"),
    _cxr("STL (avg), classifier on the averaged map (wsdet)", "cxr_stl_avg", "WSDET.CAM.STL.CLASSIFIER_INPUT", "gap",
         scaled_keys=STL_SWITCH),
    next(run for run in _CXR_METHODS if run.name == "PCAM"),
    _cxr("PCAM, loss averaged over the classes", "cxr_pcam", "WSDET.CAM.CLASS_REDUCTION", "mean",
         "SOLVER.BASE_LR", "0.05"),
)


def _bus_defaults() -> Tuple[MethodRun, ...]:
    """The candidates for the default joint model: strong only and each MoI variant, to be run with
    several seeds (``with_seeds``) and on data variants (another ``WSDET_DATASETS``). The MIL rows ignore
    normal weak images (the official loss) unless they set ``WSDET.MIL.NORMAL_WEIGHT``."""
    abnormal = ("WSDET.MIL.MOI", "most_abnormal")
    normal_top1 = ("WSDET.MIL.NORMAL_WEIGHT", "1.0", "WSDET.MIL.NORMAL_REGIONS", "1")  # the configs' default
    runs = [_bus("strong only", "bus_strong_only", is_mil=False)]
    for moi in ("most_malignant", "most_benign", "most_discriminative", "most_abnormal"):
        runs.append(_joint_bus(f"joint, MoI {moi}", "bus_joint", "WSDET.MIL.MOI", moi))
    for moi in ("most_malignant", "most_abnormal"):  # normal weak images: their top regions -> background
        for k in (1, 10):
            runs.append(_joint_bus(f"joint, MoI {moi}, normal top-{k}", "bus_joint", "WSDET.MIL.MOI", moi,
                                   "WSDET.MIL.NORMAL_WEIGHT", "1.0", "WSDET.MIL.NORMAL_REGIONS", str(k)))
    runs.append(_joint_bus("joint, MoI most_abnormal, normal top-1 at weight 0.5", "bus_joint", *abnormal,
                           "WSDET.MIL.NORMAL_WEIGHT", "0.5", "WSDET.MIL.NORMAL_REGIONS", "1"))
    # as many box images per step as strong only (4), plus 2 labelled ones: the default sees its box
    # images half as often as the strong-only model does
    runs.append(_joint_bus("joint, MoI most_abnormal, 4 box + 2 labelled images per step", "bus_joint", *abnormal,
                           "SOLVER.IMS_PER_BATCH", "6", "WSDET.DATALOADER.STRONG_IMS_PER_BATCH", "4",
                           "WSDET.DATALOADER.WEAK_IMS_PER_BATCH", "2"))
    # the final model is an average of the weights, step k of n weighing decay^(n - k) (0.995: a time
    # constant of 200 steps, 0.99: 100 steps, after the first LR step at 450): less spread between runs?
    runs.append(_joint_bus("joint, MoI most_abnormal, EMA of the weights", "bus_joint", *abnormal,
                           "WSDET.MODEL_EMA.ENABLED", "True"))
    runs.append(_joint_bus("joint, MoI most_abnormal, EMA of the weights at decay 0.99", "bus_joint", *abnormal,
                           "WSDET.MODEL_EMA.ENABLED", "True", "WSDET.MODEL_EMA.DECAY", "0.99"))
    runs.append(_bus("strong only, EMA of the weights", "bus_strong_only", "WSDET.MODEL_EMA.ENABLED", "True",
                     is_mil=False))
    retrain_ways = (("config", "retrained from scratch"), ("model", "continued from the joint model"))
    for mil, also in (("remaining", ""), ("all", ", MIL on all labelled")):
        for init, how in retrain_ways:
            runs.append(_joint_bus(f"joint, MoI most_abnormal, self-trained on 50%, {how}{also}", "bus_joint",
                                   *abnormal, init_from="joint, MoI most_abnormal", self_train_fraction=0.5,
                                   self_train_init=init, self_train_mil=mil))
    for init, how in retrain_ways:
        runs.append(_joint_bus(f"joint, MoI most_abnormal, normal top-1, self-trained on 50%, {how}", "bus_joint",
                               *abnormal, *normal_top1, init_from="joint, MoI most_abnormal, normal top-1",
                               self_train_fraction=0.5, self_train_init=init, self_train_mil="all"))
    augment = ("WSDET.AUGMENT.ROTATION", "5.0", "WSDET.AUGMENT.CROP", "0.05", "WSDET.AUGMENT.BRIGHTNESS", "0.2",
               "WSDET.AUGMENT.CONTRAST", "(0.2, 1.8)")
    runs.append(_joint_bus("joint, MoI most_abnormal, official augmentations", "bus_joint", *abnormal, *augment))
    runs.append(_joint_bus("joint, MoI most_abnormal, official augmentations and class weights", "bus_joint",
                           *abnormal, *augment, "WSDET.MIL.CLASS_WEIGHTS", "auto"))
    runs.append(_paper_bus("weak only", "bus_weak_only"))
    runs.append(_joint_bus("weak only, MoI most_abnormal, normal top-1", "bus_weak_only", *abnormal, *normal_top1))
    return tuple(runs)


@dataclass(frozen=True)
class PaperClaim:
    """A paper's claim that one row beats other rows on some metrics (higher is better on each)."""

    source: str
    better: str  # row name
    worse: Tuple[str, ...]  # row names
    metrics: Tuple[Tuple[str, str, str], ...]  # (header, task, key) of the test results


def _cam_claims(prefix: str) -> Tuple[PaperClaim, ...]:
    """The CAM papers' claims about the rows of the ``cxr`` suite (``prefix`` "BUS ": of ``bus-cam``)."""
    iobb, auc = ("acc@IoBB>0.5", "cxr_localization", "acc@iobb0.5"), ("AUC", "classification", "mean_auc")
    pointing, iop = ("pointing", "heatmap", "pointing_game"), ("IoP", "heatmap", "iop")
    maxbox = ("MaxBoxAccV2", "heatmap", "maxboxaccv2")
    stage1, stage2, stage3 = (f"positive-CAM stage {s}" for s in ("1", "2 (paper: restrict)", "3"))

    def claim(source: str, better: str, worse: Sequence[str], *metrics: Tuple[str, str, str]) -> PaperClaim:
        return PaperClaim(source, prefix + better, tuple(prefix + w for w in worse), metrics)

    return (
        claim("Ye et al. 2020 (PCAM)", "PCAM", ("LSE", "GAP"), iobb),
        claim("Hwang & Kim 2016 (STL, from scratch)", "STL (avg)", ("GMP", "GAP"), auc, pointing),
        claim("Hwang & Kim 2016 (STL, from scratch)", "STL (GMP)", ("GMP", "GAP"), auc, pointing),
        claim("Taghanaki et al. 2019 (InfoMask)", "InfoMask", ("GAP", "GradCAM (GAP model)"), iop),
        claim("Lu & Tong 2019 (positive-CAM stage 1 > CAM)", stage1, ("GAP",), maxbox),
        claim("Lu & Tong 2019 (stage 2 > stage 1)", stage2, (stage1,), maxbox),
        claim("Lu & Tong 2019 (stage 3 > stage 2)", stage3, (stage2,), maxbox),
    )


# Checked by the leaderboard's report on the rows it has (tools/leaderboard.py).
PAPER_CLAIMS: Tuple[PaperClaim, ...] = (*_cam_claims(""), *_cam_claims("BUS "))


@dataclass(frozen=True)
class JointGoal:
    """What a joint model (a row trained from ``joint_config``) must reach against the ``baseline`` row of
    the same seed and data (issue #13): official CorLoc and top-1 CorLoc over all classes higher by at
    least these gains, AP50 (points) not lower by more than ``-ap50_gain``, and at most
    ``max_fp_per_normal_image`` false positives (score >= 0.5) per normal image."""

    baseline: str = "strong only"
    joint_config: str = "configs/bus_joint.yaml"
    official_gain: float = 0.05
    top1_any_class_gain: float = 0.03
    ap50_gain: float = 0.0
    max_fp_per_normal_image: float = 0.5


JOINT_GOAL = JointGoal()

SUITES: Dict[str, Tuple[MethodRun, ...]] = {
    "bus": _BUS_METHODS,
    "cxr": _CXR_METHODS,
    "bus-cam": _BUS_CAM_METHODS,
    "bus-study": _bus_study(),
    "cxr-study": _CXR_STUDY,
    "bus-defaults": _bus_defaults(),
}


def suite_runs(suites: Sequence[str], only: Sequence[str] = ()) -> List[MethodRun]:
    """The runs of ``suites`` in order (names filtered by ``only``, keeping what they start from)."""
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise ValueError(f"unknown suite(s) {unknown}; expected some of {sorted(SUITES)}")
    runs = [run for s in suites for run in SUITES[s]]
    if only:
        wanted = set(only)
        missing = wanted - {r.name for r in runs}
        if missing:
            raise ValueError(f"no run named {sorted(missing)} in suites {list(suites)}")
        by_name = {r.name: r for r in runs}
        for name in list(wanted):
            parent = by_name[name].init_from
            while parent:
                wanted.add(parent)
                parent = by_name[parent].init_from
        runs = [r for r in runs if r.name in wanted]
    return runs


def with_iterations(run: MethodRun, iterations: Optional[int]) -> MethodRun:
    """``run`` shortened to ``iterations`` (None: unchanged)."""
    if iterations is None:
        return run
    return replace(run, opts=run.opts + tuple(schedule_overrides(iterations, run.scaled_keys)))


def with_seeds(runs: Sequence[MethodRun], seeds: Sequence[int]) -> List[MethodRun]:
    """Each run once per seed (``SEED`` override, name suffixed ", seed S", parents renamed alike),
    seed by seed; no seeds: ``runs`` unchanged (each config's own seed)."""
    if not seeds:
        return list(runs)

    def seeded(name: Optional[str], seed: int) -> Optional[str]:
        return None if name is None else f"{name}, seed {seed}"

    return [
        replace(run, name=seeded(run.name, seed), init_from=seeded(run.init_from, seed),
                opts=run.opts + ("SEED", str(seed)))
        for seed in seeds
        for run in runs
    ]


def independent_chains(runs: Sequence[MethodRun]) -> List[List[MethodRun]]:
    """``runs`` split into chains that can run at the same time: each run goes with the run it starts
    from (``init_from``, when that is among ``runs``), in the order of ``runs``."""
    chain_of: Dict[str, int] = {}
    chains: List[List[MethodRun]] = []
    for run in runs:
        index = chain_of.get(run.init_from) if run.init_from else None
        if index is None:
            index = len(chains)
            chains.append([])
        chains[index].append(run)
        chain_of[run.name] = index
    return chains
