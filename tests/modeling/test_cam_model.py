"""WSDetCAMClassifier with every head and option, attention mining, Grad-CAM heatmaps, the mask decoder and image
branches."""

import math
import os

import pytest
import torch

from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances, PolygonMasks
from detectron2.utils.events import EventStorage

from conftest import CONFIGS, instant_opts
from wsdet.engine.defaults import build_config
from wsdet.modeling.cam import AttentionMining, PooledCAMHead, class_mask_targets, grad_cam, resize_heatmaps
from wsdet.modeling.cam.mask_decoder import balanced_mse
from wsdet.modeling.cam.pooling import GlobalAvgPool

K = 4


def cfg_of(config, *opts):
    return build_config(os.path.join(CONFIGS, config), ["MODEL.WEIGHTS", "", "MODEL.DEVICE", "cpu", *opts])


def instances(classes, size=(48, 64), masks=True):
    inst = Instances(size)
    inst.gt_boxes = Boxes(torch.tensor([[8.0, 8.0, 24.0, 20.0]] * len(classes)).reshape(-1, 4))
    inst.gt_classes = torch.tensor(classes, dtype=torch.int64)
    if masks and classes:
        inst.gt_masks = PolygonMasks([[[8.0, 8.0, 24.0, 8.0, 24.0, 20.0, 8.0, 20.0]] for _ in classes])
    return inst


def batch(labels, strong=(), size=(48, 64), num_classes=K):
    """Inputs with the given positive classes per image; images in ``strong`` get box/mask instances."""
    out = []
    for i, positives in enumerate(labels):
        multi_hot = torch.zeros(num_classes)
        multi_hot[list(positives)] = 1.0
        x = {
            "image": torch.randint(0, 256, (3, *size), dtype=torch.uint8),
            "image_labels": multi_hot,
            "height": 2 * size[0],
            "width": 2 * size[1],
            "image_id": i,
            "supervision": "weak",
        }
        if i in strong:
            x.update(supervision="strong", instances=instances(list(positives), size))
        out.append(x)
    return out


def train_step(model, inputs, iteration=0):
    model.train()
    model.zero_grad()
    with EventStorage(iteration):
        losses = model(inputs)
    sum(losses.values()).backward()
    return losses


def assert_every_parameter_trained(model):
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, missing


HEADS = {
    "cxr_gap.yaml": {"loss_cam_cls"},
    "cxr_gmp.yaml": {"loss_cam_cls"},
    "cxr_lse.yaml": {"loss_cam_cls"},
    "cxr_pcam.yaml": {"loss_cam_cls"},
    "cxr_gradcam.yaml": {"loss_cam_cls"},
    "cxr_stl.yaml": {"loss_cam_cls", "loss_cam_loc"},
    "cxr_stl_avg.yaml": {"loss_cam_cls", "loss_cam_loc"},
    "cxr_infomask.yaml": {"loss_cam_cls", "loss_cam_reg"},
    "cxr_poscam_stage1.yaml": {"loss_cam_cls"},
    "cxr_poscam_stage2.yaml": {"loss_cam_cls", "loss_cam_am"},
    "cxr_poscam_stage2_gain.yaml": {"loss_cam_cls", "loss_cam_am"},
    "cxr_poscam_stage3.yaml": {"loss_cam_cls", "loss_cam_am", "loss_cam_mask"},
}
SQUARE_64 = ("INPUT.MIN_SIZE_TRAIN", "(64,)", "INPUT.MIN_SIZE_TEST", "64")  # STL's one input size


@pytest.mark.parametrize("config", sorted(HEADS))
def test_classifier_train_step_and_outputs(config):
    torch.manual_seed(0)
    model = build_model(cfg_of(config, *SQUARE_64))
    size = (64, 64)
    mixed = batch([(0, 2), (), (1,), (3,)], strong=(0, 1), size=size)
    losses = train_step(model, mixed)
    assert set(losses) == HEADS[config]
    assert all(torch.isfinite(v) for v in losses.values())
    assert_every_parameter_trained(model)
    # same keys and parameters with no positive label and no strong image (DDP: same graph on every rank)
    losses = train_step(model, batch([(), ()], size=size))
    assert set(losses) == HEADS[config]
    assert_every_parameter_trained(model)

    model.eval()
    with torch.no_grad():
        outputs = model(batch([(1,), ()], size=size))
    for out in outputs:
        assert out["image_probs"].shape == (K,) and torch.all(
            (out["image_probs"] >= 0) & (out["image_probs"] <= 1)
        )
        assert out["heatmaps"].shape == (K, 128, 128)
        assert out["instances"].image_size == (128, 128)
        assert out["instances"].has("pred_boxes") and out["instances"].has("scores")


def test_single_label_mode_probabilities():
    model = build_model(cfg_of("bus_cam.yaml"))
    losses = train_step(model, batch([(0,), (), (1,)], strong=(0,), num_classes=2))
    assert set(losses) == {"loss_cam_cls"}
    assert model.head.num_outputs == 3
    model.eval()
    with torch.no_grad():
        (out,) = model(batch([(1,)], num_classes=2))
    assert out["image_probs"].shape == (2,) and float(out["image_probs"].sum()) < 1.0
    with pytest.raises(ValueError, match="SINGLE_LABEL"):  # two classes in one image
        train_step(model, batch([(0, 1)], num_classes=2))


def _mining_inputs():
    images = torch.ones(2, 3, 8, 8)
    heatmaps = torch.zeros(2, 2, 4, 4)
    heatmaps[0, 0, 0, 0] = 5.0  # image 0, class 0: attention in the top-left corner
    heatmaps[1, 1, 3, 3] = 5.0  # image 1 is normal: class 1 has its most lesion-like area, bottom-right
    labels = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logits = torch.logit(torch.tensor([[0.9, 0.2], [0.1, 0.7]]))  # 3 of 4 decisions right
    head = PooledCAMHead(in_channels=3, pooling=GlobalAvgPool(), num_classes=2)
    return images, heatmaps, labels, logits, head


def test_attention_mining_restricts_the_image_to_its_attention():
    images, heatmaps, labels, logits, head = _mining_inputs()
    mining = AttentionMining(mode="restrict", sigma=0.5, omega=10.0, momentum=0.5, single_label=False,
                             accuracy="per_label")
    seen = {}

    def classify(masked):
        seen["masked"] = masked
        return torch.zeros(2, 2)  # BCE of logit 0 is log 2 whatever the label

    loss, weight = mining(images, heatmaps, logits, labels, classify, head)
    assert weight == pytest.approx(math.exp(-1.0))  # running accuracy starts at 0
    assert float(mining.running_accuracy) == pytest.approx(0.375)  # 0.5 x 0 + 0.5 x 3/4
    assert float(loss) == pytest.approx(math.log(2.0))  # the head's BCE on the restricted images
    masked = seen["masked"]
    # T(A) = sigmoid(10 (A - 0.5)): 0.9933 where A = 1, 0.0067 where A = 0 (A min-max normalized)
    kept, dropped = torch.sigmoid(torch.tensor(5.0)), torch.sigmoid(torch.tensor(-5.0))
    assert torch.allclose(masked[0, :, 0, 0], kept) and torch.allclose(masked[0, :, 7, 7], dropped)
    # the normal image keeps its most lesion-like area (the union of every class's map), not nothing
    assert torch.allclose(masked[1, :, 7, 7], kept) and torch.allclose(masked[1, :, 0, 0], dropped)
    _, weight = mining(images, heatmaps, logits, labels, classify, head)
    assert weight == pytest.approx(math.exp(0.375 - 1.0))


@pytest.mark.parametrize("classes", ["labelled", "all"])
def test_attention_of_the_labelled_classes_or_of_every_class(classes):
    heatmaps = torch.zeros(1, 2, 4, 4)
    heatmaps[0, 0, 0, 0] = 5.0  # class 0 attends to the top-left corner
    heatmaps[0, 1, 3, 3] = 2.0  # class 1 to the bottom-right one
    mining = AttentionMining(single_label=False, attention_classes=classes)
    attention = {label: mining.attention(heatmaps, torch.tensor([label])) for label in ((1.0, 0.0), (0.0, 0.0))}
    corners = {label: (float(a[0, 0, 0, 0]), float(a[0, 0, 3, 3])) for label, a in attention.items()}
    # a normal image (and, with "all", every image) attends to every class's most lesion-like area
    assert corners[(0.0, 0.0)] == (1.0, 1.0)
    assert corners[(1.0, 0.0)] == ((1.0, 0.0) if classes == "labelled" else (1.0, 1.0))
    with pytest.raises(ValueError, match="attention classes"):
        AttentionMining(single_label=False, attention_classes="predicted")


def test_running_statistics_kept_normalizes_with_the_batch_but_keeps_the_running_statistics():
    from wsdet.modeling.cam import running_statistics_kept

    norm = torch.nn.BatchNorm2d(3).train()
    x = torch.randn(4, 3, 5, 5) * 3 + 2
    with running_statistics_kept(norm):
        y = norm(x)
    assert torch.equal(norm.running_mean, torch.zeros(3)) and int(norm.num_batches_tracked) == 0
    assert norm.track_running_stats and torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    with running_statistics_kept(norm, enabled=False):
        norm(x)
    assert int(norm.num_batches_tracked) == 1


@pytest.mark.parametrize("update", [False, True])
def test_attention_mining_pass_leaves_batchnorm_statistics_to_the_real_images(update):
    inputs = batch([{0}, {1, 2}, set()])
    running = {}
    for mining in (False, True):
        torch.manual_seed(0)
        cfg = cfg_of("cxr_poscam_stage2.yaml", *instant_opts("cam"), "WSDET.CAM.ATTENTION_MINING.ENABLED", str(mining),
                     "WSDET.CAM.ATTENTION_MINING.UPDATE_BN_STATS", str(update))
        model = build_model(cfg)
        train_step(model, inputs)
        running[mining] = {k: v.clone() for k, v in model.state_dict().items() if "running_" in k}
    assert running[False]
    same = all(torch.equal(running[False][k], running[True][k]) for k in running[False])
    assert same != update  # only the real images' pass moves them, unless asked otherwise


def test_attention_mining_erase_mode_is_gain():
    images, heatmaps, labels, logits, head = _mining_inputs()
    mining = AttentionMining(mode="erase", sigma=0.5, omega=10.0, momentum=0.5, single_label=False,
                             accuracy="per_label")
    seen = {}

    def classify(erased):
        seen["erased"] = erased
        return torch.logit(torch.tensor([[0.3, 0.6], [0.2, 0.4]]))

    loss, weight = mining(images, heatmaps, logits, labels, classify, head)
    assert weight == pytest.approx(math.exp(-1.0))
    assert float(loss) == pytest.approx(0.3)  # probability of the positive class on the erased image
    erased = seen["erased"]
    assert erased[0, :, 0, 0].max() < 0.1 and erased[0, :, 7, 7].min() > 0.99
    with pytest.raises(ValueError, match="Unknown attention-mining mode"):
        AttentionMining(mode="crop", single_label=False)


def test_grad_cam_heatmaps_of_any_model():
    torch.manual_seed(0)
    model = build_model(cfg_of("cxr_gradcam.yaml")).eval()
    inputs = batch([(1,), ()])
    with torch.no_grad():  # as in evaluation: Grad-CAM turns autograd on for itself
        outputs = model(inputs)
    images = model.preprocess_image(inputs)
    logits, maps = model.grad_cam(images.tensor)
    features = model.backbone(images.tensor)["res4"].detach().requires_grad_()
    assert torch.allclose(maps, grad_cam(features, model.head(features)["logits"]), atol=1e-6)
    for out, m, p in zip(outputs, maps, model.head.image_probs(logits)):
        assert torch.allclose(out["heatmaps"], resize_heatmaps(m, images.tensor.shape[-2:], (48, 64), (96, 128)))
        assert torch.allclose(out["image_probs"], p)
    _, res3_maps = model.grad_cam(images.tensor, "res3")  # another backbone feature, stride 8
    assert res3_maps.shape == (2, K, 6, 8) and res3_maps.min() >= 0
    with pytest.raises(ValueError, match="HEATMAPS"):
        build_model(cfg_of("cxr_gap.yaml", "WSDET.CAM.HEATMAPS", "saliency"))
    with pytest.raises(ValueError, match="GRADCAM.IN_FEATURE 'res5'"):
        build_model(cfg_of("cxr_gradcam.yaml", "WSDET.CAM.GRADCAM.IN_FEATURE", "res5"))


def test_balanced_accuracy_is_not_inflated_by_negative_labels():
    labels = torch.zeros(4, 5)
    labels[0, 1] = labels[1, 3] = 1.0
    says_absent = torch.full((4, 5), 0.1)  # finds no lesion at all
    plain = AttentionMining(single_label=False, accuracy="per_label")
    balanced = AttentionMining(single_label=False)
    assert float(plain.batch_accuracy(says_absent, labels)) == pytest.approx(0.9)
    assert float(balanced.batch_accuracy(says_absent, labels)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="Unknown attention-mining accuracy 'mean'"):
        AttentionMining(single_label=False, accuracy="mean")
    finds_one = says_absent.clone()
    finds_one[0, 1] = 0.8
    finds_one[2, 0] = 0.7  # and one false alarm: sensitivity 1/2, specificity 17/18
    assert float(balanced.batch_accuracy(finds_one, labels)) == pytest.approx((0.5 + 17 / 18) / 2)
    assert float(balanced.batch_accuracy(says_absent, torch.zeros(4, 5))) == pytest.approx(1.0)


def test_single_label_accuracy():
    mining = AttentionMining(single_label=True)
    probs = torch.tensor([[0.7, 0.1], [0.1, 0.2], [0.3, 0.6]])  # predicted: 0, normal, 1
    labels = torch.tensor([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    assert float(mining.batch_accuracy(probs, labels)) == pytest.approx(2 / 3)


def test_class_mask_targets():
    inst = instances([2, 2, 0], size=(30, 40))
    inst.gt_masks = PolygonMasks(
        [
            [[0.0, 0.0, 10.0, 0.0, 10.0, 10.0, 0.0, 10.0]],
            [[20.0, 20.0, 30.0, 20.0, 30.0, 30.0, 20.0, 30.0]],
            [[0.0, 0.0, 10.0, 0.0, 10.0, 10.0, 0.0, 10.0]],
        ]
    )
    target = class_mask_targets(inst, 3, (32, 48))
    assert target.shape == (3, 32, 48) and target.max() == 1.0
    assert target[2, 5, 5] == 1 and target[2, 25, 25] == 1 and target[0, 25, 25] == 0
    assert target[0].sum() == 100 and target[1].sum() == 0 and target[2].sum() == 200
    assert target[:, 30:].sum() == 0 and target[:, :, 40:].sum() == 0  # padding
    assert class_mask_targets(instances([], size=(30, 40)), 3, (32, 48)).sum() == 0


def test_mask_decoder_loss_only_on_images_with_masks():
    model = build_model(cfg_of("cxr_poscam_stage3.yaml"))
    model.train()
    inputs = batch([(0,), (1,)], strong=(0,))
    images = model.preprocess_image(inputs)
    logits = model.mask_decoder(model.backbone(images.tensor))
    assert logits.shape[-2:] == (12, 16)  # stride 4
    only_first = model.mask_decoder.losses(logits, [inputs[0]["instances"], None], images.tensor.shape[-2:])
    first = model.mask_decoder.losses(logits[:1], [inputs[0]["instances"]], images.tensor.shape[-2:])
    assert torch.allclose(only_first["loss_cam_mask"], first["loss_cam_mask"])
    none = model.mask_decoder.losses(logits, [None, None], images.tensor.shape[-2:])
    assert float(none["loss_cam_mask"].detach()) == 0


def test_balanced_mse_does_not_reward_empty_masks():
    target = torch.zeros(1, 1, 10, 10)
    target[0, 0, 4, 4] = 1.0
    empty, half = torch.zeros_like(target), torch.full_like(target, 0.5)
    mse = torch.nn.functional.mse_loss
    assert float(mse(empty, target)) < float(mse(half, target))  # plain MSE prefers the empty mask
    assert float(balanced_mse(empty, target)) == pytest.approx(0.5)  # (0 on background + 1 on the mask) / 2
    assert float(balanced_mse(half, target)) == pytest.approx(0.25)
    assert float(balanced_mse(target, target)) == 0
    assert float(balanced_mse(half, torch.zeros_like(target))) == pytest.approx(0.25)  # no mask: background


def test_mask_decoder_plain_mse_option():
    cfg = cfg_of("cxr_poscam_stage3.yaml", "WSDET.CAM.MASK_DECODER.BALANCED", "False")
    model = build_model(cfg)
    inputs = batch([(0,)], strong=(0,))
    images = model.preprocess_image(inputs)
    logits = model.mask_decoder(model.backbone(images.tensor))
    loss = model.mask_decoder.losses(logits, [inputs[0]["instances"]], images.tensor.shape[-2:])
    targets = torch.nn.functional.adaptive_avg_pool2d(
        class_mask_targets(inputs[0]["instances"], K, tuple(images.tensor.shape[-2:]))[None],
        logits.shape[-2:],
    )
    expected = torch.nn.functional.mse_loss(torch.sigmoid(logits), targets)
    assert torch.allclose(loss["loss_cam_mask"], expected)


TINY_DETECTOR = instant_opts("rcnn")


@pytest.mark.parametrize("arch", ["WSDetMILRCNNWithImageBranch", "GeneralizedRCNNWithImageBranch"])
def test_image_branch_on_detectors(arch, monkeypatch):
    torch.manual_seed(0)
    model = build_model(
        cfg_of(
            "bus_joint_with_cam.yaml",
            "MODEL.META_ARCHITECTURE",
            arch,
            "MODEL.ROI_HEADS.NAME",
            "StandardROIHeads" if arch.startswith("General") else "MILROIHeads",
            *TINY_DETECTOR
        )
    )
    seen = {}
    branch_losses = model.image_branch.losses

    def spy(outputs, labels):
        seen["labels"] = labels
        return branch_losses(outputs, labels)

    monkeypatch.setattr(model.image_branch, "losses", spy)
    if arch.startswith("WSDet"):  # weak first: the detector batches strong images first
        inputs = batch([(), (1,), (0,)], strong=(2,), num_classes=2)
        expected = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    else:
        inputs = batch([(1,), (0,)], strong=(0, 1), num_classes=2)
        expected = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    losses = train_step(model, inputs)
    assert {"loss_cls", "loss_box_reg", "loss_rpn_cls", "loss_rpn_loc", "loss_cam_cls"} <= set(losses)
    assert torch.equal(seen["labels"], expected)
    assert all(p.grad is not None for p in model.image_branch.parameters())
    assert model._branch_features is None  # nothing kept between steps

    model.eval()
    with torch.no_grad():
        outputs = model(batch([(1,), ()], num_classes=2))
    for out in outputs:
        assert out["image_probs"].shape == (2,)
        assert out["heatmaps"].shape == (2, 96, 128)
        assert out["instances"].image_size == (96, 128)


def test_missing_image_labels_name_the_input():
    model = build_model(cfg_of("cxr_gap.yaml"))
    model.train()
    inputs = batch([(0,), ()])
    del inputs[1]["image_labels"]
    inputs[1]["file_name"] = "scans/case7.png"
    message = r"1 training input\(s\) have no 'image_labels' \(first: scans/case7.png\)"
    with EventStorage(), pytest.raises(KeyError, match=message):
        model(inputs)
