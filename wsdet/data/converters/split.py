"""Simulate a strong/weak set-up: turn a seeded, label-stratified fraction of box images into weak ones."""
import dataclasses
import math
import random
from collections import defaultdict
from typing import Dict, List, Tuple

from .coco_writer import Conversion


def choose_weak_ids(images: List[Dict], fraction: float, seed: int) -> List[int]:
    """Ids of ``round_half_up(fraction * n)`` images of each label set (normal, benign, ...), seeded."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"the weak fraction must lie in [0, 1], got {fraction}")
    strata: Dict[Tuple[int, ...], List[int]] = defaultdict(list)
    for img in images:
        strata[tuple(img["pos_category_ids"])].append(img["id"])
    rng = random.Random(seed)
    chosen: List[int] = []
    for key in sorted(strata):
        ids = sorted(strata[key])
        chosen += rng.sample(ids, math.floor(fraction * len(ids) + 0.5))
    return sorted(chosen)


def split_weak(conversion: Conversion, fraction: float, seed: int) -> Conversion:
    """Move a fraction of the strong images to the weak file (their boxes dropped), per label set.

    Images that were weak already (e.g. a lesion image whose mask is empty) stay weak.
    """
    strong, weak = conversion.strong, conversion.weak
    moved = set(choose_weak_ids(strong["images"], fraction, seed))
    new_strong = dict(strong)
    new_strong["images"] = [img for img in strong["images"] if img["id"] not in moved]
    new_strong["annotations"] = [a for a in strong["annotations"] if a["image_id"] not in moved]
    new_weak = dict(weak)
    new_weak["images"] = sorted(
        weak["images"] + [img for img in strong["images"] if img["id"] in moved], key=lambda i: i["id"]
    )
    conversion.report.note(
        f"weak split (fraction {fraction}, seed {seed}): {len(moved)} of {len(strong['images'])} "
        "box-annotated images moved to the weak file, boxes dropped"
    )
    return dataclasses.replace(conversion, strong=new_strong, weak=new_weak)


def keep_fraction(coco: Dict, fraction: float, seed: int) -> Dict:
    """A copy of ``coco`` with a seeded, label-stratified fraction of its images and their annotations.

    Used to study fewer box-annotated images (e.g. 10% of a strong pool); the categories are kept.
    """
    kept = set(choose_weak_ids(coco["images"], fraction, seed))
    if not kept:
        raise ValueError(f"keeping a fraction {fraction} of {len(coco['images'])} images leaves none")
    subset = dict(coco)
    subset["images"] = [img for img in coco["images"] if img["id"] in kept]
    subset["annotations"] = [a for a in coco.get("annotations", []) if a["image_id"] in kept]
    return subset
