"""CAM formulas against values computed by hand on a few numbers (docs/CAM_METHODS.md, "test that pins it"): LSE,
EXP and PCAM pooling, the positive CAM, the STL and single-label losses, the positive-CAM stage 2 and 3 loss mixing of
WSDetCAMClassifier, and ClassInfoMaskHead's logits."""

import math

import pytest
import torch
from torch import nn

from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling import Backbone
from detectron2.structures import BitMasks, Instances
from detectron2.utils.events import EventStorage

from wsdet.config import add_wsdet_config
from wsdet.modeling.cam import (
    AttentionMining,
    ClassInfoMaskHead,
    HeatmapBoxExtractor,
    MaskDecoder,
    PCAMPool,
    PooledCAMHead,
    PositiveCAMHead,
    STLHead,
    WSDetCAMClassifier,
    build_stl_alpha_schedule,
    image_classification_loss,
    positive_cam,
)
from wsdet.modeling.cam.pooling import ExpPool, GlobalAvgPool, LogSumExpPool

LN3 = math.log(3.0)


def _set(conv: nn.Module, weight, bias) -> None:
    """Hand-set a conv's weight and bias (a single value fills the whole tensor)."""
    with torch.no_grad():
        for param, value in ((conv.weight, weight), (conv.bias, bias)):
            value = torch.as_tensor(value, dtype=torch.float32)
            param.copy_(value.expand_as(param) if value.numel() == 1 else value.view_as(param))


def test_lse_pooling_by_hand():
    x = torch.tensor([0.0, 0.0, 0.0, 2 * math.log(5.0), 1.0, 1.0, 1.0, 1.0]).view(1, 2, 2, 2)
    # gamma 0.5: log((e^0 + e^0 + e^0 + e^(0.5 * 2 ln 5)) / 4) / 0.5 = log(8 / 4) / 0.5 = 2 ln 2 = 1.3863; constant 1: 1
    torch.testing.assert_close(LogSumExpPool(gamma=0.5)(x), torch.tensor([[1.3862944, 1.0]]))


def test_exp_pooling_by_hand():
    x = torch.tensor([0.0, 0.0, 0.0, LN3]).view(1, 1, 2, 2)
    # softmax weights [1, 1, 1, 3] / 6: (0 + 0 + 0 + 3 ln 3) / 6 = 0.5 ln 3 = 0.5493
    torch.testing.assert_close(ExpPool()(x), torch.tensor([[0.5493061]]))


def test_pcam_pooling_by_hand():
    x = torch.tensor([[10.0, 20.0], [1.0, -1.0]]).view(1, 2, 1, 2)  # 2 channels, 1 x 2 pixels
    logit_maps = torch.tensor([[0.0, LN3], [0.0, 0.0]]).view(1, 2, 1, 2)  # 2 classes
    # class 0: p = sigmoid([0, ln 3]) = [0.5, 0.75], weights [0.4, 0.6]: [4 + 12, 0.4 - 0.6] = [16, -0.2];
    # class 1: p = [0.5, 0.5], weights [0.5, 0.5]: [15, 0]
    torch.testing.assert_close(PCAMPool()(x, logit_maps), torch.tensor([[[16.0, -0.2], [15.0, 0.0]]]))
    head = PooledCAMHead(in_channels=1, pooling=PCAMPool(), num_classes=1)
    _set(head.classifier, [1.0], [0.0])
    # logit map = x = [0, ln 3] -> weights [0.4, 0.6]; x_c = 0.6 ln 3; s_c = 1 x 0.6 ln 3 + 0 = 0.6592
    torch.testing.assert_close(head(torch.tensor([0.0, LN3]).view(1, 1, 1, 2))["logits"], torch.tensor([[0.6591674]]))


def test_positive_cam_by_hand():
    h = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # h_0 = [1, 2], h_1 = [3, 4]
    w = torch.tensor([[2.0, -1.0], [-1.0, 0.5]])
    # class 0: 2 h_0 + 0 h_1 = [2, 4] (the plain CAM would be [-1, 0]); class 1: 0 h_0 + 0.5 h_1 = [1.5, 2]
    expected = torch.tensor([[[[2.0, 4.0]], [[1.5, 2.0]]]])
    torch.testing.assert_close(positive_cam(h, w), expected)
    head = PositiveCAMHead(in_channels=2, pooling=GlobalAvgPool(), num_classes=2)
    _set(head.classifier, w, [0.0, 0.0])
    torch.testing.assert_close(head(h)["heatmaps"], expected)


def test_stl_loss_by_hand():
    head = STLHead(
        in_channels=1, fc_dim=2, pooling=GlobalAvgPool(), classifier_input="gap", num_classes=1,
        alpha_schedule=build_stl_alpha_schedule((0.1, 0.9), "step", 100, max_iter=1000),
    )
    outputs = {"classifier_logits": torch.tensor([[0.0]]), "logits": torch.tensor([[LN3]])}
    with EventStorage(0):  # alpha = 0.1
        losses = head.losses(outputs, torch.tensor([[1.0]]))
    # (1 - 0.1) BCE(0, 1) = 0.9 ln 2 = 0.6238; 0.1 BCE(ln 3, 1) = 0.1 ln(1 + 1/3) = 0.0288; sum 0.6526
    assert float(losses["loss_cam_cls"]) == pytest.approx(0.6238325)
    assert float(losses["loss_cam_loc"]) == pytest.approx(0.0287682)
    assert float(sum(losses.values())) == pytest.approx(0.6526007)


def test_single_label_cross_entropy_by_hand():
    logits = torch.tensor([[0.0, 0.0, math.log(2.0)], [LN3, 0.0, 0.0]])  # K = 2 classes + normal (last)
    labels = torch.tensor([[0.0, 0.0], [1.0, 0.0]])  # normal, class 0
    # normal: -log(2 / (1 + 1 + 2)) = ln 2; class 0: -log(3 / (3 + 1 + 1)) = ln(5/3); mean ln(10/3) / 2 = 0.6020
    assert float(image_classification_loss(logits, labels, single_label=True)) == pytest.approx(0.6019864)


class _ImageAsFeature(Backbone):
    """The first input channel as the feature ``res4`` (stride 1)."""

    def forward(self, x):
        return {"res4": x[:, :1]}


def _stage_model(decoder: bool) -> WSDetCAMClassifier:
    """One class. Head: GAP, w = 1, b = -ln 3. Attention mining with omega 0: T(A) = sigmoid(0) = 0.5 everywhere,
    running accuracy P = 0.5. Decoder (lambda' = 2, plain MSE): zero weights, logits = bias ln 3."""
    cfg = get_cfg()
    add_wsdet_config(cfg)
    head = PooledCAMHead(in_channels=1, pooling=GlobalAvgPool(), num_classes=1)
    _set(head.classifier, [1.0], [-LN3])
    mining = AttentionMining(mode="restrict", sigma=0.5, omega=0.0, momentum=0.9, single_label=False)
    mining.running_accuracy.fill_(0.5)
    mask_decoder = None
    if decoder:
        mask_decoder = MaskDecoder(
            input_shapes={"res4": ShapeSpec(channels=1, stride=1)}, num_classes=1, conv_dim=1, loss_weight=2.0,
            balanced=False,
        )
        for conv in (*mask_decoder.lateral, *mask_decoder.fuse):
            _set(conv, [0.0], [0.0])  # conv_dim 1: the lateral 1x1 conv and the 3x3 convs output 0
        _set(mask_decoder.predictor, [0.0], [LN3])
    return WSDetCAMClassifier(
        backbone=_ImageAsFeature(), head=head, in_feature="res4", box_extractor=HeatmapBoxExtractor(cfg),
        pixel_mean=[0.0, 0.0, 0.0], pixel_std=[1.0, 1.0, 1.0], attention_mining=mining, mask_decoder=mask_decoder,
    )


def _stage_inputs():
    """One positive 2 x 2 image of value 2 ln 3, its class mask the top-left pixel."""
    inst = Instances((2, 2))
    inst.gt_classes = torch.tensor([0])
    inst.gt_masks = BitMasks(torch.tensor([[[True, False], [False, False]]]))
    return [{"image": torch.full((3, 2, 2), 2 * LN3), "image_labels": torch.tensor([1.0]), "instances": inst}]


def test_attention_mining_loss_mixing_by_hand():
    with EventStorage(0), torch.no_grad():  # a training forward, without the autograd graph
        losses = _stage_model(decoder=False)(_stage_inputs())
    # lambda = e^P / e = e^-0.5 = 0.6065; L1 = BCE(2 ln 3 - ln 3, 1) = ln(4/3); L_am = BCE(ln 3 - ln 3, 1) = ln 2
    assert set(losses) == {"loss_cam_cls", "loss_cam_am"}
    assert float(losses["loss_cam_cls"]) == pytest.approx(0.1131941)  # (1 - 0.6065) ln(4/3)
    assert float(losses["loss_cam_am"]) == pytest.approx(0.4204150)  # 0.6065 ln 2


def test_mask_decoder_plain_mse_and_loss_sum_by_hand():
    with EventStorage(0), torch.no_grad():  # a training forward, without the autograd graph
        losses = _stage_model(decoder=True)(_stage_inputs())
    # probs sigmoid(ln 3) = 0.75; targets [1, 0, 0, 0]: (0.25^2 + 3 x 0.75^2) / 4 = 0.4375 (balanced: 0.3125); x 2
    assert float(losses["loss_cam_mask"]) == pytest.approx(0.875)
    # (1 - lambda) L1 + lambda L2 + lambda' L3 = 0.1131941 + 0.4204150 + 0.875
    assert float(sum(losses.values())) == pytest.approx(1.4086091)


@torch.no_grad()
def test_class_infomask_logits_by_hand():
    head = ClassInfoMaskHead(
        in_channels=1, attention_dim=1, tau=0.5, regularizer="l1", alpha=0.1, num_classes=2
    ).eval()
    mask = head.variational_mask
    _set(mask.attention[0], [1.0], [0.0])  # A = ReLU(x)
    _set(mask.mu, [1.0, -1.0], [0.0, 0.0])  # mu_0 = A, mu_1 = -A; z = mu in inference
    _set(mask.log_var, [0.0, 0.0], [0.0, 0.0])
    _set(head.classifier, [2.0, 3.0], [1.0, -1.0])
    outputs = head(torch.tensor([0.0, LN3]).view(1, 1, 1, 2))
    # M_0 = clamp(sigmoid([0, ln 3]) - 0.5) = [0, 0.25]; M_1 = clamp(sigmoid([0, -ln 3]) - 0.5) = [0, 0]
    torch.testing.assert_close(outputs["mask"], torch.tensor([[[[0.0, 0.25]], [[0.0, 0.0]]]]))
    # logit_0 = mean(M_0 x 2 x) + 1 = (0 + 0.25 x 2 ln 3) / 2 + 1 = 0.25 ln 3 + 1 = 1.2747; logit_1 = 0 - 1
    torch.testing.assert_close(outputs["logits"], torch.tensor([[1.2746531, -1.0]]))
