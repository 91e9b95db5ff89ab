"""TorchScript tracing through Detectron2's :class:`TracingAdapter` (flat tuples of tensors in and out)."""
import contextlib
import warnings
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np

import torch
from detectron2.export import TracingAdapter
from detectron2.export.flatten import DictSchema, InstancesSchema, ListSchema, Schema
from torch import nn

__all__ = [
    "export_torchscript",
    "inference_outputs",
    "load_torchscript",
    "max_difference",
    "output_names",
    "trace",
    "tracing_adapter",
]


@contextlib.contextmanager
def _without_heatmap_boxes(model: nn.Module) -> Iterator[None]:
    """A CAM classifier returns no ``instances`` (its NumPy box extraction cannot be traced)."""
    extractor = getattr(model, "box_extractor", None)
    if extractor is None:
        yield
        return
    model.box_extractor = lambda heatmaps, probs: None
    try:
        yield
    finally:
        model.box_extractor = extractor


def inference_outputs(model: nn.Module, inputs: List[Dict[str, torch.Tensor]]) -> List[Dict[str, object]]:
    """``model(inputs)`` in inference, without the outputs no graph can compute (see the package doc)."""
    with _without_heatmap_boxes(model):
        outputs = model(inputs)
    return [{k: v for k, v in output.items() if v is not None} for output in outputs]


def tracing_adapter(model: nn.Module, image: torch.Tensor) -> TracingAdapter:
    """The model (put in eval mode) on ``[{"image": image}]`` as a module of flat tensor tuples."""
    model.eval()
    adapter = TracingAdapter(model, [{"image": image}], inference_outputs).eval()
    with torch.no_grad():
        adapter(*adapter.flattened_inputs)  # records the output schema
    return adapter


def _names(schema: Schema, prefix: str) -> List[str]:
    if isinstance(schema, DictSchema):
        names = [n for key, sub in zip(schema.keys, schema.schemas) for n in _names(sub, f"{prefix}{key}.")]
        return names + [f"{prefix}image_size"] if isinstance(schema, InstancesSchema) else names
    if isinstance(schema, ListSchema):
        if len(schema.schemas) == 1:
            return _names(schema.schemas[0], prefix)
        return [n for i, sub in enumerate(schema.schemas) for n in _names(sub, f"{prefix}{i}.")]
    return [prefix.rstrip(".")]


def output_names(adapter: TracingAdapter) -> List[str]:
    """The name of each flat output, e.g. ``["heatmaps", "image_probs", "instances.pred_boxes", ...]``."""
    return _names(adapter.outputs_schema, "")


@contextlib.contextmanager
def _tracing_warnings_silenced() -> Iterator[None]:
    """Tracing warns about every Python value it records as a constant (callers compare the exported
    outputs with the eager ones instead), and torch deprecates TorchScript (still supported)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.(trace|save|load)", category=FutureWarning)
        yield


def trace(model: nn.Module, image: torch.Tensor) -> Tuple[torch.jit.ScriptModule, TracingAdapter]:
    """``torch.jit.trace`` of :func:`tracing_adapter` on ``image``; also returns the adapter (its
    ``outputs_schema`` rebuilds the output dicts from the flat outputs)."""
    adapter = tracing_adapter(model, image)
    with _tracing_warnings_silenced(), torch.no_grad():
        traced = torch.jit.trace(adapter, adapter.flattened_inputs, check_trace=False)
    return traced, adapter


def export_torchscript(model: nn.Module, image: torch.Tensor, path: str) -> List[str]:
    """Trace the model on ``image``, save the TorchScript module to ``path``; returns the output names."""
    traced, adapter = trace(model, image)
    with _tracing_warnings_silenced():
        torch.jit.save(traced, path)
    return output_names(adapter)


def load_torchscript(path: str) -> torch.jit.ScriptModule:
    """A module saved by :func:`export_torchscript`, in eval mode."""
    with _tracing_warnings_silenced():
        return torch.jit.load(path).eval()


def _array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def max_difference(reference: Sequence, exported: Sequence) -> float:
    """Largest absolute difference between two flat outputs (tensors or arrays); inf when their number
    or shapes differ (e.g. another number of detections)."""
    if len(reference) != len(exported):
        return float("inf")
    worst = 0.0
    for a, b in zip(map(_array, reference), map(_array, exported)):
        if a.shape != b.shape:
            return float("inf")
        if a.size:
            worst = max(worst, float(np.abs(a - b).max()))
    return worst
