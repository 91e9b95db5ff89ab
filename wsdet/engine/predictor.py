"""Run a trained wsdet model on image files: what to read, how to read it, and the class names."""
import dataclasses
import fnmatch
import logging
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pydicom
import torch
from detectron2.config import CfgNode
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data import transforms as T
from detectron2.modeling import build_model

from ..data import DatasetFormatError
from ..data.image_io import DICOM_EXTENSIONS, ImageReadOptions, is_dicom, read_image
from ..modeling.cam import CAMHead
from .checkpoint import load_weights_to_evaluate

__all__ = [
    "IMAGE_EXTENSIONS",
    "InputImage",
    "Predictor",
    "class_metadata",
    "dataset_inputs",
    "dicom_uids",
    "image_probabilities",
    "list_inputs",
]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp") + DICOM_EXTENSIONS
InputImage = Tuple[str, int]  # (file, image id)


class Predictor:
    """Detectron2's ``DefaultPredictor`` for wsdet models: wsdet's image reader (DICOM included), no
    dependency on dataset metadata, outputs on the CPU."""

    def __init__(self, cfg: CfgNode, allow_untrained: bool = False):
        """
        Args:
            cfg: the model's config; ``MODEL.WEIGHTS`` are loaded (refused when they provide none of the
                model's parameters, unless ``allow_untrained``).
        """
        self.model = build_model(cfg)
        self.model.eval()
        load_weights_to_evaluate(self.model, cfg, allow_untrained=allow_untrained)
        self.resize = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
        self.input_format = cfg.INPUT.FORMAT
        self.read_options = ImageReadOptions.from_config(cfg)
        cam_heads = [m for m in self.model.modules() if isinstance(m, CAMHead)]
        # image_probs of softmax detectors drop the background (normal) probability
        self.single_label = cam_heads[0].single_label if cam_heads else True

    def read(self, path: str) -> np.ndarray:
        """The image in ``cfg.INPUT.FORMAT``; raises :class:`wsdet.data.ImageReadError`."""
        return read_image(path, self.input_format, **dataclasses.asdict(self.read_options))

    def __call__(self, image: np.ndarray) -> Dict[str, object]:
        height, width = image.shape[:2]
        resized = self.resize.get_transform(image).apply_image(image)
        tensor = torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1)))
        with torch.no_grad():
            output = self.model([{"image": tensor, "height": height, "width": width}])[0]
        return {k: v.to("cpu") for k, v in output.items()}


def _excluded(path: str, exclude: Sequence[str]) -> bool:
    name = os.path.basename(path)
    return any(fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(path, pattern) for pattern in exclude)


def list_inputs(
    paths: Sequence[str], recursive: bool = False, exclude: Sequence[str] = ()
) -> Tuple[List[InputImage], Dict[str, str]]:
    """
    The files given, and the PNG / JPEG / TIFF / BMP / DICOM files of the folders given (sorted; DICOM
    also by its ``DICM`` magic, for extensionless exports), with image ids 1, 2, ... in that order.
    Names (or paths) matching an ``exclude`` glob are left out. Sub-folders are entered with
    ``recursive``; otherwise, like dangling links and links that loop, they are returned as skipped.

    Returns:
        the (file, image id) inputs, and ``{path: reason}`` of what was skipped.
    """
    files: List[str] = []
    skipped: Dict[str, str] = {}
    visited = set()

    def walk(folder: str) -> None:
        real = os.path.realpath(folder)
        if real in visited:
            skipped[folder] = "folder already listed (a link loops back to it)"
            return
        visited.add(real)
        for entry in sorted(os.listdir(folder)):
            full = os.path.join(folder, entry)
            if entry.startswith(".") or _excluded(full, exclude):
                continue
            if os.path.islink(full) and not os.path.exists(full):
                skipped[full] = "dangling link"
            elif os.path.isdir(full):
                if recursive:
                    walk(full)
                else:
                    skipped[full] = "folder (use --recursive to read folders inside folders)"
            elif os.path.isfile(full) and (entry.lower().endswith(IMAGE_EXTENSIONS) or is_dicom(full)):
                files.append(full)

    for path in paths:
        if os.path.isdir(path):
            walk(path)
        elif not _excluded(path, exclude):
            files.append(path)
    return [(path, image_id) for image_id, path in enumerate(files, start=1)], skipped


def dataset_inputs(name: str) -> List[InputImage]:
    """The (file, image id) of every image of a registered dataset, so that predictions are scored
    against it directly (e.g. with pycocotools' COCOeval on its JSON)."""
    return [(d["file_name"], d["image_id"]) for d in DatasetCatalog.get(name)]


def dicom_uids(path: str) -> Dict[str, str]:
    """Study, Series and SOP Instance UIDs of a DICOM file (empty for other files), so that results can
    be matched to PACS records."""
    if not is_dicom(path):
        return {}
    tags = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(tags))
    except (OSError, pydicom.errors.InvalidDicomError):
        return {}
    keys = ("study_instance_uid", "series_instance_uid", "sop_instance_uid")
    return {key: str(header.get(tag)) for key, tag in zip(keys, tags) if header.get(tag)}


def class_metadata(cfg: CfgNode, dataset: Optional[str] = None) -> Tuple[List[str], List[int]]:
    """Class names and the category id of each contiguous class, from ``dataset`` or else the first
    dataset of the config (DATASETS.TEST, then TRAIN) that is registered and loads; else "class_<i>"
    and ids i + 1."""
    for name in ([dataset] if dataset else [*cfg.DATASETS.TEST, *cfg.DATASETS.TRAIN]):
        if name not in DatasetCatalog.list():
            continue
        meta = MetadataCatalog.get(name)
        if not hasattr(meta, "thing_dataset_id_to_contiguous_id"):
            try:
                DatasetCatalog.get(name)  # wsdet's loader sets thing_classes and the id mapping
            except (OSError, DatasetFormatError) as e:
                logger.warning("No class names from dataset %s: %s", name, e)
                continue
        to_dataset = {c: d for d, c in meta.thing_dataset_id_to_contiguous_id.items()}
        return list(meta.thing_classes), [to_dataset[c] for c in range(len(to_dataset))]
    num_classes = cfg.MODEL.ROI_HEADS.NUM_CLASSES
    logger.warning("No registered dataset in the config: classes named class_<i>, category ids i + 1")
    return [f"class_{i}" for i in range(num_classes)], list(range(1, num_classes + 1))


def image_probabilities(probs: torch.Tensor, class_names: Sequence[str], single_label: bool) -> Dict[str, float]:
    """Class name -> probability, and "normal" (1 - sum) for single-label models."""
    values = {name: float(p) for name, p in zip(class_names, probs.tolist())}
    if single_label:
        values["normal"] = max(0.0, 1.0 - float(probs.sum()))
    return values
