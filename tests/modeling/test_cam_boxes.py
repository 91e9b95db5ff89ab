"""Heatmap -> scored boxes on drawn shapes, and heatmap resizing to the original image."""

import cv2
import numpy as np
import pytest
import torch

from wsdet.modeling.cam import HeatmapBoxExtractor, heatmap_to_boxes, resize_heatmaps


def drawn_heatmap() -> np.ndarray:
    """A 0.9 rectangle (x 10..29, y 5..14), a 0.6 disc around (50, 40), background 0.1."""
    heatmap = np.full((64, 80), 0.1, np.float32)
    heatmap[5:15, 10:30] = 0.9
    disc = np.zeros_like(heatmap)
    cv2.circle(disc, (50, 40), 6, 1.0, -1)
    heatmap[disc > 0] = 0.6
    return heatmap


def test_largest_component_box():
    boxes, values = heatmap_to_boxes(drawn_heatmap(), 0.5, "largest", "max")
    np.testing.assert_array_equal(boxes, [[10, 5, 30, 15]])  # rectangle: 200 px > disc: 113 px
    np.testing.assert_allclose(values, [0.9])


def test_all_components_and_mean_statistic():
    boxes, values = heatmap_to_boxes(drawn_heatmap(), 0.5, "all", "mean")
    order = np.argsort(boxes[:, 0])
    np.testing.assert_array_equal(boxes[order], [[10, 5, 30, 15], [44, 34, 57, 47]])
    np.testing.assert_allclose(values[order], [0.9, 0.6], rtol=1e-6)
    boxes, _ = heatmap_to_boxes(drawn_heatmap(), 0.7, "all")
    np.testing.assert_array_equal(boxes, [[10, 5, 30, 15]])


def test_no_foreground_gives_no_box():
    boxes, values = heatmap_to_boxes(np.zeros((8, 8), np.float32), 0.5)
    assert boxes.shape == (0, 4) and values.shape == (0,)
    with pytest.raises(ValueError):
        heatmap_to_boxes(np.zeros((8, 8)), 0.5, components="some")


def test_extractor_scores_and_normalization():
    maps = torch.from_numpy(
        np.stack([drawn_heatmap(), np.zeros((64, 80), np.float32), 0.5 * drawn_heatmap()])
    )
    probs = torch.tensor([0.8, 0.9, 0.5])
    absolute = HeatmapBoxExtractor(normalize="absolute", threshold=0.5, components="all")(maps, probs)
    assert absolute.image_size == (64, 80)
    assert absolute.pred_classes.tolist() == [0, 0]  # class 2 stays below 0.5, class 1 is empty
    assert torch.allclose(absolute.scores, torch.tensor([0.9 * 0.8, 0.6 * 0.8]))
    minmax = HeatmapBoxExtractor(normalize="minmax", threshold=0.5, components="largest")(maps, probs)
    assert sorted(minmax.pred_classes.tolist()) == [0, 2]  # the constant map gives nothing
    assert torch.allclose(minmax.scores, torch.tensor([0.8, 0.5]))  # normalized max 1 x probability
    assert minmax.pred_boxes.tensor.tolist() == [[10, 5, 30, 15], [10, 5, 30, 15]]
    capped = HeatmapBoxExtractor(normalize="absolute", threshold=0.5, components="all", max_detections=1)(
        maps, probs
    )
    assert len(capped) == 1 and float(capped.scores[0]) == pytest.approx(0.72)


def test_resize_heatmaps_crops_padding():
    maps = torch.zeros(1, 8, 8)  # covers a 32 x 32 padded input whose image is 32 x 16
    maps[:, :, :4] = 1.0
    full = resize_heatmaps(maps, (32, 32), (32, 16), (64, 32))
    assert full.shape == (1, 64, 32)
    assert torch.all(full[:, :, :24] == 1)  # bilinear blur only within one map pixel of the border
    assert torch.all(full[:, :, -1] > 0.5)  # the padding is cropped, not squeezed into the image
