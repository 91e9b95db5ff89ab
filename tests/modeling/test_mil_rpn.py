"""MILRPN: anchors inside annotated background regions are negatives (official labelling of Shin et al.)."""
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances, pairwise_ioa

from wsdet.config import add_wsdet_config

BACKGROUND = Boxes(torch.tensor([[0.0, 0.0, 32.0, 64.0]]))  # the left half of a 64 x 64 image
LESION = Boxes(torch.tensor([[16.0, 8.0, 48.0, 56.0]]))  # straddles the background region


def _rpn(only: bool):
    cfg = get_cfg()
    add_wsdet_config(cfg)
    cfg.merge_from_file("configs/Base-WSDet-RCNN.yaml")
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.RPN.BATCH_SIZE_PER_IMAGE = 100_000  # no subsampling: every label is kept
    cfg.WSDET.RPN.BACKGROUND_NEGATIVES_ONLY = only
    return build_model(cfg).proposal_generator


def _labels(rpn, background):
    features = {f: torch.zeros(1, 64, 64 // s, 64 // s) for f, s in zip(rpn.in_features, (4, 8, 16, 32, 64))}
    anchors = rpn.anchor_generator([features[f] for f in rpn.in_features])
    gt = Instances((64, 64), gt_boxes=LESION, gt_classes=torch.tensor([0]))
    rpn._background_boxes = [background]
    labels, _ = rpn.label_and_sample_anchors(anchors, [gt])
    rpn._background_boxes = None
    inside = pairwise_ioa(BACKGROUND, Boxes.cat(anchors))[0] >= 0.7
    return labels[0], inside


@pytest.mark.parametrize("only", [False, True])
def test_anchors_inside_background_are_negatives(only):
    rpn = _rpn(only)
    plain, inside = _labels(rpn, None)
    labelled, _ = _labels(rpn, BACKGROUND)
    in_image = plain != -1
    assert inside.any() and torch.all(labelled[inside & in_image & (plain != 1)] == 0)
    assert torch.equal(labelled == 1, plain == 1)  # positives are kept
    if only:  # the official labelling: the other negatives are ignored
        assert torch.all(labelled[~inside & (plain == 0)] == -1)
    else:  # Detectron2's negatives stay, and anchors it ignored (0.3 <= IoU < 0.7) become negatives
        assert torch.equal(labelled[~inside], plain[~inside])
        assert ((plain == -1) & (labelled == 0) & inside).any()


def test_background_overlap_is_checked():
    cfg = get_cfg()
    add_wsdet_config(cfg)
    cfg.merge_from_file("configs/Base-WSDet-RCNN.yaml")
    cfg.MODEL.DEVICE = "cpu"
    cfg.WSDET.RPN.BACKGROUND_OVERLAP = 1.5
    with pytest.raises(ValueError, match="WSDET.RPN.BACKGROUND_OVERLAP"):
        build_model(cfg)
