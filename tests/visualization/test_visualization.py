"""Overlays (boxes, heatmaps, grids) on hand-built images, and FROC plots with bootstrap bands."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from wsdet.evaluation import BoxTable, froc, sensitivity_at
from wsdet.visualization import (
    CLASS_COLORS,
    GT_COLOR,
    colormap_lut,
    draw_boxes,
    draw_detections,
    froc_band,
    make_grid,
    overlay_heatmap,
    plot_froc,
    render_overlay,
    save_grid,
    to_rgb,
    write_png,
)

from conftest import TOOLS, unique_name
from wsdet.modeling.cam import normalize_heatmaps

RED = (255, 0, 0)


def grey_ramp(height: int = 50, width: int = 60) -> np.ndarray:
    return np.tile(np.linspace(20, 200, width).astype(np.uint8), (height, 1))


def outline(image: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """The pixels of the outline of the box [x0, x1) x [y0, y1), as an (n, 3) array."""
    return np.concatenate([image[y0, x0:x1], image[y1 - 1, x0:x1], image[y0:y1, x0], image[y0:y1, x1 - 1]])


def test_to_rgb_replicates_grey_and_copies():
    grey = grey_ramp()
    rgb = to_rgb(grey)
    assert rgb.shape == (50, 60, 3) and (rgb == grey[..., None]).all()
    assert (to_rgb(grey[..., None]) == rgb).all()
    colour = np.zeros((4, 5, 3), np.uint8)
    assert to_rgb(colour) is not colour
    with pytest.raises(TypeError):
        to_rgb(grey.astype(np.float32))


def test_box_outline_in_place_and_colour():
    image = np.zeros((50, 60), np.uint8)
    drawn = draw_boxes(image, np.array([[10.0, 12.0, 30.0, 28.0]]), RED)
    assert (outline(drawn, 10, 12, 30, 28) == RED).all()
    assert (drawn[13:27, 11:29] == 0).all()  # inside
    assert (drawn[11] == 0).all() and (drawn[28] == 0).all()  # rows just outside
    assert (drawn[:, 9] == 0).all() and (drawn[:, 30] == 0).all()  # columns just outside
    assert (image == 0).all()  # input untouched


def test_box_outside_the_image_is_clipped():
    drawn = draw_boxes(np.zeros((20, 20), np.uint8), [[-5, -5, 10, 40]], RED)
    assert (drawn[0, 0:10] == RED).all() and (drawn[:, 9] == RED).all() and (drawn[19, 0:10] == RED).all()


def test_detections_coloured_by_class_and_thresholded():
    image = np.zeros((80, 80), np.uint8)
    boxes = np.array([[10, 30, 30, 50], [40, 30, 70, 60], [5, 65, 15, 75]], dtype=np.float32)
    drawn = draw_detections(
        image,
        boxes,
        scores=[0.9, 0.6, 0.2],
        classes=[0, 1, 0],
        class_names=["benign", "malignant"],
        score_thresh=0.5,
    )
    # bottom and right edges (the labels sit above the boxes)
    assert (drawn[49, 10:30] == CLASS_COLORS[0]).all() and (drawn[30:50, 29] == CLASS_COLORS[0]).all()
    assert (drawn[59, 40:70] == CLASS_COLORS[1]).all() and (drawn[30:60, 69] == CLASS_COLORS[1]).all()
    assert (drawn[62:, :20] == 0).all()  # score 0.2 < 0.5: not drawn
    labelled = drawn[18:30, 10:40]  # the label band above the first box
    assert (labelled == CLASS_COLORS[0]).all(axis=-1).mean() > 0.3


def test_ground_truth_in_gt_colour_under_predictions():
    overlay = render_overlay(
        np.zeros((60, 60), np.uint8),
        ["lesion"],
        gt_boxes=[[20, 20, 40, 40]],
        pred_boxes=[[20, 20, 40, 40]],
        pred_scores=[0.8],
        pred_classes=[0],
    )
    assert (overlay[21:39, 39] == CLASS_COLORS[0]).all()  # prediction drawn last, on top
    plain = render_overlay(np.zeros((60, 60), np.uint8), ["lesion"], gt_boxes=[[20, 20, 40, 40]])
    assert (outline(plain, 20, 20, 40, 40) == GT_COLOR).all()


def test_normalize_heatmap_modes():
    values = np.array([[-1.0, 0.25, 2.0]])
    assert np.allclose(normalize_heatmaps(values, "absolute"), [[0.0, 0.25, 1.0]])
    assert np.allclose(normalize_heatmaps(values, "minmax"), [[0.0, 1.25 / 3, 1.0]])
    assert np.allclose(normalize_heatmaps(np.full((2, 2), 7.0), "minmax"), 0.0)
    with pytest.raises(ValueError):
        normalize_heatmaps(values, "sigmoid")


def test_absolute_and_minmax_differ_on_a_low_map():
    image, heat = np.zeros((4, 4), np.uint8), np.full((4, 4), 0.1)
    heat[0, 0] = 0.2
    absolute = overlay_heatmap(image, heat, alpha=1.0, weight_by_value=False, normalize="absolute")
    minmax = overlay_heatmap(image, heat, alpha=1.0, weight_by_value=False, normalize="minmax")
    jet = colormap_lut("jet")
    assert (absolute[0, 0] == jet[round(0.2 * 255)]).all() and (absolute[1, 1] == jet[round(0.1 * 255)]).all()
    assert (minmax[0, 0] == jet[255]).all() and (minmax[1, 1] == jet[0]).all()


def test_grey_image_stays_grey_where_the_heatmap_is_transparent():
    grey = grey_ramp()
    heat = np.zeros(grey.shape, np.float32)
    heat[10:20, 10:20] = 1.0
    assert (overlay_heatmap(grey, heat, alpha=0.0) == to_rgb(grey)).all()
    blended = overlay_heatmap(grey, heat, alpha=0.6)
    outside = np.ones(grey.shape, bool)
    outside[10:20, 10:20] = False
    assert (blended[outside] == to_rgb(grey)[outside]).all()
    assert blended[15, 15, 0] > blended[15, 15, 2] + 50  # jet's dark red
    uniform = overlay_heatmap(grey, heat, alpha=0.6, weight_by_value=False)
    assert (uniform[outside][:, 2] > uniform[outside][:, 0]).all()  # jet's blue over everything


def test_heatmap_resized_to_the_image():
    heat = np.zeros((5, 6))
    heat[:, 3:] = 1.0
    blended = overlay_heatmap(np.zeros((50, 60), np.uint8), heat, alpha=1.0, weight_by_value=False)
    jet = colormap_lut("jet")
    assert blended.shape == (50, 60, 3)
    assert (blended[25, 2] == jet[0]).all() and (blended[25, 57] == jet[255]).all()


def test_colormap_names():
    jet = colormap_lut("jet")
    assert jet.shape == (256, 3) and jet.dtype == np.uint8
    assert jet[0, 2] > jet[0, 0] and jet[255, 0] > jet[255, 2]  # blue to red
    assert colormap_lut("DeepGreen").shape == (256, 3)  # OpenCV only
    with pytest.raises(ValueError, match="unknown colormap"):
        colormap_lut("no_such_map")


def test_grid_layout_titles_and_png(tmp_path):
    images = [
        np.full((40, 40), 100, np.uint8),
        np.zeros((20, 60, 3), np.uint8),
        np.full((60, 20), 50, np.uint8),
    ]
    grid = make_grid(images, ["a", "b", "c"], columns=2, tile_size=32, spacing=4)
    rows, cols = grid.shape[:2]
    title_h = (rows - 4) // 2 - 32 - 4
    assert cols == 2 * (32 + 4) + 4 and rows == 2 * (32 + title_h + 4) + 4 and title_h > 5
    assert (grid[4 + title_h : 4 + title_h + 32, 4:36] == 100).all()  # first tile, scaled
    assert (grid[4 : 4 + title_h, 4:36] < 128).any()  # its title
    assert (grid[-36:-4, -36:-4] == 255).all()  # no fourth tile: background
    path = str(tmp_path / "sub" / "grid.png")
    save_grid(path, [np.full((8, 8, 3), RED, np.uint8)], ["red"], tile_size=8)
    assert (cv2.imread(path)[-8:-4, 4:8] == (0, 0, 255)).all()  # RGB written as a PNG (BGR in cv2)


def test_sensitivity_at_is_a_step_function():
    curve = {"fp_per_image": np.array([0.0, 0.5, 1.0, 2.0]), "sensitivity": np.array([0.0, 0.2, 0.5, 0.6])}
    assert np.allclose(sensitivity_at(curve, [0.25, 0.5, 1.5, 10.0]), [0.0, 0.2, 0.5, 0.6])


def _detection_case(num_images: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    gt = BoxTable(
        np.arange(num_images // 2),
        np.tile([10.0, 10.0, 30.0, 30.0], (num_images // 2, 1)),
        np.zeros(num_images // 2),
        np.ones(num_images // 2),
    )
    n = 3 * num_images
    dets = BoxTable(
        rng.integers(0, num_images, n),
        np.array([10.0, 10.0, 30.0, 30.0]) + rng.normal(0, 4, (n, 4)),
        np.zeros(n),
        rng.random(n),
    )
    return gt, dets


def test_froc_band_brackets_the_curve_and_is_seeded():
    gt, dets = _detection_case()
    observed = froc(gt, dets, 40)
    rates = observed["fp_rates"]
    band = froc_band(gt, dets, 40, rates, n_resamples=300, seed=3)
    assert (band["lower"] <= np.array(observed["sensitivity"]) + 1e-9).all()
    assert (band["upper"] >= np.array(observed["sensitivity"]) - 1e-9).all()
    assert (band["upper"] > band["lower"]).any() and (band["lower"] >= 0).all() and (band["upper"] <= 1).all()
    again = froc_band(gt, dets, 40, rates, n_resamples=300, seed=3)
    assert np.array_equal(band["lower"], again["lower"]) and np.array_equal(band["upper"], again["upper"])


def test_froc_band_without_detections_or_lesions():
    gt, dets = _detection_case()
    none = froc_band(gt, dets.select(np.zeros(len(dets), bool)), 40, [1.0], n_resamples=50)
    assert none["lower"][0] == 0.0 and none["upper"][0] == 0.0
    no_lesion = froc_band(gt.select(np.zeros(len(gt), bool)), dets, 40, [1.0], n_resamples=50)
    assert np.isnan(no_lesion["lower"]).all()


def _light_blue_pixels(path: str) -> int:
    """Pixels of the first curve's band: matplotlib's C0 blue at 20% opacity over white."""
    image = cv2.imread(path)[..., ::-1].astype(int)
    return int((np.abs(image - [210, 225, 240]).max(axis=-1) <= 12).sum())


def test_froc_plot_written_with_band(tmp_path):
    gt, dets = _detection_case()
    curves = {
        "model A": froc(gt, dets, 40)["curve"],
        "model B": froc(gt, dets.select(dets.scores > 0.5), 40)["curve"],
    }
    with_band, without = str(tmp_path / "band.png"), str(tmp_path / "plain.png")
    plot_froc(with_band, curves, {"model A": froc_band(gt, dets, 40, n_resamples=100)}, dpi=60)
    plot_froc(without, curves, dpi=60)
    image = cv2.imread(with_band)
    assert image is not None and image.shape[:2] == (240, 330)
    assert _light_blue_pixels(with_band) > 500 and _light_blue_pixels(without) < 50


def test_palette_png_is_indexed_and_close(tmp_path):
    image = render_overlay(grey_ramp(), ["lesion"], gt_boxes=[[5, 5, 30, 30]], heatmap=np.eye(50, 60))
    path = str(tmp_path / "small.png")
    write_png(path, image, palette_colors=64)
    assert Image.open(path).mode == "P"
    assert np.abs(cv2.imread(path)[..., ::-1].astype(int) - image).mean() < 3


def test_visualize_results_tool(tmp_path, tiny_coco):
    json_file, root, coco = tiny_coco(strong=True, num_images=6)
    results_dir = tmp_path / "run" / "inference" / "v_test"
    results_dir.mkdir(parents=True)
    detections = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
        for a in coco["annotations"]
    ] + [{"image_id": 1, "category_id": 2, "bbox": [40.0, 40.0, 10.0, 10.0], "score": 0.6}]
    (results_dir / "coco_instances_results.json").write_text(json.dumps(detections))
    name = unique_name("v_test")
    out = tmp_path / "figures"
    subprocess.run(
        [
            sys.executable,
            os.path.join(TOOLS, "visualize_results.py"),
            "--dataset",
            name,
            json_file,
            root,
            "--dataset-name",
            name,
            "--results",
            str(results_dir),
            "--output",
            str(out),
            "--num-images",
            "3",
            "--bootstrap",
            "50",
            "--palette-colors",
            "128",
        ],
        check=True,
        capture_output=True,
    )
    grid = cv2.imread(str(out / "overlays_run.png"))
    assert grid is not None and grid.shape[1] == 3 * (192 + 4) + 4
    assert cv2.imread(str(out / "froc.png")) is not None
    # the overlay grid is named after the run folder of the results ("run" in run/inference/v_test)


def test_corloc_sweep_plot(tmp_path):
    from wsdet.visualization import plot_corloc_sweep

    sweep = {"score_thresholds": [0.0, 0.5, 1.0], "corloc_official": [1.0, 0.8, 0.0],
             "fp_per_normal_image": [9.0, 0.4, 0.0], "fp_per_image": [12.0, 0.9, 0.0]}
    path = str(tmp_path / "sweep.png")
    plot_corloc_sweep(path, {"joint": sweep, "strong only": {**sweep, "corloc_official": [0.9, 0.6, 0.0]}})
    image = cv2.imread(path)
    assert image is not None and image.shape[:2] == (400, 550)
