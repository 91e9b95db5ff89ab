"""Synthetic breast ultrasound (B-mode) with benign and malignant masses.

Images are built as an echogenicity map (skin, subcutaneous fat with Cooper's ligaments, glandular
tissue, retromammary fat, pectoral muscle), masses and distractors drawn into it, depth attenuation,
multiplicative Rayleigh speckle, then log compression to 8 bits. Benign masses are oval, wider than
tall, circumscribed, with posterior enhancement; malignant ones are irregular, spiculated, taller than
wide, with an echogenic halo and posterior shadowing. Distractors (anechoic spots, ducts, fat lobules,
ligament shadows) appear in every image and are much smaller or less dark than masses.
"""

from typing import Dict, List, Tuple

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

BENIGN, MALIGNANT = 1, 2
BUS_CATEGORIES = [{"id": BENIGN, "name": "benign"}, {"id": MALIGNANT, "name": "malignant"}]
BUS_KINDS = ("normal", "benign", "malignant")
BUS_SPLITS = {s: f"{ANNOTATION_DIR}/{s}.json" for s in ("strong_train", "weak_train", "val", "test")}
BUS_SPEC = SyntheticSpec(
    dirname="bus_synth",
    splits=BUS_SPLITS,
    supervision={"strong_train": "strong", "weak_train": "weak", "val": "strong", "test": "strong"},
    categories=BUS_CATEGORIES,
    modality="US",
    version=2,
)
NORMAL_FRACTION = {"strong_train": 0.1, "weak_train": 1 / 3, "val": 0.25, "test": 0.25}
MASS_DIAMETER = (0.11, 0.25)  # equivalent diameter, fraction of the image width


def _ramp(z: np.ndarray) -> np.ndarray:
    """0 below -0.5, 1 above 0.5, linear in between (a cheap soft step)."""
    return np.clip(z + 0.5, 0.0, 1.0)


def _tissue(rng: np.random.Generator, size: int) -> np.ndarray:
    """Echogenicity map of normal breast tissue (float32, about 0..1)."""
    y = (np.arange(size, dtype=np.float32) / size)[:, None]

    def boundary(depth: float, wobble: float) -> np.ndarray:
        return depth + wobble * smooth_noise(rng, (1, size), (1, size / 3))

    skin = boundary(rng.uniform(0.03, 0.05), 0.004)
    fat_end = boundary(rng.uniform(0.16, 0.30), 0.025)
    gland_end = boundary(rng.uniform(0.62, 0.76), 0.035)
    muscle = gland_end + rng.uniform(0.07, 0.12)
    edge = 6.0 / size

    fat = 0.1 * (1 + 0.3 * np.clip(smooth_noise(rng, (size, size), (size / 10, size / 6)), -1.2, 1.2))
    gland = 0.42 * np.exp(0.3 * smooth_noise(rng, (size, size), (size / 40, size / 10)))
    x = np.arange(size, dtype=np.float32)[None, :] / size
    phase = 2 * np.pi * (y + rng.uniform(-0.15, 0.15) * x) * size / rng.uniform(5, 9)
    striae = 0.15 + 0.3 * np.maximum(np.sin(phase + 2 * smooth_noise(rng, (size, size), size / 6)), 0) ** 4

    echo = np.full((size, size), 0.01, np.float32)
    for depth, level in (
        (skin, 0.7),
        (skin + 0.015, fat),
        (fat_end, gland),
        (gland_end, fat),
        (muscle, striae),
    ):
        echo += (level - echo) * _ramp((y - depth) / edge)

    curves = []  # Cooper's ligaments: echogenic lines crossing the fat obliquely
    t = np.linspace(0, 1, 12)
    for _ in range(rng.integers(3, 7)):
        x0 = rng.uniform(0, size)
        xs = x0 + rng.uniform(-0.25, 0.25) * size * t + rng.uniform(-0.05, 0.05) * size * np.sin(np.pi * t)
        ys = (skin.mean() + t * (fat_end.mean() - skin.mean() + 0.03)) * size
        curves.append(np.stack([xs, ys], 1))
    ligaments = np.zeros((size, size), np.float32)
    draw_polylines(ligaments, curves, 1.0, size / 200)
    return echo + 0.3 * cv2.GaussianBlur(ligaments, (0, 0), 0.7)


def _add_distractors(rng: np.random.Generator, echo: np.ndarray, density: float = 1.0) -> None:
    """Draw normal structures that are not lesions: anechoic spots, ducts, fat lobules, ligament shadows;
    ``density`` scales how many of each kind an image may get (1: up to 3 spots and 2 of the others)."""
    size = echo.shape[0]

    def count(most: int) -> int:
        return int(rng.integers(0, max(1, round(most * density)) + 1))

    dark = np.ones_like(echo)
    for _ in range(count(3)):  # tiny anechoic spots (diameter <= 4% of the width)
        r = rng.uniform(0.008, 0.02) * size
        cv2.circle(
            dark,
            (int(rng.uniform(0.1, 0.9) * size), int(rng.uniform(0.15, 0.75) * size)),
            max(1, round(r)),
            0.1,
            -1,
            cv2.LINE_AA,
        )
    for _ in range(count(2)):  # ducts: thin dark tubes in the glandular layer
        t = np.linspace(0, 1, 10)
        x0, y0 = rng.uniform(0.05, 0.7) * size, rng.uniform(0.3, 0.6) * size
        xs = x0 + rng.uniform(0.15, 0.3) * size * t
        ys = y0 + rng.uniform(-0.08, 0.08) * size * t + 0.02 * size * np.sin(2 * np.pi * t)
        draw_polylines(dark, [np.stack([xs, ys], 1)], 0.35, max(2.0, 0.012 * size))
    for _ in range(count(2)):  # fat lobules: mildly hypoechoic ovals
        axes = (rng.uniform(0.03, 0.06) * size, rng.uniform(0.015, 0.03) * size)
        cv2.ellipse(
            dark,
            (int(rng.uniform(0.1, 0.9) * size), int(rng.uniform(0.3, 0.65) * size)),
            (round(axes[0]), round(axes[1])),
            rng.uniform(-20, 20),
            0,
            360,
            0.55,
            -1,
            cv2.LINE_AA,
        )
    echo *= cv2.GaussianBlur(dark, (0, 0), 0.8)
    y = np.arange(size, dtype=np.float32)[:, None] / size
    x = np.arange(size, dtype=np.float32)[None, :]
    for _ in range(count(2)):  # refraction shadows under Cooper's ligaments
        cx, width, top = rng.uniform(0, size), rng.uniform(0.005, 0.012) * size, rng.uniform(0.2, 0.4)
        column = np.exp(-0.5 * ((x - cx) / width) ** 2)
        echo *= 1 - rng.uniform(0.3, 0.6) * column * _ramp((y - top) * size / 4)


def _mass_mask(rng: np.random.Generator, size: int, category: int, occupied: np.ndarray) -> np.ndarray:
    """Mask of one mass (avoiding ``occupied`` when it can): benign oval and wider than tall,
    malignant angular, spiculated and taller than wide."""
    for _ in range(20):
        d = rng.uniform(*MASS_DIAMETER) * size
        if category == BENIGN:
            aspect = rng.uniform(1.3, 1.9)
            semi = (0.5 * d * np.sqrt(aspect), 0.5 * d / np.sqrt(aspect))
            angle = np.deg2rad(rng.uniform(-12, 12))
            profile = harmonic_profile(rng, 180, 0.05, 4)
        else:
            aspect = rng.uniform(1.2, 1.7)
            semi = (0.5 * d / np.sqrt(aspect), 0.5 * d * np.sqrt(aspect))
            angle = np.deg2rad(rng.uniform(-15, 15))
            corners = rng.uniform(0.75, 1.05, rng.integers(7, 12))  # angular outline: straight edges
            profile = np.interp(
                np.arange(180), np.linspace(0, 180, len(corners) + 1), np.r_[corners, corners[0]]
            )
            phi = np.linspace(0, 2 * np.pi, 180, endpoint=False)
            for direction in rng.uniform(0, 2 * np.pi, rng.integers(5, 11)):  # spicules
                power = 2 * rng.integers(40, 160)  # even power of a cosine: one narrow lobe
                profile += rng.uniform(0.15, 0.35) * np.cos((phi - direction) / 2) ** power
        reach = max(semi) * profile.max() + 2
        lo_x, hi_x = reach, size - reach
        lo_y, hi_y = max(reach, 0.3 * size), min(size - reach, 0.65 * size)  # in the glandular layer
        center = (rng.uniform(lo_x, max(lo_x, hi_x)), rng.uniform(lo_y, max(lo_y, hi_y)))
        mask = radial_mask(size, center, semi, angle, profile)
        if not (mask & occupied).any():
            return mask
    return mask


def _draw_mass(rng: np.random.Generator, echo: np.ndarray, mask: np.ndarray, category: int) -> None:
    """Paint a hypoechoic mass and its posterior acoustic effect into the echogenicity map."""
    size = echo.shape[0]
    benign = category == BENIGN
    m = mask.astype(np.float32)
    soft = cv2.GaussianBlur(m, (0, 0), 0.6 if benign else 1.0)
    texture = smooth_noise(rng, echo.shape, size / 30)
    if benign:
        inside = rng.uniform(0.02, 0.07) * (1 + 0.2 * np.tanh(texture))
        rim = cv2.dilate(m, np.ones((3, 3), np.uint8)) - m
        echo *= 1 + 0.5 * cv2.GaussianBlur(rim, (0, 0), 0.7)
    else:
        inside = rng.uniform(0.025, 0.07) * np.exp(0.5 * texture)
        k = max(3, round(0.03 * size)) | 1
        halo = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) - m
        echo *= 1 + rng.uniform(0.4, 0.9) * cv2.GaussianBlur(halo, (0, 0), 1.5)
        ys, xs = np.nonzero(mask)
        for j in rng.integers(len(ys), size=rng.integers(0, 5)):  # microcalcifications: bright foci
            cv2.circle(inside, (int(xs[j]), int(ys[j])), 1, 0.6, -1)
    echo[:] = echo * (1 - soft) + inside * soft

    rows = np.arange(size, dtype=np.float32)[:, None]
    has = mask.any(axis=0)
    bottom = np.where(has, size - 1 - np.argmax(mask[::-1], axis=0), np.nonzero(mask)[0].max())
    coverage = cv2.GaussianBlur(has.astype(np.float32)[None, :], (0, 0), 1.5)[0]
    depth = rows - bottom[None, :]
    falloff = np.clip(depth / 2.0, 0, 1) * np.exp(-np.maximum(depth, 0) / (rng.uniform(0.3, 0.6) * size))
    strength = rng.uniform(0.7, 1.3) if benign else -rng.uniform(0.55, 0.8)
    echo *= 1 + strength * coverage[None, :] * falloff


def _bmode(rng: np.random.Generator, echo: np.ndarray) -> np.ndarray:
    """Speckle, depth attenuation and log compression of an echogenicity map to an 8-bit image."""
    size = echo.shape[0]
    depth = np.arange(size, dtype=np.float32)[:, None] / size
    echo = echo * np.exp(-rng.uniform(0.4, 1.0) * depth)
    sx, sy = 1.6 * size / 256, 0.8 * size / 256
    noise = rng.standard_normal((size, size, 2), dtype=np.float32)  # complex echo: real, imaginary
    re, im = cv2.split(cv2.GaussianBlur(noise, (0, 0), sx, sigmaY=sy))
    speckle = cv2.magnitude(re, im)
    envelope = echo * speckle / np.sqrt(np.mean(speckle * speckle)) + 1e-3
    dynamic_range = rng.uniform(45, 55)
    db = 20 * np.log10(envelope) - rng.uniform(6, 10)
    grey = (db + dynamic_range) * (255 / dynamic_range)
    grey = cv2.GaussianBlur(grey, (0, 0), 0.5 * size / 256)  # the scanner's display smoothing
    return np.clip(grey, 0, 255).astype(np.uint8)


def render_bus_image(
    rng: np.random.Generator,
    size: int = 256,
    kind: str = "benign",
    num_masses: int = 1,
    distractor_density: float = 1.0,
) -> Tuple[np.ndarray, List[Lesion]]:
    """Render one breast ultrasound image.

    Args:
        rng: random generator (the image is a function of its state).
        size: side of the square image in pixels.
        kind: "normal" (no mass), "benign" or "malignant".
        num_masses: masses drawn in a lesion image.
        distractor_density: scales the number of distractors (see :func:`_add_distractors`).

    Returns:
        ``(image, lesions)``: uint8 image (size x size) and ``[(category_id, mask)]`` with the boolean
        mask of each drawn mass (posterior effects excluded).
    """
    if kind not in BUS_KINDS:
        raise ValueError(f"kind must be one of {BUS_KINDS}, got {kind!r}")
    echo = _tissue(rng, size)
    _add_distractors(rng, echo, distractor_density)
    lesions: List[Lesion] = []
    occupied = np.zeros((size, size), bool)
    category = BENIGN if kind == "benign" else MALIGNANT
    for _ in range(num_masses if kind != "normal" else 0):
        mask = _mass_mask(rng, size, category, occupied)
        _draw_mass(rng, echo, mask, category)
        occupied |= cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        lesions.append((category, mask))
    return _bmode(rng, echo), lesions


def _plan(rng: np.random.Generator, split: str, n: int) -> List[str]:
    """Kinds of the ``n`` images of a split: its share of normals, lesions half benign half malignant."""
    normal = allocate_normals(rng, n, NORMAL_FRACTION[split])
    lesion = rng.permutation(int((~normal).sum())) % 2
    kinds = iter(np.where(lesion == 0, "benign", "malignant").tolist())
    return ["normal" if is_normal else next(kinds) for is_normal in normal]


def generate_bus_dataset(
    root: str,
    *,
    num_strong: int = 10,
    num_weak: int = 400,
    num_val: int = 60,
    num_test: int = 200,
    size: int = 256,
    seed: int = 0,
    distractors: float = 1.0,
    dicom: bool = False,
    force: bool = False,
) -> Dict[str, str]:
    """Write the synthetic breast ultrasound dataset under ``<root>/bus_synth`` (see datasets/README.md).

    Splits: ``strong_train`` (boxes, ~10% normal), ``weak_train`` (image labels only, a third normal),
    ``val`` and ``test`` (boxes, ~25% normal). ``distractors`` scales how many normal structures that
    look like small masses each image may hold (a harder variant: 2). Skips when the output exists with the same options
    (unless ``force``). Returns split name -> JSON path.
    """
    counts = {"strong_train": num_strong, "weak_train": num_weak, "val": num_val, "test": num_test}
    return generate_dataset(
        BUS_SPEC,
        root,
        counts,
        size=size,
        seed=seed,
        dicom=dicom,
        force=force,
        plan=_plan,
        render=lambda rng, s, kind: render_bus_image(rng, s, kind, distractor_density=distractors),
        options={} if distractors == 1.0 else {"distractors": distractors},
    )
