"""CAM heads: classification losses, CAM / positive-CAM maps, Grad-CAM, InfoMask masks and KL, STL branches and
loss mixing."""

import math
import os

import pytest
import torch
import torch.nn.functional as F

from detectron2.utils.events import EventStorage

from conftest import CONFIGS
from wsdet.engine.defaults import build_config
from wsdet.modeling.cam import (
    ClassInfoMaskHead,
    InfoMaskHead,
    PCAMPool,
    PooledCAMHead,
    PositiveCAMHead,
    STLHead,
    build_stl_alpha_schedule,
    fixed_map_size,
    gaussian_kl,
    grad_cam,
    image_classification_loss,
    infomask_mask,
    positive_cam,
)
from wsdet.modeling.cam.pooling import GlobalAvgPool, GlobalMaxPool


def test_multi_label_bce_and_batch_balancing():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.0], [-1.0, 1.0]])
    labels = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    plain = image_classification_loss(logits, labels, single_label=False)
    assert torch.allclose(plain, F.binary_cross_entropy_with_logits(logits, labels))
    balanced = image_classification_loss(logits, labels, single_label=False, balance=True)
    # class 0: one positive, two negatives -> positive weight 2; class 1 has no positive -> 0
    expected = (
        F.binary_cross_entropy_with_logits(logits[:, 0], labels[:, 0], pos_weight=torch.tensor(2.0)) / 2
    )
    assert torch.allclose(balanced, expected)


def test_class_reduction_sums_the_per_class_losses_as_chexpert():
    log2 = math.log(2.0)
    logits = torch.zeros(4, 2)  # every BCE term is log 2, times pos_weight for a positive
    labels = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    # balanced: each class has 1 positive and 3 negatives -> pos_weight 3; per class (3 + 1 + 1 + 1) log2 / 4
    for reduction, expected in (("mean", 1.5 * log2), ("sum", 3.0 * log2)):
        loss = image_classification_loss(logits, labels, False, balance=True, class_reduction=reduction)
        assert float(loss) == pytest.approx(expected)
    # plain BCE: log 2 per class
    assert float(image_classification_loss(logits, labels, False, class_reduction="sum")) == pytest.approx(2 * log2)
    # a class without positive adds 0 to the balanced sum; class 0 has pos_weight 1: log 2
    one_class = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    loss = image_classification_loss(logits[:2], one_class, False, balance=True, class_reduction="sum")
    assert float(loss) == pytest.approx(log2)
    with pytest.raises(ValueError, match="CLASS_REDUCTION"):
        PooledCAMHead(in_channels=2, pooling=GlobalAvgPool(), num_classes=2, class_reduction="max")


def _pooled_head(map_type="probability"):
    head = PooledCAMHead(in_channels=2, pooling=GlobalAvgPool(), num_classes=1, heatmap=map_type)
    with torch.no_grad():
        head.classifier.weight.copy_(torch.tensor([1.0, -1.0]).view(1, 2, 1, 1))
        head.classifier.bias.fill_(5.0)
    return head


def test_pooled_head_maps_cam_or_probability():
    x = torch.tensor([[1.0, 2.0], [3.0, 0.0]]).view(1, 2, 1, 2)  # channel 0: [1, 2], channel 1: [3, 0]
    # CAM w^T x = [1 - 3, 2 - 0] = [-2, 2] (no bias); logit = w^T mean(x) + b = (1.5 - 1.5) + 5 = 5
    cam = _pooled_head("cam")(x)
    assert torch.allclose(cam["heatmaps"], torch.tensor([[[[-2.0, 2.0]]]]))
    assert torch.allclose(cam["logits"], torch.tensor([[5.0]]))
    probability = _pooled_head()(x)
    assert torch.allclose(probability["heatmaps"], torch.sigmoid(torch.tensor([[[[3.0, 7.0]]]])))
    with pytest.raises(ValueError, match="MAP_TYPE"):
        _pooled_head("logit")


def test_grad_cam_of_a_gap_classifier_is_its_relu_cam():
    head = _pooled_head("cam")
    x = torch.tensor([[1.0, 2.0], [3.0, 0.0]]).view(1, 2, 1, 2).requires_grad_()
    # d logit / d x_k,ij = w_k / (h w) = [0.5, -0.5]: ReLU(0.5 [1, 2] - 0.5 [3, 0]) = ReLU([-1, 1]) = [0, 1]
    maps = grad_cam(x, head(x)["logits"])
    assert torch.allclose(maps, torch.tensor([[[[0.0, 1.0]]]]))
    assert torch.allclose(maps, F.relu(head(x)["heatmaps"]) / 2)  # = ReLU(CAM) / (h w)
    two = torch.cat([x.detach(), 2 * x.detach()]).requires_grad_()  # images do not mix in the batch
    assert torch.allclose(grad_cam(two, head(two)["logits"]), torch.tensor([[[[0.0, 1.0]]], [[[0.0, 2.0]]]]))


def test_single_label_cross_entropy_has_normal_last():
    logits = torch.tensor([[1.0, 2.0, 3.0], [0.0, 4.0, 1.0]])
    labels = torch.tensor([[0.0, 0.0], [0.0, 1.0]])  # normal, class 1
    loss = image_classification_loss(logits, labels, single_label=True)
    assert torch.allclose(loss, F.cross_entropy(logits, torch.tensor([2, 1])))


def test_single_label_probs_drop_normal():
    head = PositiveCAMHead(in_channels=3, pooling=GlobalAvgPool(), num_classes=2, single_label=True)
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    assert torch.allclose(head.image_probs(logits), logits.softmax(dim=1)[:, :2])
    assert head.num_outputs == 3


def test_positive_cam_is_the_positive_weight_sum():
    torch.manual_seed(0)
    features = torch.rand(2, 6, 3, 4)
    weight = torch.randn(3, 6)
    maps = positive_cam(features, weight)
    expected = torch.stack(
        [sum(max(0.0, float(weight[c, i])) * features[:, i] for i in range(6)) for c in range(3)], 1
    )
    assert torch.allclose(maps, expected, atol=1e-6)

    head = PositiveCAMHead(in_channels=6, pooling=GlobalAvgPool(), num_classes=3)
    outputs = head(features)
    assert torch.allclose(outputs["heatmaps"], positive_cam(features, head.classifier.weight), atol=1e-6)
    # the image logits are the plain CAM classifier's (GAP + linear)
    expected_logits = features.mean(dim=(2, 3)) @ head.classifier.weight.flatten(1).T + head.classifier.bias
    assert torch.allclose(outputs["logits"], expected_logits, atol=1e-6)


def test_infomask_mask_bounds():
    z = torch.linspace(-20, 20, 101)
    mask = infomask_mask(z, tau=0.3)
    assert mask.min() == 0 and mask.max() <= 0.7 + 1e-6
    assert torch.all(mask[torch.sigmoid(z) <= 0.3] == 0)
    assert torch.allclose(mask[torch.sigmoid(z) > 0.3], torch.sigmoid(z)[torch.sigmoid(z) > 0.3] - 0.3)


def test_gaussian_kl_known_values():
    mu = torch.tensor([0.0, 1.0, 0.0, 2.0])
    sigma = torch.tensor([1.0, 1.0, 2.0, 0.5])
    kl = gaussian_kl(mu, torch.log(sigma**2))
    expected = torch.log(1 / sigma) + (sigma**2 + mu**2) / 2 - 0.5
    assert torch.allclose(kl, expected)
    assert kl[0] == 0 and math.isclose(float(kl[1]), 0.5)


def _hand_set_infomask(regularizer="kl"):
    """One input channel; A = ReLU(x), mu = A, log sigma^2 = 0; no conv in the classification block; the
    linear classifier is 2 x the pooled masked feature."""
    head = InfoMaskHead(
        in_channels=1, attention_dim=1, tau=0.5, regularizer=regularizer, alpha=0.1, num_convs=0, conv_dim=4,
        norm="", num_classes=3,
    )
    mask = head.variational_mask
    with torch.no_grad():
        for conv, weight in ((mask.attention[0], 1.0), (mask.mu, 1.0), (mask.log_var, 0.0)):
            conv.weight.fill_(weight)
            conv.bias.zero_()
        head.classifier.weight.fill_(2.0)
        head.classifier.bias.zero_()
    return head


@torch.no_grad()
def test_infomask_head_masks_the_latent_features():
    head = _hand_set_infomask().eval()
    x = torch.tensor([0.0, math.log(3.0)]).view(1, 1, 1, 2)
    outputs = head(x)
    # z = mu = [0, ln 3]; sigmoid(z) = [0.5, 0.75]; M = clamp(sigmoid(z) - 0.5, 0, 1) = [0, 0.25]
    assert torch.allclose(outputs["mask"], torch.tensor([[[[0.0, 0.25]]]]))
    # masked features [0, 0.25 ln 3], averaged: 0.125 ln 3; logit = 2 x that = 0.25 ln 3, for every class
    assert torch.allclose(outputs["logits"], torch.full((1, 3), 0.25 * math.log(3.0)))
    # one mask, the heatmap of every lesion class
    assert outputs["heatmaps"].shape == (1, 3, 1, 2) and torch.equal(outputs["heatmaps"][0, 2], outputs["mask"][0, 0])
    labels = torch.tensor([[1.0, 0.0, 0.0]])
    # KL(N(mu, 1) || N(0, 1)) = mu^2 / 2: mean over the 2 pixels (0 + ln(3)^2 / 2) / 2, x alpha 0.1
    assert float(head.losses(outputs, labels)["loss_cam_reg"]) == pytest.approx(0.1 * math.log(3.0) ** 2 / 4)
    # RegL1: alpha x mean mask = 0.1 x 0.125; FeatureMask: no regularizer
    l1 = _hand_set_infomask("l1").eval()
    assert float(l1.losses(l1(x), labels)["loss_cam_reg"]) == pytest.approx(0.0125)
    none = _hand_set_infomask("none").eval()
    assert set(none.losses(none(x), labels)) == {"loss_cam_cls"}


def test_infomask_samples_z_in_training():
    torch.manual_seed(0)
    head = InfoMaskHead(
        in_channels=4, attention_dim=1, tau=0.5, regularizer="kl", alpha=0.1, num_convs=2, conv_dim=8,
        norm="BN", num_classes=2,
    )
    x = torch.randn(2, 4, 5, 5)
    outputs = head(x)  # training: z = mu + sigma eps
    assert outputs["mask"].shape == (2, 1, 5, 5) and torch.all(outputs["mask"] <= 0.5)
    assert not torch.allclose(outputs["mask"], infomask_mask(outputs["mu"], 0.5))
    losses = head.losses(outputs, torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    assert set(losses) == {"loss_cam_cls", "loss_cam_reg"}
    assert torch.allclose(losses["loss_cam_reg"], 0.1 * gaussian_kl(outputs["mu"], outputs["log_var"]).mean())
    head.eval()
    assert torch.allclose(head(x)["mask"], infomask_mask(head(x)["mu"], 0.5))  # z = mu in inference
    with pytest.raises(ValueError, match="regularizer"):
        InfoMaskHead(in_channels=4, attention_dim=1, tau=0.5, regularizer="l2", alpha=0.1, num_convs=0,
                     conv_dim=8, norm="", num_classes=2)


def test_class_infomask_head_masks_cam_evidence_per_class():
    torch.manual_seed(0)
    head = ClassInfoMaskHead(in_channels=4, attention_dim=3, tau=0.5, regularizer="l1", alpha=0.1, num_classes=2)
    x = torch.randn(2, 4, 5, 5)
    head.eval()
    outputs = head(x)
    mask = outputs["mask"]
    assert mask.shape == (2, 2, 5, 5) and torch.allclose(mask, infomask_mask(outputs["mu"], 0.5))
    w, b = head.classifier.weight.flatten(1), head.classifier.bias
    masked = (mask[:, :, None] * x[:, None]).mean(dim=(3, 4))  # (N, K, C) masked, pooled features
    assert torch.allclose(outputs["logits"], (masked * w).sum(dim=2) + b, atol=1e-6)
    assert torch.equal(outputs["heatmaps"], mask)
    losses = head.losses(outputs, torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    assert torch.allclose(losses["loss_cam_reg"], 0.1 * mask.mean())


def test_stl_alpha_schedules():
    step = build_stl_alpha_schedule((0.1, 0.9), "step", 100, max_iter=1000)
    assert step(0) == 0.1 and step(99) == 0.1 and step(100) == 0.9
    ramp = build_stl_alpha_schedule((0.1, 0.9), "linear", 100, max_iter=1000)
    assert (
        ramp(0) == pytest.approx(0.1) and ramp(50) == pytest.approx(0.5) and ramp(500) == pytest.approx(0.9)
    )
    with pytest.raises(ValueError):
        build_stl_alpha_schedule((0.1, 0.9), "cosine", 100, max_iter=1000)


def _stl_head(pooling=None, classifier_input="flatten", map_size=5):
    return STLHead(
        in_channels=4,
        fc_dim=8,
        pooling=pooling or GlobalMaxPool(),
        alpha_schedule=build_stl_alpha_schedule((0.1, 0.9), "step", 100, max_iter=1000),
        classifier_input=classifier_input,
        map_size=map_size,
        num_classes=3,
    )


def test_stl_classifier_is_fully_connected_on_the_whole_map():
    torch.manual_seed(0)
    head = _stl_head()
    x = torch.randn(2, 4, 5, 5)
    fc1, fc2 = head.classifier[1], head.classifier[3]
    assert fc1.in_features == 4 * 5 * 5
    expected = fc2(F.relu(fc1(x.flatten(1))))
    assert torch.allclose(head(x)["classifier_logits"], expected, atol=1e-6)
    with pytest.raises(ValueError, match="5x5 feature map"):
        head(torch.randn(2, 4, 6, 5))
    gap = _stl_head(classifier_input="gap", map_size=None)  # the option: FC layers on the averaged map
    assert gap.classifier[1].in_features == 4
    expected = gap.classifier[3](F.relu(gap.classifier[1](x.mean(dim=(2, 3)))))
    assert torch.allclose(gap(x)["classifier_logits"], expected, atol=1e-6)
    assert gap(torch.randn(1, 4, 7, 3))["classifier_logits"].shape == (1, 3)
    avg = _stl_head(pooling=GlobalAvgPool())  # the paper's best localizer pooling
    assert torch.allclose(avg(x)["logits"], avg.localizer(x).mean(dim=(2, 3)), atol=1e-6)


def test_stl_map_size_comes_from_the_one_input_size():
    cfg = build_config(os.path.join(CONFIGS, "cxr_stl.yaml"))
    assert fixed_map_size(cfg, 16) == 16  # 256 px, stride 16
    cfg.merge_from_list(["INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MIN_SIZE_TEST", "64"])
    assert fixed_map_size(cfg, 16) == 4
    cfg.merge_from_list(["INPUT.MIN_SIZE_TRAIN", "(64, 96)"])
    with pytest.raises(ValueError, match="needs one input size"):
        fixed_map_size(cfg, 16)
    cfg.merge_from_list(["INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MIN_SIZE_TEST", "80"])
    with pytest.raises(ValueError, match="CLASSIFIER_INPUT"):
        fixed_map_size(cfg, 16)


@pytest.mark.parametrize("iteration, alpha", [(10, 0.1), (200, 0.9)])
def test_stl_loss_mixing(iteration, alpha):
    torch.manual_seed(0)
    head = _stl_head()
    x = torch.randn(2, 4, 5, 5)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    outputs = head(x)
    assert torch.allclose(outputs["logits"], head.localizer(x).amax(dim=(2, 3)))  # scores from the localizer
    with EventStorage(iteration):
        losses = head.losses(outputs, labels)
    ce_cls = F.binary_cross_entropy_with_logits(outputs["classifier_logits"], labels)
    ce_loc = F.binary_cross_entropy_with_logits(outputs["logits"], labels)
    assert torch.allclose(losses["loss_cam_cls"], (1 - alpha) * ce_cls)
    assert torch.allclose(losses["loss_cam_loc"], alpha * ce_loc)


def test_stl_rejects_per_class_pooling_and_unknown_classifier_inputs():
    with pytest.raises(ValueError, match="per-class"):
        _stl_head(pooling=PCAMPool())
    with pytest.raises(ValueError, match="CLASSIFIER_INPUT"):
        _stl_head(classifier_input="conv")
