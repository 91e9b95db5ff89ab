"""The figures every evaluation draws by itself into its output folder and TensorBoard: FROC curve with
its bootstrap band, official CorLoc against false positives over the score threshold, ROC curves,
confusion matrix of the image-level decision, and example overlays (best and worst localized lesion
images, normal images with the most confident detections)."""

import logging
import os
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from detectron2.data import DatasetCatalog
from detectron2.utils.events import get_event_storage

from ..data.image_io import read_image
from ..evaluation.gt_io import GroundTruth
from ..evaluation.report import decision_confusion
from ..evaluation.suite import EvalSettings, single_label
from ..evaluation.tables import BoxTable
from .confusion import confusion_figure
from .curves import corloc_sweep_figure, froc_curve_and_band, froc_figure, roc_figure, roc_points
from .examples import draw_overlays, rank_examples
from .grids import make_grid, write_png

__all__ = ["EvaluationFigures", "publish_to_tensorboard"]

logger = logging.getLogger(__name__)

FIGURE_FILES = {
    "froc": "froc.png",
    "corloc_sweep": "corloc_sweep.png",
    "roc": "roc.png",
    "confusion": "confusion_matrix.png",
    "examples": "examples.png",
}


def publish_to_tensorboard(figures: Dict[str, np.ndarray], prefix: str, log_dir: str) -> None:
    """Send RGB figures to TensorBoard: into the running trainer's EventStorage (written by its event
    writers), else into event files of ``log_dir``."""
    try:
        storage = get_event_storage()
    except AssertionError:  # no EventStorage: not inside training (e.g. --eval-only)
        storage = None
    if storage is not None:
        for name, image in figures.items():
            storage.put_image(f"{prefix}/{name}", image.transpose(2, 0, 1))
        return
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(log_dir) as writer:
        for name, image in figures.items():
            writer.add_image(f"{prefix}/{name}", image, 0, dataformats="HWC")


def _ci_label(name: str, result: Dict[str, Any]) -> str:
    low, high = result.get("auc_ci95") or (float("nan"),) * 2
    interval = f" [{low:.3f}, {high:.3f}]" if np.isfinite(low) else ""
    return f"{name}: AUC {result['auc']:.3f}{interval}"


class EvaluationFigures:
    """
    Called by :class:`wsdet.evaluation.LocalizationEvaluator` with the evaluated images' ground truth,
    output records and detailed results; draws the figures the results allow, writes them as PNG files
    (:data:`FIGURE_FILES`) into ``output_dir`` and sends them to TensorBoard.
    """

    def __init__(
        self,
        dataset_name: str,
        output_dir: str,
        settings: EvalSettings = EvalSettings(),
        *,
        num_examples: int = 4,
        tile_size: int = 256,
    ):
        self.dataset_name = dataset_name
        self.output_dir = output_dir
        self.settings = settings
        self.num_examples = num_examples
        self.tile_size = tile_size
        self._file_names: Optional[Dict[Any, str]] = None

    def file_name(self, image_id: Any) -> str:
        """The image file of a dataset image id (the dataset is read on first use, in the main process)."""
        if self._file_names is None:
            self._file_names = {d["image_id"]: d["file_name"] for d in DatasetCatalog.get(self.dataset_name)}
        return self._file_names[image_id]

    def __call__(
        self, gt: GroundTruth, records: Sequence[Dict[str, Any]], details: Dict[str, Any], class_names: Sequence[str]
    ) -> Dict[str, np.ndarray]:
        figures: Dict[str, np.ndarray] = {}
        if "classification" in details:
            probs = np.array([r["probs"] for r in records], dtype=np.float64).reshape(len(records), -1)
            figures.update(self._classification(gt, probs, details["classification"], class_names))
        rows = np.flatnonzero(gt.box_evaluable())
        if len(rows) and all("boxes" in records[i] for i in rows):
            dets = BoxTable.from_per_image(
                [r["boxes"] for r in records], [r["classes"] for r in records], [r["scores"] for r in records]
            )
            if "froc" in details:
                figures["froc"] = self._froc(gt, rows, records)
            if "sweep" in details.get("corloc", {}):
                figures["corloc_sweep"] = corloc_sweep_figure(
                    {"model": details["corloc"]["sweep"]}, marked_threshold=self.settings.score_thresh,
                    title=f"Official CorLoc vs false positives, {self.dataset_name}",
                )
            figures["examples"] = self._examples(gt, dets, records, class_names)
        for name, image in figures.items():
            write_png(os.path.join(self.output_dir, FIGURE_FILES[name]), image)
        if figures:
            publish_to_tensorboard(figures, f"{self.dataset_name}", self.output_dir)
            logger.info("Evaluation figures of %s: %s", self.dataset_name,
                        ", ".join(os.path.join(self.output_dir, FIGURE_FILES[n]) for n in figures))
        return figures

    def _classification(
        self, gt: GroundTruth, probs: np.ndarray, report: Dict[str, Any], class_names: Sequence[str]
    ) -> Dict[str, np.ndarray]:
        curves = {
            _ci_label(name, report["per_class"][name]): roc_points(probs[:, c], gt.labels[:, c])
            for c, name in enumerate(class_names)
            if np.isfinite(report["per_class"][name]["auc"])
        }
        if "abnormal" in report and np.isfinite(report["abnormal"]["auc"]):
            curves[_ci_label("abnormal vs normal", report["abnormal"])] = roc_points(
                probs.sum(axis=1), gt.labels.any(axis=1)
            )
        single = single_label(gt, self.settings)
        matrix, names = decision_confusion(probs, gt.labels, class_names, single, self.settings.cls_threshold)
        figures = {"confusion": confusion_figure(matrix, names, title=f"image-level decision, {self.dataset_name}")}
        if curves:
            figures["roc"] = roc_figure(curves, title=f"ROC on {self.dataset_name} (DeLong 95% CIs)")
        return figures

    def _froc(self, gt: GroundTruth, rows: np.ndarray, records: Sequence[Dict[str, Any]]) -> np.ndarray:
        box_gt = gt.select(rows)
        dets = BoxTable.from_per_image(
            [records[i]["boxes"] for i in rows], [records[i]["classes"] for i in rows],
            [records[i]["scores"] for i in rows],
        )
        s = self.settings
        curve, band = froc_curve_and_band(
            box_gt.boxes, dets, len(rows), iou_thresh=s.iou_thresh, criterion=s.froc_criterion,
            n_resamples=s.n_resamples, seed=s.seed,
        )
        hit = "centre in box" if s.froc_criterion == "center" else f"IoU > {s.iou_thresh:g}"
        title = f"FROC on {self.dataset_name}\n{len(rows)} images, {len(box_gt.boxes)} lesions, hit: {hit}"
        return froc_figure({"model": curve}, {"model": band}, title=title)

    def _examples(
        self, gt: GroundTruth, dets: BoxTable, records: Sequence[Dict[str, Any]], class_names: Sequence[str]
    ) -> np.ndarray:
        ranked = rank_examples(gt, dets, self.num_examples)
        tiles: List[np.ndarray] = []
        titles: List[str] = []
        for kind, rows in ranked.items():
            files = [self.file_name(gt.image_ids[row]) for row in rows]
            images = [read_image(f, "RGB") for f in files]
            heatmaps = [self._heatmap(records[row]) for row in rows]
            tiles += draw_overlays(gt, dets, rows, images, class_names, self.settings.score_thresh, heatmaps,
                                   display_size=self.tile_size)
            titles += [f"{kind}: {os.path.basename(f)}" for f in files]
            blank = self.num_examples - len(rows)  # keep one kind per row
            tiles += [np.full((8, 8, 3), 255, np.uint8)] * blank
            titles += [""] * blank
        return make_grid(tiles, titles, columns=self.num_examples, tile_size=self.tile_size)

    @staticmethod
    def _heatmap(record: Dict[str, Any]) -> Optional[np.ndarray]:
        """The kept heatmap of the image's first lesion class (records keep maps of lesion classes only)."""
        maps = record.get("maps") or {}
        return np.asarray(maps[min(maps)], dtype=np.float32) if maps else None
