"""Register the embedded synthetic datasets as ``<folder>_<split>`` (root: ``$WSDET_DATASETS``).

``bus_synth_{strong_train,weak_train,val,test}`` and ``cxr_synth_{train,train_masks,val,test}`` are
registered whether or not they have been generated; loading a missing one says which command writes it.
"""
import os
from typing import List, Optional

from detectron2.data import DatasetCatalog, MetadataCatalog

from .coco_image_labels import load_wsdet_coco_json
from .registration import datasets_root
from .synthetic.bus import BUS_SPEC
from .synthetic.common import IMAGE_DIR, SyntheticSpec
from .synthetic.cxr import CXR_SPEC

# (synthetic dataset, the script that writes it)
GENERATORS = (
    (BUS_SPEC, "datasets/prepare_synthetic_bus.py"),
    (CXR_SPEC, "datasets/prepare_synthetic_cxr.py"),
)


def _load_generated(name: str, json_file: str, image_root: str, supervision: str, script: str):
    if not os.path.isfile(json_file):
        raise FileNotFoundError(
            f"dataset {name!r}: {json_file} does not exist. Write it with `python {script} --root "
            f"{os.path.dirname(os.path.dirname(image_root))}` (or point WSDET_DATASETS to its folder)"
        )
    return load_wsdet_coco_json(json_file, image_root, name, supervision=supervision)


def register_synthetic(
    spec: SyntheticSpec, root: str, script: str, prefix: Optional[str] = None
) -> List[str]:
    """Register every split of a synthetic dataset under ``root`` as ``<prefix>_<split>``.

    ``prefix`` defaults to the dataset folder name; give another one to register a second copy
    generated with other options (e.g. fewer strong images) under another root. Returns the names.
    """
    prefix = prefix or spec.dirname
    image_root = os.path.join(root, spec.dirname, IMAGE_DIR)
    names = []
    for split, relative_json in spec.splits.items():
        name = f"{prefix}_{split}"
        json_file = os.path.join(root, spec.dirname, relative_json)
        supervision = spec.supervision[split]
        DatasetCatalog.register(
            name,
            lambda n=name, j=json_file, s=supervision: _load_generated(n, j, image_root, s, script),
        )
        MetadataCatalog.get(name).set(
            json_file=json_file,
            image_root=image_root,
            supervision=supervision,
            evaluator_type="wsdet",
            thing_classes=[c["name"] for c in sorted(spec.categories, key=lambda c: c["id"])],
        )
        names.append(name)
    return names


def register_all_synthetic(root: str) -> None:
    """Register the synthetic breast-ultrasound and chest-X-ray datasets found under ``root``."""
    for spec, script in GENERATORS:
        register_synthetic(spec, root, script)


register_all_synthetic(datasets_root())
