"""Print the environment wsdet runs in: ``python -m wsdet.collect_env``."""
import datetime
import importlib
import os
import platform
import sys


def _version(module: str) -> str:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except ImportError as e:
        return f"not available ({e})"


def collect_env_info() -> str:
    """A table of the versions and capabilities that matter for wsdet."""
    import torch

    rows = [("sys.platform", sys.platform), ("Python", platform.python_version())]
    for module in ("wsdet", "detectron2", "torch", "torchvision", "numpy", "pydicom", "cv2",
                   "pycocotools", "fvcore"):
        rows.append((module, _version(module)))
    try:
        from detectron2 import _C  # noqa: F401

        compiled = "yes"
    except ImportError:
        compiled = "no (rotated boxes, deformable conv and fast COCO eval unavailable; wsdet needs none)"
    rows.append(("detectron2 compiled ops", compiled))
    try:
        import pkg_resources  # noqa: F401  (what detectron2.model_zoo needs)

        zoo = "yes"
    except ImportError:
        zoo = "no: pkg_resources is missing (setuptools >= 81); pip install 'setuptools<81'"
    rows.append(("detectron2 model zoo", zoo))
    rows.append(("CUDA available", str(torch.cuda.is_available())))
    if torch.cuda.is_available():
        rows.append(("CUDA version (torch)", str(torch.version.cuda)))
        for i in range(torch.cuda.device_count()):
            rows.append((f"GPU {i}", torch.cuda.get_device_name(i)))
    rows.append(("torch.distributed gloo", str(torch.distributed.is_gloo_available())))
    rows.append(("torch.distributed nccl", str(torch.distributed.is_nccl_available())))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


def cpu_model() -> str:
    """The CPU model name (from /proc/cpuinfo where available)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_summary() -> str:
    """One line naming the machine a benchmark ran on: CPU, cores, GPU, torch version and date."""
    import torch

    parts = [f"{cpu_model()} ({os.cpu_count()} cores)"]
    if torch.cuda.is_available():
        parts.append(f"GPU {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}")
    else:
        parts.append("no GPU")
    parts.append(f"torch {torch.__version__}")
    parts.append(datetime.date.today().isoformat())
    return ", ".join(parts)


if __name__ == "__main__":
    print(collect_env_info())
