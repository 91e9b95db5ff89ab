"""What the synthetic datasets share: mask -> COCO geometry, image/DICOM writing, split and JSON
writing, idempotent generation and the command-line front end.

A dataset is described by a :class:`SyntheticSpec` plus two callables: ``plan(rng, split, n)`` returns
what each image of a split should contain, and ``render(rng, size, item)`` draws one image and returns
``(image, [(category_id, mask), ...])``. Every image gets its own random generator derived from
``(seed, split, index)``, so outputs are byte-identical for a given seed.
"""

import argparse
import json
import logging
import os
import shutil
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from tqdm import tqdm

logger = logging.getLogger(__name__)

Lesion = Tuple[int, np.ndarray]  # (category id, boolean mask of the drawn lesion)
Plan = Callable[[np.random.Generator, str, int], List[Any]]
Render = Callable[[np.random.Generator, int, Any], Tuple[np.ndarray, List[Lesion]]]

IMAGE_DIR = "images"  # image_root = <root>/<dataset dir>/images; file_name = "<split>/0000.png"
ANNOTATION_DIR = "annotations"  # split JSONs: <root>/<dataset dir>/annotations/<split>.json
META_FILE = "meta.json"
# the true boxes of a weak split, written beside it for analysis (e.g. of pseudo-labels), never trained on
TRUTH_SUFFIX = "_truth.json"
PROGRESS_MIN_IMAGES = 1000  # show a progress bar from this many images on
_FLAG_HELP = {
    "size": "image side in pixels",
    "seed": "random seed (same seed -> identical files)",
    "distractors": "scale of the number of distractors per image",
    "dicom": "write DICOM files instead of PNG",
    "force": "regenerate even if the output exists with the same options",
}
SOP_CLASS_UIDS = {
    "US": "1.2.840.10008.5.1.4.1.1.6.1",  # Ultrasound Image Storage
    "CR": "1.2.840.10008.5.1.4.1.1.1",  # Computed Radiography Image Storage
}


@dataclass(frozen=True)
class SyntheticSpec:
    """Static description of a synthetic dataset."""

    dirname: str  # dataset folder under the datasets root
    splits: Mapping[str, str]  # split name -> JSON path relative to the dataset folder
    supervision: Mapping[str, str]  # split name -> "strong" (boxes written) or "weak" (labels only)
    categories: Sequence[Mapping[str, Any]]
    modality: str  # DICOM Modality when images are written as DICOM
    version: int  # bump when the renderer changes, so that old outputs are regenerated


def smooth_noise(
    rng: np.random.Generator, shape: Tuple[int, int], scale: Union[float, Tuple[float, float]]
) -> np.ndarray:
    """Zero-mean, unit-variance float32 random field whose blobs are about ``scale`` pixels
    (``(along y, along x)`` for anisotropic texture), made by upsampling coarse white noise."""
    sy, sx = (scale, scale) if np.isscalar(scale) else scale
    h, w = shape
    coarse = rng.standard_normal((max(2, round(h / sy)) + 1, max(2, round(w / sx)) + 1)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    mean, std = cv2.meanStdDev(field)
    return (field - np.float32(mean[0, 0])) * np.float32(1.0 / (std[0, 0] + 1e-6))


def harmonic_profile(
    rng: np.random.Generator, num_points: int, amplitude: float, max_order: int
) -> np.ndarray:
    """Smooth closed radius profile ``1 + sum_k a_k cos(k phi + p_k)``, orders 2..max_order,
    ``a_k`` up to ``amplitude / k`` (a gently lobulated outline)."""
    phi = np.linspace(0.0, 2 * np.pi, num_points, endpoint=False)
    orders = np.arange(2, max_order + 1)[:, None]
    amps = amplitude * rng.uniform(0.3, 1.0, (len(orders), 1)) / orders * 2
    phases = rng.uniform(0, 2 * np.pi, (len(orders), 1))
    return 1.0 + (amps * np.cos(orders * phi + phases)).sum(axis=0)


def radial_mask(
    size: int, center: Tuple[float, float], semi_axes: Tuple[float, float], angle: float, profile: np.ndarray
) -> np.ndarray:
    """Boolean mask of the star-shaped region with radius ``profile[k]`` at angle ``2 pi k / K``,
    stretched by ``semi_axes`` (x, y) and rotated by ``angle`` radians about ``center``."""
    phi = np.linspace(0.0, 2 * np.pi, len(profile), endpoint=False)
    px, py = semi_axes[0] * profile * np.cos(phi), semi_axes[1] * profile * np.sin(phi)
    ca, sa = np.cos(angle), np.sin(angle)
    pts = np.stack([center[0] + ca * px - sa * py, center[1] + sa * px + ca * py], axis=1)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def draw_polylines(layer: np.ndarray, curves: Sequence[np.ndarray], value: float, thickness: float) -> None:
    """Draw anti-aliased open polylines (``(x, y)`` points in pixels, sub-pixel precise) into ``layer``."""
    points = [np.round(c * 16).astype(np.int32) for c in curves]
    cv2.polylines(layer, points, False, value, max(1, round(thickness)), cv2.LINE_AA, 4)


def mask_to_bbox(mask: np.ndarray) -> List[float]:
    """Tight COCO box ``[x, y, w, h]`` of a non-empty boolean mask (pixel ``(r, c)`` spans [c, c+1))."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return [float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1)]


def mask_to_polygons(mask: np.ndarray) -> List[List[float]]:
    """Outer contours of a boolean mask as COCO polygons (pixel centres at +0.5)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [(c.reshape(-1, 2) + 0.5).ravel().tolist() for c in contours if len(c) >= 3]


def allocate_normals(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    """Boolean vector of length ``n`` marking normal images: ``round(fraction * n)`` of them, at least
    one when ``fraction > 0`` and ``n >= 2``, in shuffled order."""
    num = round(fraction * n)
    if fraction > 0 and n >= 2:
        num = max(num, 1)
    return rng.permutation(np.arange(n) < num)


def write_dicom(path: str, image: np.ndarray, modality: str, uid_key: Sequence[str]) -> None:
    """Write an 8-bit grey image as a MONOCHROME2 DICOM file with UIDs derived from ``uid_key``."""
    uids = {kind: generate_uid(entropy_srcs=[*uid_key, kind]) for kind in ("study", "series", "sop")}
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SOP_CLASS_UIDS[modality]
    ds.file_meta.MediaStorageSOPInstanceUID = uids["sop"]
    ds.SOPClassUID = SOP_CLASS_UIDS[modality]
    ds.SOPInstanceUID = uids["sop"]
    ds.StudyInstanceUID = uids["study"]
    ds.SeriesInstanceUID = uids["series"]
    ds.Modality = modality
    ds.PatientName = "SYNTHETIC^WSDET"
    ds.PatientID = "-".join(uid_key)
    ds.set_pixel_data(image, "MONOCHROME2", 8, generate_instance_uid=False)
    ds.save_as(path, enforce_file_format=True)


def _write_json(path: str, obj: Any) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))


def _annotation(ann_id: int, image_id: int, category_id: int, mask: np.ndarray) -> Dict[str, Any]:
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": mask_to_bbox(mask),
        "area": float(mask.sum()),
        "segmentation": mask_to_polygons(mask),
        "iscrowd": 0,
    }


def _generate(
    spec: SyntheticSpec,
    out_dir: str,
    counts: Mapping[str, int],
    size: int,
    seed: int,
    dicom: bool,
    plan: Plan,
    render: Render,
) -> None:
    ext = ".dcm" if dicom else ".png"
    total = sum(counts.values())
    with tqdm(total=total, desc=spec.dirname, disable=total < PROGRESS_MIN_IMAGES) as bar:
        for split_index, (split, json_rel) in enumerate(spec.splits.items()):
            n = counts[split]
            items = plan(np.random.default_rng([seed, split_index, 0, 0]), split, n)
            os.makedirs(os.path.join(out_dir, IMAGE_DIR, split), exist_ok=True)
            images, annotations = [], []
            for i, item in enumerate(items):
                image, lesions = render(np.random.default_rng([seed, split_index, 1, i]), size, item)
                file_name = f"{split}/{i:04d}{ext}"
                path = os.path.join(out_dir, IMAGE_DIR, file_name)
                if dicom:
                    write_dicom(path, image, spec.modality, (spec.dirname, split, str(seed), str(i)))
                else:
                    cv2.imwrite(path, image)
                image_id = i + 1
                images.append(
                    {
                        "id": image_id,
                        "file_name": file_name,
                        "height": size,
                        "width": size,
                        "pos_category_ids": sorted({cid for cid, _ in lesions}),
                    }
                )
                for cid, mask in lesions:
                    annotations.append(_annotation(len(annotations) + 1, image_id, cid, mask))
                bar.update()
            coco = {
                "info": {"description": f"wsdet synthetic {spec.dirname} {split}", "version": spec.version},
                "images": images,
                "annotations": annotations,
                "categories": [dict(c) for c in spec.categories],
            }
            if spec.supervision[split] == "weak":  # the boxes stay out of training, kept for analysis
                _write_json(os.path.join(out_dir, json_rel.replace(".json", TRUTH_SUFFIX)), coco)
                coco = {**coco, "annotations": []}
            _write_json(os.path.join(out_dir, json_rel), coco)


def generate_dataset(
    spec: SyntheticSpec,
    root: str,
    counts: Mapping[str, int],
    *,
    size: int,
    seed: int,
    dicom: bool,
    force: bool,
    plan: Plan,
    render: Render,
    options: Optional[Mapping[str, Any]] = None,
) -> Dict[str, str]:
    """Write ``<root>/<spec.dirname>`` (images, split JSONs, ``meta.json``) unless it already holds
    the same options (``options``: the generator's own, recorded in ``meta.json``); return split
    name -> JSON path."""
    out_dir = os.path.join(os.path.expanduser(root), spec.dirname)
    paths = {split: os.path.join(out_dir, rel) for split, rel in spec.splits.items()}
    meta = {"version": spec.version, "counts": dict(counts), "size": size, "seed": seed, "dicom": dicom}
    meta.update(options or {})
    meta_path = os.path.join(out_dir, META_FILE)
    if not force and os.path.isfile(meta_path) and all(os.path.isfile(p) for p in paths.values()):
        with open(meta_path) as f:
            if json.load(f) == meta:
                logger.info("%s already generated with the same options; skipping", out_dir)
                return paths
    for stale in (IMAGE_DIR, ANNOTATION_DIR):
        shutil.rmtree(os.path.join(out_dir, stale), ignore_errors=True)
    if os.path.isfile(meta_path):
        os.remove(meta_path)
    logger.info("generating %s: %s", out_dir, meta)
    _generate(spec, out_dir, counts, size, seed, dicom, plan, render)
    _write_json(meta_path, meta)  # written last: an interrupted run is redone
    return paths


def run_cli(
    generator: Callable[..., Dict[str, str]], description: str, argv: Optional[List[str]] = None
) -> None:
    """Command line for a ``generate_*_dataset`` function: its keyword options become flags
    (``num_train`` -> ``--num-train``) with the function's defaults."""
    defaults = generator.__kwdefaults__
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--root",
        default=os.environ.get("WSDET_DATASETS", "datasets"),
        help="datasets root (default: $WSDET_DATASETS, else ./datasets)",
    )
    for key, value in defaults.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, action="store_true", help=_FLAG_HELP[key])
        else:
            parser.add_argument(
                flag,
                type=type(value),
                default=value,
                help=_FLAG_HELP.get(key, f"number of {key[4:]} images") + f" (default: {value})",
            )
    args = vars(parser.parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths = generator(args.pop("root"), **args)
    for split, path in paths.items():
        print(f"{split}: {path}")
