"""Register wsdet datasets (user COCO files and the embedded synthetic ones) in Detectron2's catalogs."""
import os
from typing import Optional

from detectron2.data import DatasetCatalog, MetadataCatalog

from .coco_image_labels import SUPERVISIONS, load_wsdet_coco_json


def register_wsdet_coco(
    name: str,
    json_file: str,
    image_root: str,
    supervision: Optional[str] = None,
    **metadata,
) -> None:
    """Register a COCO JSON with image-level labels under ``name``.

    Args:
        name: the dataset name used in ``cfg.DATASETS``.
        json_file: COCO JSON path (``images[i]["pos_category_ids"]`` hold image-level labels).
        image_root: directory that the JSON's ``file_name`` entries are relative to.
        supervision: "strong", "weak", or None to infer from the file when it is loaded
            (strong if it holds box annotations).
        metadata: extra metadata (e.g. ``thing_colors``).
    """
    if supervision is not None and supervision not in SUPERVISIONS:
        raise ValueError(f"supervision must be one of {SUPERVISIONS} or None, got {supervision!r}")
    DatasetCatalog.register(
        name, lambda: load_wsdet_coco_json(json_file, image_root, name, supervision=supervision)
    )
    MetadataCatalog.get(name).set(
        json_file=json_file,
        image_root=image_root,
        supervision=supervision,
        evaluator_type="wsdet",
        **metadata,
    )


def datasets_root() -> str:
    """Root of the embedded datasets: ``$WSDET_DATASETS``, else ``datasets`` (like DETECTRON2_DATASETS)."""
    return os.path.expanduser(os.environ.get("WSDET_DATASETS", "datasets"))
