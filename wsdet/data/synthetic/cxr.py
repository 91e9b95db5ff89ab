"""Synthetic frontal chest radiographs with nodules, masses, consolidations and pleural effusions.

An attenuation map is built from a body outline, two lung fields (apex, lateral wall, costophrenic
angle, diaphragm dome), heart, aortic knob, trachea, spine, ribs, clavicles and hilar vessels;
findings add attenuation inside the lung fields (effusion fills the base of one lung under a meniscus).
The map goes through an exponential film response, noise and blur to an 8-bit MONOCHROME2 image
(bright = dense).
"""

from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from .common import (
    ANNOTATION_DIR,
    Lesion,
    SyntheticSpec,
    allocate_normals,
    draw_polylines,
    generate_dataset,
    harmonic_profile,
    radial_mask,
    smooth_noise,
)

NODULE, MASS, OPACITY, EFFUSION = 1, 2, 3, 4
CXR_CATEGORIES = [
    {"id": NODULE, "name": "nodule"},
    {"id": MASS, "name": "mass"},
    {"id": OPACITY, "name": "opacity"},
    {"id": EFFUSION, "name": "effusion"},
]
CXR_SPLITS = {s: f"{ANNOTATION_DIR}/{s}.json" for s in ("train", "train_masks", "val", "test")}
CXR_SPEC = SyntheticSpec(
    dirname="cxr_synth",
    splits=CXR_SPLITS,
    supervision={"train": "weak", "train_masks": "strong", "val": "strong", "test": "strong"},
    categories=CXR_CATEGORIES,
    modality="CR",
    version=2,
)
NORMAL_FRACTION = 0.35
FINDINGS_PER_IMAGE = {1: 0.55, 2: 0.3, 3: 0.15}  # distribution over abnormal images


def _lung_polygon(side: int, cx: float, g: Dict[str, float], size: int) -> np.ndarray:
    """Outline of one lung (side -1 = image left, +1 = image right) in pixels: lateral wall from the
    apex to the costophrenic angle, diaphragm dome, medial border back to the apex."""
    t = np.linspace(0.0, 1.0, 24)
    ease = np.sin(0.5 * np.pi * t) ** 0.6
    cp = g["cp"] - (g["right_lift"] if side < 0 else 0.0)
    base = cp - g["card"]
    lateral = np.stack(
        [g["apex_off"] + (g["lat"] - g["apex_off"]) * ease, g["apex"] + (cp - g["apex"]) * t], 1
    )
    dome = np.stack(
        [g["lat"] + (g["med"] - g["lat"]) * t, cp + (base - cp) * t - g["dome"] * np.sin(np.pi * t) ** 0.5], 1
    )
    top = g["apex"] + 0.15
    medial = np.stack([np.full_like(t, g["med"]), base + (top - base) * t], 1)
    upper = np.stack(
        [g["apex_off"] + (g["med"] - g["apex_off"]) * ease, g["apex"] + (top - g["apex"]) * t], 1
    )
    offsets = np.concatenate([lateral, dome, medial, upper[::-1]])
    return np.stack([cx + side * offsets[:, 0], offsets[:, 1]], 1) * size


def _draw_curves(size: int, curves: Sequence[np.ndarray], thickness: float) -> np.ndarray:
    """Float32 layer with anti-aliased polylines (points in pixels), blurred to soft bands."""
    layer = np.zeros((size, size), np.float32)
    draw_polylines(layer, curves, 1.0, thickness)
    return cv2.GaussianBlur(layer, (0, 0), max(0.5, thickness / 4))


def _geometry(rng: np.random.Generator) -> Dict[str, float]:
    """Random chest proportions, as fractions of the image side (offsets measured from the midline)."""
    return {
        "cx": 0.5 + rng.uniform(-0.02, 0.02),  # midline
        "apex": rng.uniform(0.09, 0.14),  # lung apex height
        "cp": rng.uniform(0.76, 0.84),  # costophrenic angle height (image-right lung)
        "right_lift": rng.uniform(0.01, 0.04),  # the patient's right hemidiaphragm sits higher
        "lat": rng.uniform(0.34, 0.40),  # lateral lung wall
        "apex_off": rng.uniform(0.14, 0.18),  # apex offset
        "med": rng.uniform(0.05, 0.07),  # medial lung border (mediastinum half width)
        "dome": rng.uniform(0.07, 0.11),  # diaphragm dome height
        "card": rng.uniform(0.03, 0.07),  # cardiophrenic angle above the costophrenic one
        "hilum": rng.uniform(0.1, 0.14),  # hilum offset
        "hilum_v": rng.uniform(0.4, 0.48),  # hilum height
    }


def _lungs(rng: np.random.Generator, g: Dict[str, float], size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Masks of the image-left and image-right lung fields, minus the heart and aortic knob."""
    cx = g["cx"]
    heart = np.zeros((size, size), np.uint8)
    center = (round((cx + rng.uniform(0.06, 0.09)) * size), round((g["cp"] - rng.uniform(0.1, 0.13)) * size))
    axes = (round(rng.uniform(0.17, 0.2) * size), round(rng.uniform(0.1, 0.12) * size))
    cv2.ellipse(heart, center, axes, rng.uniform(10, 25), 0, 360, 1, -1)
    knob = (round((cx + 0.06) * size), round(rng.uniform(0.27, 0.31) * size))
    cv2.circle(heart, knob, round(0.035 * size), 1, -1)
    lungs = []
    for side in (-1, 1):
        mask = np.zeros((size, size), np.uint8)
        outline = np.round(_lung_polygon(side, cx, g, size) * 16).astype(np.int32)
        cv2.fillPoly(mask, [outline], 1, cv2.LINE_8, 4)
        lungs.append((mask & (1 - heart)).astype(bool))
    return lungs[0], lungs[1]


def _bones_and_vessels(
    rng: np.random.Generator, g: Dict[str, float], size: int
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft layers (0..1) of the ribs, the clavicles and the hilar vessel trees."""
    cx = g["cx"]
    posterior, anterior, clavicles, vessels = [], [], [], []
    spacing = (g["cp"] - g["apex"]) / 8.0
    d = np.linspace(0.03, g["lat"] + 0.05, 16)  # posterior ribs: rise from the spine, bend down laterally
    da = np.linspace(0.1, g["lat"] + 0.03, 8)  # anterior ribs: slope down towards the midline
    dc = np.linspace(0.05, 0.32, 10)
    for side in (-1, 1):
        for i in range(9):
            v0 = g["apex"] - 0.02 + i * spacing
            posterior.append(np.stack([cx + side * d, v0 - 0.4 * d + 2.4 * d**3], 1) * size)
            anterior.append(np.stack([cx + side * da, v0 + 0.06 + 0.4 * (da[-1] - da) ** 1.3], 1) * size)
        clavicles.append(
            np.stack([cx + side * dc, 0.17 - 0.15 * dc + 0.01 * np.sin(4 * np.pi * dc)], 1) * size
        )
        hilum = np.array([cx + side * g["hilum"], g["hilum_v"]])
        for phi in np.deg2rad(rng.uniform(-80, 80, 8)):  # vessel trees: a trunk and two branches
            trunk = hilum + rng.uniform(0.05, 0.1) * np.array([side * np.cos(phi), np.sin(phi)])
            vessels.append(np.stack([hilum, trunk]) * size)
            for turn in np.deg2rad(rng.uniform(15, 35, 2) * [-1, 1]):
                direction = np.array([side * np.cos(phi + turn), np.sin(phi + turn)])
                vessels.append(np.stack([trunk, trunk + rng.uniform(0.05, 0.12) * direction]) * size)
    thick = 0.02 * size
    ribs = 0.06 * _draw_curves(size, posterior, thick) + 0.03 * _draw_curves(size, anterior, 1.3 * thick)
    return ribs, _draw_curves(size, clavicles, 1.2 * thick), _draw_curves(size, vessels, 0.008 * size)


def _anatomy(rng: np.random.Generator, size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Attenuation map of a normal chest and the masks of the image-left and image-right lungs."""
    g = _geometry(rng)
    cx = g["cx"]
    u = np.arange(size, dtype=np.float32)[None, :] / size
    v = np.arange(size, dtype=np.float32)[:, None] / size
    shoulders = 0.12 + 0.46 / (1 + np.exp(-(v - 0.07) / 0.02))
    half_width = shoulders - rng.uniform(0.06, 0.12) / (1 + np.exp(-(v - 0.3) / 0.08))
    body = np.sqrt(np.clip(1 - ((u - cx) / half_width) ** 2, 0, 1))  # chord through an elliptic trunk
    left, right = _lungs(rng, g, size)
    lung = cv2.GaussianBlur((left | right).astype(np.float32), (0, 0), 1.5 * size / 256)
    depth = np.clip((v - g["apex"]) / (g["cp"] - g["apex"]), 0, 1)
    atten = 0.4 * body - (0.27 - 0.05 * depth) * lung

    vertebrae = 1 + 0.3 * np.cos(2 * np.pi * v / 0.045)
    atten += 0.1 * np.exp(-(((u - cx) / 0.035) ** 2)) * vertebrae * (v > 0.04)
    atten -= 0.07 * np.exp(-(((u - cx) / 0.012) ** 2)) * (v < 0.3)  # tracheal air column
    stomach = (((u - cx - 0.17) / 0.05) ** 2 + ((v - g["cp"] + 0.01) / 0.035) ** 2) < 1  # gastric bubble
    atten -= 0.12 * cv2.GaussianBlur(stomach.astype(np.float32), (0, 0), 2 * size / 256)
    for side in (-1, 1):  # hilar shadows
        atten += 0.08 * np.exp(-((u - cx - side * g["hilum"]) ** 2 + (v - g["hilum_v"]) ** 2) / 0.002)

    ribs, clavicles, vessels = _bones_and_vessels(rng, g, size)
    thorax = 1 / (1 + np.exp((v - g["cp"] - 0.03) / 0.02))  # ribs fade out below the diaphragm
    atten += body * (thorax * (0.4 + 0.6 * lung) * ribs + 0.12 * clavicles)
    atten += lung * (0.035 * vessels + 0.02 * smooth_noise(rng, (size, size), size / 30))
    return atten, left, right


def _place(rng: np.random.Generator, free: np.ndarray, radius: float) -> Tuple[float, float]:
    """A random point of ``free`` at least ``radius`` px from its border (else the innermost one)."""
    dist = cv2.distanceTransform(free.astype(np.uint8), cv2.DIST_L2, 3)
    candidates = np.flatnonzero(dist.ravel() >= radius)
    index = rng.choice(candidates) if len(candidates) else int(np.argmax(dist))
    return float(index % free.shape[1]), float(index // free.shape[1])


def _finding_mask(
    rng: np.random.Generator, category: int, lung_sides: Tuple[np.ndarray, np.ndarray], free: np.ndarray
) -> np.ndarray:
    """Mask of one finding inside ``free`` (the lung fields not yet taken); effusion, drawn first,
    fills the base of one lung."""
    size = free.shape[0]
    if category == EFFUSION:
        side = lung_sides[rng.integers(2)]
        rows = np.flatnonzero(side.any(axis=1))
        cols = np.flatnonzero(side.any(axis=0))
        level = rows[-1] - rng.uniform(0.07, 0.17) * size
        lateral = cols[0] if cols.mean() < size / 2 else cols[-1]
        proximity = np.clip(1 - np.abs(np.arange(size) - lateral) / (0.3 * size), 0, 1)
        meniscus = level - rng.uniform(0.03, 0.08) * size * proximity**2
        return side & (np.arange(size)[:, None] > meniscus[None, :])
    if category == OPACITY:
        center = _place(rng, free, 0.04 * size)
        semi = rng.uniform(0.06, 0.12, 2) * size
        angle = rng.uniform(0, np.pi)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        dx, dy = xx - center[0], yy - center[1]
        q = ((dx * np.cos(angle) + dy * np.sin(angle)) / semi[0]) ** 2
        q += ((dy * np.cos(angle) - dx * np.sin(angle)) / semi[1]) ** 2
        return (q + 0.5 * smooth_noise(rng, (size, size), size / 20) < 1) & free
    radius = rng.uniform(0.015, 0.03) * size if category == NODULE else rng.uniform(0.045, 0.075) * size
    center = _place(rng, free, radius if category == NODULE else 0.6 * radius)
    lobulation = 0.05 if category == NODULE else 0.15
    return radial_mask(size, center, (radius, radius), 0.0, harmonic_profile(rng, 90, lobulation, 5)) & free


def _finding_density(rng: np.random.Generator, category: int, mask: np.ndarray) -> np.ndarray:
    """Attenuation added by a finding: solid nodules/masses, patchy opacity, dependent fluid."""
    size = mask.shape[0]
    m = mask.astype(np.float32)
    if category == NODULE:
        return rng.uniform(0.12, 0.2) * cv2.GaussianBlur(m, (0, 0), 1.0 * size / 256)
    if category == MASS:
        return rng.uniform(0.15, 0.25) * cv2.GaussianBlur(m, (0, 0), 1.5 * size / 256)
    if category == OPACITY:
        patchy = 1 + 0.35 * smooth_noise(rng, mask.shape, size / 40)
        return rng.uniform(0.1, 0.18) * cv2.GaussianBlur(m * patchy, (0, 0), 2.5 * size / 256)
    below = np.arange(size)[:, None] - np.argmax(mask, axis=0)[None, :]  # depth under the meniscus
    layered = m * np.clip(below / (0.04 * size), 0.35, 1)
    return rng.uniform(0.18, 0.26) * cv2.GaussianBlur(layered, (0, 0), 2 * size / 256)


def render_cxr_image(
    rng: np.random.Generator, size: int = 256, findings: Sequence[int] = ()
) -> Tuple[np.ndarray, List[Lesion]]:
    """Render one frontal chest radiograph.

    Args:
        rng: random generator (the image is a function of its state).
        size: side of the square image in pixels.
        findings: category ids to draw (each at most once; effusion is drawn first, at a lung base).

    Returns:
        ``(image, lesions)``: uint8 image (size x size, bright = dense) and ``[(category_id, mask)]``,
        each mask the finding's region inside the lung fields.
    """
    atten, left, right = _anatomy(rng, size)
    free = left | right
    lesions: List[Lesion] = []
    for category in sorted(set(findings), key=lambda c: c != EFFUSION):
        mask = _finding_mask(rng, category, (left, right), free)
        atten += _finding_density(rng, category, mask)
        free &= ~cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        lesions.append((category, mask))
    lesions.sort(key=lambda lesion: lesion[0])
    film = 1 - np.exp(-rng.uniform(2.0, 2.6) * np.maximum(atten, 0))
    film += 0.02 * rng.standard_normal(film.shape, dtype=np.float32)
    film = cv2.GaussianBlur(film, (0, 0), 0.6 * size / 256)
    low, high = rng.uniform(0.05, 0.1), rng.uniform(0.75, 0.85)
    return np.clip((film - low) / (high - low) * 255, 0, 255).astype(np.uint8), lesions


def _plan(rng: np.random.Generator, split: str, n: int) -> List[Tuple[int, ...]]:
    """Findings of the ``n`` images of a split: ~35% normal, the others 1-3 distinct findings."""
    normal = allocate_normals(rng, n, NORMAL_FRACTION)
    counts = rng.choice(list(FINDINGS_PER_IMAGE), size=n, p=list(FINDINGS_PER_IMAGE.values()))
    ids = [c["id"] for c in CXR_CATEGORIES]
    return [
        () if is_normal else tuple(sorted(rng.choice(ids, k, replace=False).tolist()))
        for is_normal, k in zip(normal, counts)
    ]


def generate_cxr_dataset(
    root: str,
    *,
    num_train: int = 600,
    num_masks: int = 20,
    num_val: int = 100,
    num_test: int = 200,
    size: int = 256,
    seed: int = 0,
    dicom: bool = False,
    force: bool = False,
) -> Dict[str, str]:
    """Write the synthetic chest X-ray dataset under ``<root>/cxr_synth`` (see datasets/README.md).

    Splits: ``train`` (image labels only), ``train_masks`` (distinct images with boxes and
    segmentation masks, for mask-supervised stages), ``val`` and ``test`` (boxes + masks); ~35% of
    every split is normal. Skips when the output exists with the same options (unless ``force``).
    Returns split name -> JSON path.
    """
    counts = {"train": num_train, "train_masks": num_masks, "val": num_val, "test": num_test}
    return generate_dataset(
        CXR_SPEC,
        root,
        counts,
        size=size,
        seed=seed,
        dicom=dicom,
        force=force,
        plan=_plan,
        render=render_cxr_image,
    )
