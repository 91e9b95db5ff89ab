"""Detectron2 evaluator of wsdet models: CorLoc, FROC, CXR localization, heatmap and classification metrics.

Per image it keeps only what the metrics need, on CPU: the detections, ``image_probs``, the peak
(value and position) of every class map, and the maps of the classes with GT boxes in the image,
downsampled to at most ``heatmap_size`` pixels a side and stored as float16 (10,000 images with one
lesion class: about 80 MB at 64 px). COCO AP is left to Detectron2's COCOEvaluator.
"""

import copy
import itertools
import json
import logging
import os
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.utils import comm
from detectron2.utils.file_io import PathManager

from .gt_io import gt_from_dataset_dicts
from .flatten import flatten_results
from .report import add_auc_intervals, format_tables, json_safe
from .saved_results import IMAGE_PROBS_FILE
from .suite import EvalSettings, evaluate_records

logger = logging.getLogger(__name__)


def summarize_heatmaps(
    heatmaps: torch.Tensor, image_size: Sequence[int], keep_classes: Sequence[int], max_size: int
) -> Dict[str, Any]:
    """Peaks of the ``(K, H, W)`` class maps of an ``image_size`` (h, w) image; small ``keep_classes`` maps.

    Returns the record keys ``peak_values``, ``peak_points`` (x, y of the peak pixel centre in image
    pixels), ``maps`` and ``map_scale`` (see :mod:`.suite`).
    """
    heatmaps = heatmaps.detach().float()
    num_classes, map_h, map_w = heatmaps.shape
    height, width = image_size
    peak_values, flat_index = heatmaps.reshape(num_classes, -1).max(dim=1)
    flat_index = flat_index.cpu().numpy()
    rows, cols = np.divmod(flat_index, map_w)
    peak_points = np.stack([(cols + 0.5) * width / map_w, (rows + 0.5) * height / map_h], axis=1)
    factor = min(1.0, max_size / max(map_h, map_w))
    size = (max(1, round(map_h * factor)), max(1, round(map_w * factor)))
    maps = {}
    if len(keep_classes):
        small = F.interpolate(heatmaps[list(keep_classes)][None], size=size, mode="area")[0]
        maps = dict(zip(keep_classes, small.to(torch.float16).cpu().numpy()))
    return {
        "peak_values": peak_values.cpu().numpy(),
        "peak_points": peak_points.astype(np.float32),
        "maps": maps,
        "map_scale": np.array([size[1] / width, size[0] / height], dtype=np.float64),
    }


class LocalizationEvaluator(DatasetEvaluator):
    """Weakly supervised localization and classification metrics of a wsdet model on a registered dataset.

    Ground truth comes from ``DatasetCatalog.get(dataset_name)`` (wsdet dataset dicts: ``annotations``
    with boxes, ``image_labels``); class names from the metadata's ``thing_classes``. Each family of
    metrics runs when the outputs and the dataset allow it (a dataset without boxes gets only the
    classification metrics; :mod:`.suite` states which groups apply). ``evaluate`` logs the results as
    tables, returns ``{task: {metric: float}}`` (per-class metrics named "metric-class") and, with
    ``output_dir``, writes every detail (CIs included) to ``wsdet_metrics.json``, the
    FROC curve to ``froc_curve.npz`` and the image probabilities to ``image_probs.json``.
    ``figure_writer(gt, records, details, class_names)``, when given, draws the figures (e.g.
    :class:`wsdet.visualization.evaluation_figures.EvaluationFigures`).
    """

    def __init__(
        self,
        dataset_name: str,
        output_dir: Optional[str] = None,
        *,
        distributed: bool = True,
        heatmap_size: int = 64,
        settings: EvalSettings = EvalSettings(),
        figure_writer: Optional[Callable[..., Any]] = None,
    ):
        self._dataset_name = dataset_name
        self._figure_writer = figure_writer
        self._output_dir = output_dir
        self._distributed = distributed
        self._heatmap_size = heatmap_size
        self._settings = settings
        dicts = DatasetCatalog.get(dataset_name)
        meta = MetadataCatalog.get(dataset_name)
        if hasattr(meta, "thing_classes"):
            self._class_names = list(meta.thing_classes)
        else:
            largest = max((c for d in dicts for c in d.get("image_labels", [])), default=-1)
            self._class_names = [str(c) for c in range(largest + 1)]
        self._gt = gt_from_dataset_dicts(dicts, len(self._class_names))
        self._row_of_id = {image_id: i for i, image_id in enumerate(self._gt.image_ids)}
        boxes = self._gt.boxes
        self._box_classes = {}
        for image, cls in set(zip(boxes.image.tolist(), boxes.classes.tolist())):
            self._box_classes.setdefault(image, []).append(cls)
        self.reset()

    def reset(self):
        self._records = []

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            record: Dict[str, Any] = {"image_id": inp["image_id"]}
            if "instances" in out:
                instances = out["instances"].to("cpu")
                record["boxes"] = instances.pred_boxes.tensor.numpy().astype(np.float32)
                record["scores"] = instances.scores.numpy().astype(np.float32)
                record["classes"] = instances.pred_classes.numpy().astype(np.int64)
            if "image_probs" in out:
                record["probs"] = out["image_probs"].detach().float().cpu().numpy()
            if "heatmaps" in out:
                keep = sorted(self._box_classes.get(self._row_of_id.get(inp["image_id"]), []))
                size = (inp["height"], inp["width"]) if "height" in inp else out["heatmaps"].shape[-2:]
                record.update(summarize_heatmaps(out["heatmaps"], size, keep, self._heatmap_size))
            self._records.append(record)

    def evaluate(self):
        records = self._records
        if self._distributed:
            comm.synchronize()
            records = list(itertools.chain(*comm.gather(records, dst=0)))
            if not comm.is_main_process():
                return {}
        known = [r for r in records if r["image_id"] in self._row_of_id]
        if len(known) < len(records):
            logger.warning(
                "%d outputs have image ids absent from the dataset; ignored", len(records) - len(known)
            )
        if not known:
            logger.warning("LocalizationEvaluator received no outputs; nothing to evaluate")
            return {}
        unique = {r["image_id"]: r for r in known}  # one record per image
        rows = np.array([self._row_of_id[i] for i in unique], dtype=np.int64)
        if len(rows) < len(self._gt.image_ids):
            logger.info(
                "Evaluating the %d of %d images that have outputs", len(rows), len(self._gt.image_ids)
            )
        gt, records = self._gt.select(rows), list(unique.values())
        details = evaluate_records(gt, records, self._class_names, self._settings)
        probs = np.array([r["probs"] for r in records]) if "classification" in details else None
        add_auc_intervals(details, gt, probs)
        logger.info("Evaluation results of %s:\n%s", self._dataset_name, format_tables(details, self._class_names))
        results = flatten_results(details, self._class_names)
        if self._output_dir:
            self._save(details, gt.image_ids, probs)
        if self._figure_writer is not None:
            self._figure_writer(gt, records, details, self._class_names)
        return copy.deepcopy(results)

    def _save(self, details: Dict[str, Any], image_ids: Sequence[Any], probs: Optional[np.ndarray]) -> None:
        PathManager.mkdirs(self._output_dir)
        details = copy.copy(details)
        if "froc" in details:
            details["froc"] = dict(details["froc"])
            curve = details["froc"].pop("curve")
            with PathManager.open(os.path.join(self._output_dir, "froc_curve.npz"), "wb") as f:
                np.savez(f, **curve)
        with PathManager.open(os.path.join(self._output_dir, "wsdet_metrics.json"), "w") as f:
            json.dump(json_safe(details), f, indent=2)
        if probs is not None:
            saved = {"image_ids": list(image_ids), "class_names": self._class_names, "probs": probs}
            with PathManager.open(os.path.join(self._output_dir, IMAGE_PROBS_FILE), "w") as f:
                json.dump(json_safe(saved), f)
