"""ONNX export with torch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``).

torch's default exporter since 2.9 goes through ``torch.export``, which fails on Detectron2 models:
their padded batch size and proposal filtering depend on tensor values (``ImageList.from_tensors``,
``if not valid_mask.all()`` in ``find_top_rpn_proposals``). The TorchScript-based exporter records the
traced graph instead. Needs the ``onnx`` package (``pip install wsdet[export]``).
"""
import warnings
from typing import List

import numpy as np
import torch
from torch import nn
from torch.onnx import register_custom_op_symbolic, symbolic_helper

from .tracing import _tracing_warnings_silenced, output_names, tracing_adapter

__all__ = ["export_onnx", "run_onnx"]

OPSET = 17


def _pad_one_sequence(g, sequences, batch_first, padding_value, padding_side=None):
    """``pad_sequence`` of a single tensor (the exported graph sees one image): a new batch axis."""
    # torch.onnx offers no public helpers to read a symbolic's arguments; its own symbolics use these
    tensors = symbolic_helper._unpack_list(sequences)
    if len(tensors) != 1:
        raise RuntimeError(f"ONNX export of pad_sequence supports one sequence, got {len(tensors)}")
    axis = 0 if symbolic_helper._parse_arg(batch_first, "b") else 1
    return g.op("Unsqueeze", tensors[0], g.op("Constant", value_t=torch.tensor([axis])))


def export_onnx(model: nn.Module, image: torch.Tensor, path: str, opset: int = OPSET) -> List[str]:
    """
    Export the model, traced on ``image``, as an ONNX file whose input ``image`` has a free height and
    width; returns the output names (also the ONNX output names).
    """
    # MoISelector.image_probs pads the region logits of the batch's images with pad_sequence
    register_custom_op_symbolic("aten::pad_sequence", _pad_one_sequence, opset)
    adapter = tracing_adapter(model, image)
    names = output_names(adapter)
    with _tracing_warnings_silenced(), warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
        # Detectron2 indexes with masks and non-negative indices, which this lowering handles
        warnings.filterwarnings("ignore", message="Exporting aten::index operator of advanced indexing")
        torch.onnx.export(
            adapter,
            adapter.flattened_inputs,
            path,
            dynamo=False,
            opset_version=opset,
            input_names=["image"],
            output_names=names,
            dynamic_axes={"image": {1: "height", 2: "width"}},
        )
    return names


def run_onnx(path: str, image: torch.Tensor) -> List[np.ndarray]:
    """The outputs of an exported file on ``image``, with onnxruntime (``pip install wsdet[export]``)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {"image": image.cpu().numpy()})
