"""Speed and memory of wsdet's models against their plain baselines: what ``tools/benchmark_speed.py``
measures.

Every model is built by ``detectron2.modeling.build_model`` from its config, with random weights, and
runs on synthetic batches made once. The models compared are timed round-robin (one step of each in
turn, the starting model rotating every round), so that background load affects them alike; a ratio is
the median over rounds of the per-round ratio. Peak memory is measured in a fresh spawned process per
model (``MEMORY_STEPS`` training steps): ``torch.cuda.max_memory_allocated`` on a GPU, peak RSS on a CPU.
"""

import concurrent.futures
import datetime
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import cv2
import detectron2
import numpy as np
import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog
from detectron2.modeling import build_model
from detectron2.solver import build_optimizer
from detectron2.structures import BitMasks, Boxes, Instances
from detectron2.utils.events import EventStorage

from ..collect_env import cpu_model
from ..data import build_wsdet_train_loader
from ..data.builtin import register_synthetic
from ..data.dataset_mapper import image_labels_to_multi_hot
from ..data.image_io import read_image
from ..data.synthetic import BUS_SPEC, generate_bus_dataset, render_bus_image
from ..data.synthetic.bus import BUS_KINDS
from ..data.synthetic.common import write_dicom
from ..engine.defaults import build_config

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECTIONS = ("mil", "paper", "cam", "inference", "io", "loader")
MEMORY_STEPS = 2  # the second step also holds the SGD momentum buffers
MIL_TARGET, CAM_TARGET = 1.05, 1.05  # step time / peak memory ratios aimed at
PLAIN_RCNN = (
    "MODEL.META_ARCHITECTURE", "GeneralizedRCNN", "MODEL.PROPOSAL_GENERATOR.NAME", "RPN",
    "MODEL.ROI_HEADS.NAME", "StandardROIHeads",
)
NO_WEIGHTS = ("MODEL.WEIGHTS", "")


@dataclass(frozen=True)
class Case:
    """A model to measure: a config of ``configs/`` with overrides, and its images per training step
    (None: the config's ``WSDET.DATALOADER`` counts)."""

    name: str
    config: str
    opts: Tuple[str, ...] = ()
    strong: Optional[int] = None
    weak: Optional[int] = None

    def build_cfg(self, device: str, opts: Sequence[str] = ()) -> CfgNode:
        """The case's config on ``device``, with ``opts`` (overrides for every case) applied last."""
        path = os.path.join(REPO, "configs", self.config)
        return build_config(path, [*self.opts, "MODEL.DEVICE", device, *opts])

    def images_per_step(self, cfg: CfgNode) -> Tuple[int, int]:
        """(strong, weak) images of one training step."""
        loader = cfg.WSDET.DATALOADER
        return (
            loader.STRONG_IMS_PER_BATCH if self.strong is None else self.strong,
            loader.WEAK_IMS_PER_BATCH if self.weak is None else self.weak,
        )


PLAIN = Case("plain Faster R-CNN", "Base-WSDet-RCNN.yaml", PLAIN_RCNN, strong=4, weak=0)
MIL_STRONG = Case("MIL, 4 strong", "bus_joint.yaml", strong=4, weak=0)
MIL_JOINT = Case("MIL, 2 strong + 2 weak", "bus_joint.yaml")
MIL_CASES = (PLAIN, MIL_STRONG, MIL_JOINT)
# the paper's scale (R-50 FPN, 600 px, 1 strong + 2 weak images per GPU), with random weights
PAPER_CASES = (
    Case("plain Faster R-CNN, R-50 FPN 600 px", "bus_joint_paper.yaml", PLAIN_RCNN + NO_WEIGHTS, strong=3, weak=0),
    Case("MIL, R-50 FPN 600 px, 1 strong + 2 weak", "bus_joint_paper.yaml", NO_WEIGHTS, strong=1, weak=2),
)
CAM_CASES = tuple(
    Case(name, f"cxr_{name}.yaml", NO_WEIGHTS if name.startswith("poscam_stage") else ())
    for name in (
        "gap", "gmp", "lse", "pcam", "stl", "stl_avg", "infomask", "gradcam", "poscam_stage1", "poscam_stage2",
        "poscam_stage2_gain", "poscam_stage3",
    )
)
INFERENCE_CASES = (Case("bus_joint", "bus_joint.yaml"), PLAIN) + CAM_CASES


def square_side(min_sizes: Sequence[int], max_size: int) -> int:
    """Side of a square image after Detectron2's ResizeShortestEdge to the largest ``min_sizes``."""
    return min(max(min_sizes), max_size)


def training_batch(cfg: CfgNode, num_strong: int, num_weak: int) -> List[Dict[str, Any]]:
    """Mapper-like dicts (see ``docs/DATA_FORMAT_INTERNAL.md``): random grey images, each labelled
    with one class; strong images first, with one box (and its mask when ``MODEL.MASK_ON``)."""
    side = square_side(cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN)
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    generator = torch.Generator().manual_seed(0)
    batch = []
    for i in range(num_strong + num_weak):
        cls = i % num_classes
        grey = torch.randint(0, 256, (1, side, side), dtype=torch.uint8, generator=generator)
        d = {
            "image": grey.expand(3, -1, -1).contiguous(),
            "height": side,
            "width": side,
            "image_id": i,
            "supervision": "strong" if i < num_strong else "weak",
            "image_labels": image_labels_to_multi_hot([cls], num_classes),
        }
        if i < num_strong:
            x0, y0 = (0.1 + 0.1 * (i % 4)) * side, 0.2 * side
            x1, y1 = x0 + 0.3 * side, y0 + 0.4 * side
            instances = Instances(
                (side, side),
                gt_boxes=Boxes(torch.tensor([[x0, y0, x1, y1]])),
                gt_classes=torch.tensor([cls]),
            )
            if cfg.MODEL.MASK_ON:
                masks = torch.zeros(1, side, side, dtype=torch.bool)
                masks[0, int(y0) : int(y1), int(x0) : int(x1)] = True
                instances.gt_masks = BitMasks(masks)
            d["instances"] = instances
        batch.append(d)
    return batch


class TrainingStep:
    """One training step (forward, losses, backward, SGD step of ``build_optimizer``) of a case's model
    on its synthetic batch."""

    def __init__(self, case: Case, device: str, opts: Sequence[str] = ()):
        self.cfg = case.build_cfg(device, opts)
        torch.manual_seed(0)
        self.model = build_model(self.cfg).train()
        self.optimizer = build_optimizer(self.cfg, self.model)
        self.images_per_step = case.images_per_step(self.cfg)
        self.batch = training_batch(self.cfg, *self.images_per_step)
        self.storage = EventStorage()

    def __call__(self) -> None:
        with self.storage:
            losses = self.model(self.batch)
        self.optimizer.zero_grad()
        sum(losses.values()).backward()
        self.optimizer.step()


class InferenceStep:
    """``model([image])`` in eval mode without gradients, one synthetic image at the test size."""

    def __init__(self, case: Case, device: str, opts: Sequence[str] = ()):
        cfg = case.build_cfg(device, opts)
        torch.manual_seed(0)
        self.model = build_model(cfg).eval()
        side = square_side([cfg.INPUT.MIN_SIZE_TEST], cfg.INPUT.MAX_SIZE_TEST)
        generator = torch.Generator().manual_seed(0)
        grey = torch.randint(0, 256, (1, side, side), dtype=torch.uint8, generator=generator)
        self.inputs = [{"image": grey.expand(3, -1, -1).contiguous(), "height": side, "width": side}]

    def __call__(self) -> None:
        with torch.no_grad():
            self.model(self.inputs)


def synchronizer(device: str) -> Callable[[], None]:
    """Waits for queued GPU work on CUDA; does nothing on the CPU."""
    return torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)


def interleaved_times(
    steps: Mapping[str, Callable[[], None]],
    rounds: int,
    warmup: int,
    sync: Callable[[], None],
    cpu_times: Optional[Dict[str, List[float]]] = None,
) -> Dict[str, List[float]]:
    """Wall seconds of each call of each step: ``warmup`` untimed calls each, then ``rounds`` rounds of
    one call of every step, the first step of a round rotating. ``cpu_times``, when given, receives the
    CPU seconds of this process for each call (steadier than wall time on a shared CPU)."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    names = list(steps)
    times: Dict[str, List[float]] = {name: [] for name in names}
    if cpu_times is not None:
        cpu_times.update({name: [] for name in names})
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            sync()
            start, cpu = time.perf_counter(), time.process_time()
            steps[name]()
            sync()
            times[name].append(time.perf_counter() - start)
            if cpu_times is not None:
                cpu_times[name].append(time.process_time() - cpu)
    return times


def paired_ratio(times: Sequence[float], reference: Sequence[float]) -> float:
    """Median over rounds of ``times[r] / reference[r]``."""
    return statistics.median(t / ref for t, ref in zip(times, reference))


def _current_rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def memory_method(device: str) -> str:
    """How :func:`peak_memory_mib` measures, for the report."""
    if torch.device(device).type == "cuda":
        return "torch.cuda.max_memory_allocated minus memory allocated before the model is built"
    return (
        "peak RSS (VmHWM, reset through /proc/self/clear_refs) minus the RSS before the model is built, "
        "in a fresh spawned process per model"
    )


def _peak_memory_child(case: Case, device: str, opts: Sequence[str], steps: int) -> float:
    """Run in a fresh process: peak memory of building ``case`` and ``steps`` training steps (MiB)."""
    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        before = _current_rss_bytes()
    step = TrainingStep(case, device, opts)
    for _ in range(steps):
        step()
    synchronizer(device)()
    peak = torch.cuda.max_memory_allocated() if torch.device(device).type == "cuda" else _peak_rss_bytes()
    return (peak - before) / 2**20


def peak_memory_mib(case: Case, device: str, opts: Sequence[str] = (), steps: int = MEMORY_STEPS) -> float:
    """Peak memory (MiB) of building ``case`` and ``steps`` training steps, in a spawned process."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_peak_memory_child, case, device, tuple(opts), steps).result()


def compare_training(
    cases: Sequence[Case], device: str, opts: Sequence[str], steps: int, warmup: int
) -> Dict[str, Any]:
    """Interleaved step times and peak memory of ``cases``, with ratios to the first case."""
    built = {c.name: TrainingStep(c, device, opts) for c in cases}
    cpu: Dict[str, List[float]] = {}
    times = interleaved_times(built, steps, warmup, synchronizer(device), cpu)
    memory = {c.name: peak_memory_mib(c, device, opts) for c in cases}
    reference = cases[0].name
    models = {}
    for c in cases:
        cfg = built[c.name].cfg
        strong, weak = built[c.name].images_per_step
        models[c.name] = {
            "config": f"configs/{c.config}",
            "overrides": list(c.opts),
            "meta_architecture": cfg.MODEL.META_ARCHITECTURE,
            "strong_images": strong,
            "weak_images": weak,
            "image_side": square_side(cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN),
            "step_s_median": statistics.median(times[c.name]),
            "images_per_s": (strong + weak) / statistics.median(times[c.name]),
            "step_s": times[c.name],
            "step_cpu_s": cpu[c.name],
            "time_ratio": paired_ratio(times[c.name], times[reference]),
            "step_cpu_s_median": statistics.median(cpu[c.name]),
            "cpu_time_ratio": paired_ratio(cpu[c.name], cpu[reference]),
            "peak_memory_mib": memory[c.name],
            "memory_ratio": memory[c.name] / memory[reference],
        }
    return {"reference": reference, "models": models}


def compare_inference(
    cases: Sequence[Case], device: str, opts: Sequence[str], steps: int, warmup: int
) -> Dict[str, Any]:
    """Interleaved per-image inference latency of ``cases``."""
    built = {c.name: InferenceStep(c, device, opts) for c in cases}
    times = interleaved_times(built, steps, warmup, synchronizer(device))
    return {
        "models": {
            c.name: {
                "config": f"configs/{c.config}",
                "overrides": list(c.opts),
                "latency_ms_median": statistics.median(times[c.name]) * 1000,
                "latency_ms": [t * 1000 for t in times[c.name]],
            }
            for c in cases
        }
    }


def write_synthetic_images(folder: str, count: int, side: int) -> Dict[str, List[str]]:
    """``count`` synthetic ultrasound images written both as PNG and as DICOM; the paths per format."""
    paths: Dict[str, List[str]] = {"png": [], "dicom": []}
    for i in range(count):
        image, _ = render_bus_image(np.random.default_rng(i), side, BUS_KINDS[i % len(BUS_KINDS)])
        png, dicom = os.path.join(folder, f"{i:04d}.png"), os.path.join(folder, f"{i:04d}.dcm")
        cv2.imwrite(png, image)
        write_dicom(dicom, image, BUS_SPEC.modality, ("benchmark_speed", str(i)))
        paths["png"].append(png)
        paths["dicom"].append(dicom)
    return paths


def compare_image_reading(count: int, side: int, rounds: int, warmup: int) -> Dict[str, Any]:
    """Images per second of :func:`read_image` on the same images as PNG and as DICOM."""
    with tempfile.TemporaryDirectory(prefix="wsdet_benchmark_speed_") as folder:
        paths = write_synthetic_images(folder, count, side)
        readers = {
            fmt: (lambda files=files: [read_image(p, "BGR") for p in files]) for fmt, files in paths.items()
        }
        times = interleaved_times(readers, rounds, max(warmup, 1), lambda: None)  # >= 1: warm file cache
    result: Dict[str, Any] = {"images": count, "image_side": side}
    for fmt in paths:
        result[fmt] = {"images_per_s": count / statistics.median(times[fmt]), "pass_s": times[fmt]}
    result["dicom_time_ratio"] = paired_ratio(times["dicom"], times["png"])
    return result


def _timed_batches(loader, batches: int, warmup: int) -> float:
    """Seconds per batch of ``loader`` over ``batches`` consecutive batches, after ``warmup`` batches."""
    iterator = iter(loader)
    for _ in range(warmup):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return (time.perf_counter() - start) / batches


def compare_loading(
    device: str, opts: Sequence[str], images: int, side: int, batches: int, warmup: int
) -> Dict[str, Any]:
    """
    Images per second of the joint CPU config's training loader (``build_wsdet_train_loader``: reading,
    augmentation, batching) on synthetic PNG and DICOM copies of ``images`` weak + ``images // 4`` box
    images, with the config's ``DATALOADER.NUM_WORKERS`` and with 0 (the main process's cost per image),
    against the images per second of its training step.
    """
    result: Dict[str, Any] = {"images": images, "image_side": side}
    with tempfile.TemporaryDirectory(prefix="wsdet_benchmark_loader_") as root:
        for fmt in ("png", "dicom"):
            folder = os.path.join(root, fmt)
            generate_bus_dataset(folder, num_strong=max(images // 4, 2), num_weak=images, num_val=2, num_test=2,
                                 size=side, dicom=fmt == "dicom")
            prefix = f"speed_{fmt}_{os.getpid()}_{len(DatasetCatalog.list())}"
            register_synthetic(BUS_SPEC, folder, "datasets/prepare_synthetic_bus.py", prefix=prefix)
            train = str((f"{prefix}_strong_train", f"{prefix}_weak_train"))
            result[fmt] = {}
            for label, workers in (("config_workers", None), ("no_workers", 0)):
                worker_opts = [] if workers is None else ["DATALOADER.NUM_WORKERS", str(workers)]
                cfg = MIL_JOINT.build_cfg("cpu", [*opts, "DATASETS.TRAIN", train, *worker_opts])
                per_batch = _timed_batches(build_wsdet_train_loader(cfg), batches, warmup)
                result[fmt][label] = {"workers": cfg.DATALOADER.NUM_WORKERS,
                                      "images_per_s": cfg.SOLVER.IMS_PER_BATCH / per_batch}
    step = TrainingStep(MIL_JOINT, device, opts)
    times = interleaved_times({"step": step}, batches, warmup, synchronizer(device))["step"]
    result["training_images_per_s"] = sum(step.images_per_step) / statistics.median(times)
    return result


def machine_info(device: str) -> Dict[str, Any]:
    """CPU model, threads, versions, device name and date of the run."""
    cuda = torch.device(device).type == "cuda"
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "torch_threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "detectron2": detectron2.__version__,
        "device": torch.cuda.get_device_name(torch.device(device)) if cuda else "cpu",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
