"""Choice of example images, run labels of results folders, ROC points and figure pictures."""
import numpy as np
import pytest

from wsdet.evaluation import BoxTable, GroundTruth
from wsdet.evaluation.saved_results import run_label
from wsdet.visualization.confusion import confusion_figure
from wsdet.visualization.curves import roc_figure, roc_points
from wsdet.visualization.examples import draw_overlays, pick_images, rank_examples

BOX = [10.0, 10.0, 30.0, 30.0]


def _gt():
    """Images 0-3 with one class-0 lesion at BOX, images 4-5 normal, image 6 labelled but not annotated."""
    labels = np.zeros((7, 2), dtype=bool)
    labels[:4, 0] = labels[6, 1] = True
    annotated = np.array([True] * 6 + [False])
    boxes = BoxTable(np.arange(4), np.tile(BOX, (4, 1)), np.zeros(4), np.ones(4))
    return GroundTruth(list(range(1, 8)), np.full((7, 2), 64), labels, annotated, boxes, [None] * 4)


def test_rank_examples():
    dets = BoxTable(
        [0, 1, 1, 2, 4, 5, 6],
        [BOX, [12, 12, 30, 30], [40, 40, 60, 60], BOX, BOX, BOX, BOX],
        [0, 0, 0, 1, 0, 0, 0],
        [0.9, 0.6, 0.95, 0.99, 0.3, 0.8, 0.99],
    )
    ranked = rank_examples(_gt(), dets, count=2)
    # image 0: exact hit; 1: its top detection misses (the hit scores less); 2: wrong class; 3: nothing
    assert ranked["best"] == [0, 2]  # the hit, then the most confident of the misses
    assert ranked["worst"] == [1, 3]  # the other misses, the most confident first
    assert ranked["normal"] == [5, 4]  # most confident false positives first; image 6 is not box-annotated
    assert rank_examples(_gt(), dets, count=4)["worst"] == [1, 3]  # never the best images again
    nothing = rank_examples(_gt(), BoxTable.from_per_image([], []), count=2)  # a model that detects nothing
    assert nothing == {"best": [0, 1], "worst": [2, 3], "normal": [4, 5]}
    assert pick_images(_gt(), 10) == [4, 0, 5, 1, 2, 3]  # normal and class-0 images in turn


def test_draw_overlays_at_the_requested_size():
    gt = _gt()
    dets = BoxTable([0], [BOX], [0], [0.9])
    images = [np.zeros((64, 64), np.uint8)] * 2
    overlays = draw_overlays(gt, dets, [0, 4], images, ["a", "b"], 0.5, heatmaps=[np.ones((4, 4)), None],
                             display_size=128)
    assert [o.shape[1] for o in overlays] == [128, 128] and overlays[0].shape[0] > 128  # with the legend


@pytest.mark.parametrize(
    "folder, label",
    [("output/bus_joint/inference/bus_synth_test", "bus_joint"), ("figures/my_eval", "my_eval"), ("x", "x")],
)
def test_run_label(folder, label):
    assert run_label(folder) == label


def test_roc_points_and_figures():
    fpr, tpr = roc_points(np.array([0.9, 0.8, 0.7, 0.1]), np.array([1, 0, 1, 0]))
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0] and tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    roc = roc_figure({"a (AUC 0.75)": (fpr, tpr)}, dpi=50)
    matrix = confusion_figure(np.array([[5, 1], [2, 7]]), ["normal", "lesion"], dpi=50)
    for picture in (roc, matrix):
        assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3
        assert (picture < 200).any() and (picture == 255).any()  # drawn on white
