"""Print the environment wsdet runs in: ``python -m wsdet.collect_env``."""
import importlib
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
    rows.append(("CUDA available", str(torch.cuda.is_available())))
    if torch.cuda.is_available():
        rows.append(("CUDA version (torch)", str(torch.version.cuda)))
        for i in range(torch.cuda.device_count()):
            rows.append((f"GPU {i}", torch.cuda.get_device_name(i)))
    rows.append(("torch.distributed gloo", str(torch.distributed.is_gloo_available())))
    rows.append(("torch.distributed nccl", str(torch.distributed.is_nccl_available())))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


if __name__ == "__main__":
    print(collect_env_info())
