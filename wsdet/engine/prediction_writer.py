"""Outputs of a prediction run, written as it goes so that an interrupted run loses nothing."""
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from detectron2.evaluation.coco_evaluation import instances_to_coco_json

from ..visualization import render_overlay, save_grid
from .predictor import image_probabilities

__all__ = ["PredictionWriter"]


def _dump_json(data, path: str, **kwargs) -> None:
    """Write ``path`` atomically (a reader never sees half a file)."""
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, **kwargs)
    os.replace(path + ".tmp", path)


class PredictionWriter:
    """
    Collects what a model predicts for each image and writes, under ``output_dir``:

    * ``predictions.json``: COCO results ("image_id", "category_id" of the dataset, "bbox" [x, y, w,
      h] in original image pixels, "score") plus "file_name" and, for DICOM files, their Study /
      Series / SOP Instance UIDs;
    * ``image_probs.json``: ``{file: {class: probability, ...}}`` (+ "normal" for single-label models);
    * ``images.json``: the COCO "images" entry of every predicted image ("id", "file_name", "height",
      "width", and the DICOM UIDs);
    * ``overlays/<name>.png`` (boxes >= ``score_thresh``, the heatmap of the most probable class) and
      ``overlays_grid.png`` of the first ``grid`` images; ``heatmaps/<name>.npy`` with ``heatmaps``.

    The JSON files are rewritten (atomically) every ``flush_every`` images and when the writer is
    closed, also when the run stops on an error: use it as a context manager.
    """

    def __init__(
        self,
        output_dir: str,
        class_names: Sequence[str],
        category_ids: Sequence[int],
        single_label: bool,
        *,
        overlays: bool = True,
        heatmaps: bool = False,
        score_thresh: float = 0.5,
        heatmap_norm: str = "absolute",
        grid: int = 0,
        flush_every: int = 20,
    ):
        self.output_dir = output_dir
        self.class_names = list(class_names)
        self.category_ids = list(category_ids)
        self.single_label = single_label
        self.overlays, self.heatmaps = overlays, heatmaps
        self.score_thresh, self.heatmap_norm = score_thresh, heatmap_norm
        self.grid, self.flush_every = grid, flush_every
        self.predictions: List[dict] = []
        self.probabilities: Dict[str, dict] = {}
        self.images: List[dict] = []
        self.failures: Dict[str, str] = {}
        self.done = 0
        self._names: set = set()
        self._preview: List[Tuple[np.ndarray, str]] = []
        os.makedirs(output_dir, exist_ok=True)

    def __enter__(self) -> "PredictionWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(
        self, path: str, image_id: int, image_rgb: np.ndarray, output: Dict[str, object], extra: Optional[dict] = None
    ) -> None:
        """Record the model ``output`` for the image ``path`` (RGB pixels ``image_rgb``); ``extra``
        fields (e.g. DICOM UIDs) go into every record of the image."""
        extra = extra or {}
        height, width = image_rgb.shape[:2]
        self.images.append({"id": image_id, "file_name": path, "height": height, "width": width, **extra})
        for result in instances_to_coco_json(output["instances"], image_id):
            result["category_id"] = self.category_ids[result["category_id"]]
            self.predictions.append({"file_name": path, **result, **extra})
        probs = {}
        if "image_probs" in output:
            probs = image_probabilities(output["image_probs"], self.class_names, self.single_label)
            self.probabilities[path] = probs
        name = self._unique_name(path) if self.overlays or self.heatmaps else None
        if self.heatmaps and "heatmaps" in output:
            os.makedirs(os.path.join(self.output_dir, "heatmaps"), exist_ok=True)
            np.save(os.path.join(self.output_dir, "heatmaps", name + ".npy"), output["heatmaps"].float().numpy())
        if self.overlays:
            overlay, title = self._overlay(image_rgb, output, probs, os.path.basename(path))
            save_grid(os.path.join(self.output_dir, "overlays", name + ".png"), [overlay], [title],
                      tile_size=max(overlay.shape[:2]))
            if len(self._preview) < self.grid:
                self._preview.append((overlay, title))
        self.done += 1
        if self.done % self.flush_every == 0:
            self.flush()

    def add_failure(self, path: str, reason: str) -> None:
        """Record a file that could not be predicted."""
        self.failures[path] = reason

    def flush(self) -> None:
        """Write the JSON files with everything recorded so far."""
        _dump_json(self.predictions, os.path.join(self.output_dir, "predictions.json"))
        _dump_json(self.probabilities, os.path.join(self.output_dir, "image_probs.json"), indent=1)
        _dump_json(self.images, os.path.join(self.output_dir, "images.json"), indent=1)

    def close(self) -> None:
        """Write the JSON files and the overlay grid."""
        self.flush()
        if self._preview:
            overlays, titles = zip(*self._preview)
            save_grid(os.path.join(self.output_dir, "overlays_grid.png"), overlays, titles, tile_size=192,
                      palette_colors=256)

    def _unique_name(self, path: str) -> str:
        """The file's stem, with a numeric suffix if another input had the same stem."""
        stem = os.path.splitext(os.path.basename(path))[0]
        name, k = stem, 1
        while name in self._names:
            name, k = f"{stem}_{k}", k + 1
        self._names.add(name)
        return name

    def _overlay(
        self, image_rgb: np.ndarray, output: Dict[str, object], probs: Dict[str, float], title: str
    ) -> Tuple[np.ndarray, str]:
        """The overlay of one image and its title: the most probable class, and the class of the heatmap
        shown when that is another one (e.g. the top lesion class of a normal image)."""
        heatmap, top = None, None
        if probs:
            top = max(probs, key=probs.get)
            title += f"  {top} {probs[top]:.2f}"
        if "heatmaps" in output:
            maps = output["heatmaps"]
            c = int(output["image_probs"].argmax() if "image_probs" in output else maps.amax(dim=(1, 2)).argmax())
            heatmap = maps[c].float().numpy()
            if self.class_names[c] != top:
                title += f", map: {self.class_names[c]}"
        instances = output["instances"]
        overlay = render_overlay(
            image_rgb,
            self.class_names,
            heatmap=heatmap,
            pred_boxes=instances.pred_boxes.tensor.numpy(),
            pred_scores=instances.scores.numpy(),
            pred_classes=instances.pred_classes.numpy(),
            score_thresh=self.score_thresh,
            heatmap_options={"normalize": self.heatmap_norm},
        )
        return overlay, title
