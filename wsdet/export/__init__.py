"""Export of wsdet models (and Detectron2 R-CNNs with an image branch) to TorchScript and ONNX.

The exported graph takes one CHW image tensor (``cfg.INPUT.FORMAT``, already resized by the test-time
resize) and returns the model's outputs as a flat tuple of tensors, named by :func:`output_names`:
detections (``instances.pred_boxes``, ``instances.scores``, ``instances.pred_classes``,
``instances.image_size``), ``image_probs`` and, for models with heatmaps, ``heatmaps``, all at the
input tensor's resolution. A CAM classifier's boxes come from its heatmaps through NumPy (connected
regions), which no graph holds: apply ``HeatmapBoxExtractor.from_config(cfg)`` to the exported
``heatmaps`` and ``image_probs``. Tracing freezes Python numbers computed from tensor shapes, so the
models compute such numbers as tensor ops (e.g. ``LogSumExpPool``'s pixel count) to follow the input
size.
"""
from .onnx import export_onnx, run_onnx
from .tracing import (
    export_torchscript,
    inference_outputs,
    load_torchscript,
    max_difference,
    output_names,
    trace,
    tracing_adapter,
)

__all__ = [
    "export_onnx",
    "export_torchscript",
    "inference_outputs",
    "load_torchscript",
    "max_difference",
    "output_names",
    "run_onnx",
    "trace",
    "tracing_adapter",
]
