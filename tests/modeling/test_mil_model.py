"""Joint strong/weak MIL Faster R-CNN: MoI selection, MIL loss, alpha schedules and the tiny model."""
import math

import pytest
import torch
import torch.nn.functional as F

from detectron2.config import get_cfg
from detectron2.modeling import build_model
from detectron2.structures import Boxes, Instances
from detectron2.utils.events import EventStorage

from wsdet.config import add_wsdet_config
from wsdet.modeling import (
    MOI_VARIANTS,
    MILRes5ROIHeads,
    MoISelector,
    build_mil_alpha_schedule,
    image_label_targets,
    mil_loss,
    regions_with_gradient,
)
from wsdet.modeling import mil_roi_heads

BENIGN, MALIGNANT, NORMAL = 0, 1, 2
STRONG_LOSSES = ("loss_rpn_cls", "loss_rpn_loc", "loss_cls", "loss_box_reg")
ALL_LOSSES = set(STRONG_LOSSES) | {"loss_mil"}

# Columns: benign, malignant, background. Rankings by probability and by logit disagree for every
# variant: malignant prob r0 / logit r1; benign prob r2 / logit r1; top lesion score prob r2 /
# logit r1; lowest background prob r2 / logit r3.
LOGITS = torch.tensor([[0.0, 3.0, 0.0], [5.0, 4.0, 5.0], [4.0, -2.0, -2.0], [-1.0, -1.0, -3.0]])


@pytest.mark.parametrize(
    "variant, target, by_prob, by_logit",
    [
        ("most_malignant", BENIGN, 0, 1),
        ("most_malignant", MALIGNANT, 0, 1),
        ("most_malignant", None, 0, 1),
        ("most_benign", BENIGN, 2, 1),
        ("most_benign", MALIGNANT, 0, 1),
        ("most_benign", None, 2, 1),  # label-free: falls back to most discriminative
        ("most_discriminative", BENIGN, 2, 1),
        ("most_discriminative", MALIGNANT, 0, 1),
        ("most_abnormal", BENIGN, 2, 3),
        ("most_abnormal", MALIGNANT, 0, 1),
        ("most_abnormal", None, 2, 3),
    ],
)
def test_select_moi(variant, target, by_prob, by_logit):
    targets = torch.tensor([-1 if target is None else target])
    for select_on, expected in (("prob", by_prob), ("logit", by_logit)):
        selector = MoISelector(variant, MALIGNANT, 2, select_on)
        assert selector.select_per_image([LOGITS], targets).tolist() == [expected]


@pytest.mark.parametrize(
    "options, message",
    [
        (("most_anything", MALIGNANT, 2, "prob"), "WSDET.MIL.MOI"),
        (("most_malignant", MALIGNANT, 2, "logits"), "WSDET.MIL.SELECT_ON"),
        (("most_malignant", 2, 2, "prob"), "WSDET.MIL.MALIGNANT_CLASS"),
    ],
)
def test_moi_selector_is_validated_when_built(options, message):
    with pytest.raises(ValueError, match=message):
        MoISelector(*options)


def test_image_label_targets():
    labels = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert image_label_targets(labels).tolist() == [NORMAL, BENIGN, MALIGNANT]
    with pytest.raises(ValueError):
        image_label_targets(torch.tensor([[1.0, 1.0]]))


def _loss(logits_per_image, targets, weights, variant="most_malignant", normal_regions=0):
    targets, weights = torch.tensor(targets), torch.tensor(weights)
    return mil_loss(logits_per_image, targets, weights, MoISelector(variant, MALIGNANT, 2), normal_regions)


def test_mil_loss_gradient_only_through_moi():
    logits = LOGITS.clone().requires_grad_()
    loss = _loss([logits], [BENIGN], [1.0, 1.0, 0.0])
    # most malignant region by probability: r0, trained towards benign
    assert torch.allclose(loss, F.cross_entropy(LOGITS[:1], torch.tensor([BENIGN])))
    loss.backward()
    assert logits.grad[0].abs().sum() > 0
    assert torch.all(logits.grad[1:] == 0)


def test_mil_loss_class_weights_and_mean_over_images():
    benign, malignant = LOGITS.clone(), (LOGITS + 1.0).flip(0)
    loss = _loss([benign, malignant], [BENIGN, MALIGNANT], [0.3, 0.7, 0.0])
    ce_benign = F.cross_entropy(LOGITS[:1], torch.tensor([BENIGN]))
    ce_malignant = F.cross_entropy(malignant[3:], torch.tensor([MALIGNANT]))  # r0 after the flip
    assert torch.allclose(loss, (0.3 * ce_benign + 0.7 * ce_malignant) / 2)


def test_mil_loss_normal_images():
    normal = LOGITS.clone().requires_grad_()
    ignored = _loss([normal], [NORMAL], [1.0, 1.0, 0.0])
    ignored.backward()
    assert ignored.item() == 0 and torch.all(normal.grad == 0)

    normal.grad = None
    background = _loss([normal], [NORMAL], [1.0, 1.0, 0.5])
    expected = 0.5 * F.cross_entropy(LOGITS, torch.full((4,), NORMAL))
    assert torch.allclose(background, expected)
    background.backward()
    assert torch.all(normal.grad.abs().sum(dim=1) > 0)  # every region is pushed to background


def test_mil_loss_is_stable_and_skips_empty_images():
    huge = torch.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    loss = _loss([huge, torch.zeros(0, 3)], [MALIGNANT, BENIGN], [1.0, 1.0, 0.0])
    assert torch.isfinite(loss) and math.isclose(loss.item(), 2e4 / 2, rel_tol=1e-6)
    loss.backward()
    assert torch.isfinite(huge.grad).all()


def _reference_moi(logits, target, variant, select_on):
    """The MoI rule of one image, written out image by image (the test oracle of the batched code)."""
    scores = logits if select_on == "logit" else F.softmax(logits, dim=1)
    if variant == "most_malignant" or target == MALIGNANT:
        key = scores[:, MALIGNANT]
    elif variant == "most_benign" and target in (BENIGN,):
        key = scores[:, target]
    elif variant == "most_abnormal":
        key = -scores[:, NORMAL]
    else:
        key = scores[:, :NORMAL].max(dim=1).values
    return int(key.argmax())


def _reference_loss(logits_per_image, targets, weights, variant, select_on, normal_regions):
    terms = []
    for logits, target in zip(logits_per_image, targets.tolist()):
        if len(logits) == 0:
            terms.append(logits.sum())
            continue
        if target == NORMAL:
            if normal_regions:
                scores = logits if select_on == "logit" else F.softmax(logits, dim=1)
                logits = logits[(-scores[:, NORMAL]).argsort(descending=True, stable=True)[:normal_regions]]
        else:
            index = _reference_moi(logits, target, variant, select_on)
            logits = logits[index : index + 1]
        labels = torch.full((len(logits),), target)
        terms.append(weights[target] * F.cross_entropy(logits, labels))
    return torch.stack(terms).mean()


@pytest.mark.parametrize("seed", range(40))
def test_batched_mil_loss_equals_the_per_image_definition(seed):
    generator = torch.Generator().manual_seed(seed)
    variant = MOI_VARIANTS[seed % 4]
    select_on = ("prob", "logit")[seed // 4 % 2]
    normal_regions = (0, 1, 3)[seed % 3]
    num_images = int(torch.randint(1, 6, (1,), generator=generator))
    lengths = torch.randint(0, 7, (num_images,), generator=generator).tolist()
    # integer logits: many ties, which both must break towards the first region
    logits = [torch.randint(-3, 4, (n, 3), generator=generator).float().requires_grad_() for n in lengths]
    targets = torch.randint(0, 3, (num_images,), generator=generator)
    weights = torch.tensor([0.3, 0.7, 0.5])
    selector = MoISelector(variant, MALIGNANT, 2, select_on)

    batched = mil_loss(logits, targets, weights, selector, normal_regions)
    reference = _reference_loss(logits, targets, weights, variant, select_on, normal_regions)
    assert torch.allclose(batched, reference, rtol=1e-6, atol=1e-7)
    nonempty = [i for i, n in enumerate(lengths) if n]
    if not nonempty:
        return
    chosen = selector.select_per_image([logits[i] for i in nonempty], targets[nonempty])
    assert chosen.tolist() == [
        _reference_moi(logits[i], int(targets[i]), variant, select_on) for i in nonempty
    ]
    grads = torch.autograd.grad(batched, [x for x in logits if len(x)], allow_unused=True)
    expected = torch.autograd.grad(reference, [x for x in logits if len(x)], allow_unused=True)
    for g, e in zip(grads, expected):
        assert torch.allclose(g, e, atol=1e-7)


@pytest.mark.parametrize("seed", range(24))
def test_the_regions_with_gradient_alone_give_the_same_loss(seed):
    generator = torch.Generator().manual_seed(seed)
    normal_regions = (0, 1, 3)[seed % 3]
    lengths = torch.randint(0, 7, (4,), generator=generator).tolist()
    logits = [torch.randint(-3, 4, (n, 3), generator=generator).float().requires_grad_() for n in lengths]
    targets = torch.randint(0, 3, (4,), generator=generator)
    weights = torch.tensor([0.3, 0.7, (0.0, 0.5)[seed % 2]])  # normal images ignored or pushed to background
    selector = MoISelector(MOI_VARIANTS[seed % 4], MALIGNANT, 2, ("prob", "logit")[seed // 4 % 2])

    keep = regions_with_gradient(logits, targets, weights, selector, normal_regions)
    full = mil_loss(logits, targets, weights, selector, normal_regions)
    alone = mil_loss([x[k] for x, k in zip(logits, keep)], targets, weights, selector, normal_regions)
    assert torch.allclose(alone, full, rtol=1e-6, atol=1e-7)
    grads = torch.autograd.grad(full, [x for x in logits if len(x)], allow_unused=True)
    for x, k, g in zip([x for x in logits if len(x)], [k for x, k in zip(logits, keep) if len(x)], grads):
        with_gradient = [] if g is None else g.abs().sum(dim=1).nonzero().squeeze(1).tolist()
        assert set(with_gradient) <= set(k.tolist()) and k.tolist() == sorted(k.tolist())


def test_regions_with_gradient_examples():
    selector = MoISelector("most_abnormal", MALIGNANT, 2)
    logits = [LOGITS, LOGITS, LOGITS, torch.zeros(0, 3)]
    targets = torch.tensor([BENIGN, NORMAL, MALIGNANT, BENIGN])
    keep = regions_with_gradient(logits, targets, torch.tensor([1.0, 1.0, 0.5]), selector, normal_regions=2)
    # benign: the most abnormal region r2; normal: its two most abnormal regions r2, r0; malignant: r0
    assert [k.tolist() for k in keep] == [[2], [0, 2], [0], []]
    ignored = regions_with_gradient(logits, targets, torch.tensor([1.0, 1.0, 0.0]), selector, normal_regions=2)
    assert [k.tolist() for k in ignored] == [[2], [], [0], []]


def test_mil_loss_normal_image_top_regions():
    normal = LOGITS.clone().requires_grad_()
    loss = _loss([normal], [NORMAL], [1.0, 1.0, 0.5], normal_regions=2)
    # background probabilities 0.045, 0.42, 0.0025, 0.063: the two lowest are r2, then r0
    expected = 0.5 * F.cross_entropy(LOGITS[[2, 0]], torch.full((2,), NORMAL))
    assert torch.allclose(loss, expected)
    loss.backward()
    assert normal.grad[[1, 3]].abs().sum() == 0 and torch.all(normal.grad[[0, 2]].abs().sum(dim=1) > 0)


def test_image_probs():
    probs = MoISelector("most_malignant", MALIGNANT, 2).image_probs([LOGITS, torch.zeros(0, 3)])
    assert torch.allclose(probs[0], F.softmax(LOGITS[0], dim=0)[:2])
    assert torch.equal(probs[1], torch.zeros(2))


def _alpha(name, value, period=2000, ramp_iters=0, max_iter=900_000):
    return build_mil_alpha_schedule(name, value, period, ramp_iters, max_iter)


def test_alpha_schedules():
    step = _alpha("step_exp", 1.0)
    assert step(0) == pytest.approx(0.01) and step(1999) == pytest.approx(0.01)
    assert step(2000) == pytest.approx(1 - 0.99 * 0.9)
    assert step(4000) == pytest.approx(1 - 0.99 * 0.81)
    assert step(899_999) == pytest.approx(1.0)
    assert _alpha("static", 0.5)(12345) == 0.5
    linear = _alpha("linear", 0.8, ramp_iters=100, max_iter=1000)
    assert [linear(t) for t in (0, 50, 100, 500)] == pytest.approx([0.0, 0.4, 0.8, 0.8])
    with pytest.raises(ValueError, match="WSDET.MIL.ALPHA.SCHEDULE"):
        _alpha("cosine", 1.0)


def test_alpha_schedule_of_the_cpu_configs():
    step = _alpha("step_exp", 0.3, period=50, max_iter=600)
    assert [step(t) for t in (0, 49, 50, 599)] == pytest.approx(
        [0.3 * (1 - 0.99 * 0.9**k) for k in (0, 0, 1, 11)]
    )
    ramp = _alpha("linear", 1.0, ramp_iters=1000, max_iter=600)  # the ramp is cut by the end of training
    assert [ramp(t) for t in (0, 300, 599)] == pytest.approx([0.0, 0.3, 0.599])


def _cfg(c4: bool = False):
    cfg = get_cfg()
    add_wsdet_config(cfg)
    cfg.merge_from_file("configs/Base-WSDet-RCNN.yaml")
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.RPN.POST_NMS_TOPK_TEST = 50
    cfg.WSDET.MIL.POST_NMS_TOPK_TRAIN = 40
    cfg.WSDET.MIL.NORMAL_WEIGHT = 1.0
    if c4:
        cfg.MODEL.BACKBONE.NAME = "build_resnet_backbone"
        cfg.MODEL.RESNETS.OUT_FEATURES = ["res4"]
        cfg.MODEL.RPN.IN_FEATURES = ["res4"]
        cfg.MODEL.ANCHOR_GENERATOR.SIZES = [[16, 32, 64]]
        cfg.MODEL.ROI_HEADS.NAME = "MILRes5ROIHeads"
        cfg.MODEL.ROI_HEADS.IN_FEATURES = ["res4"]
        cfg.MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION = 8
    return cfg


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(_cfg())


def _image(seed):
    return torch.randint(0, 256, (3, 64, 64), generator=torch.Generator().manual_seed(seed)).to(
        torch.uint8
    )


def _strong(seed, label):
    instances = Instances((64, 64))
    instances.gt_boxes = Boxes(torch.tensor([[8.0, 10.0, 40.0, 36.0]]))
    instances.gt_classes = torch.tensor([label])
    return {"image": _image(seed), "height": 64, "width": 64, "supervision": "strong",
            "image_labels": F.one_hot(torch.tensor(label), 2).float(), "instances": instances}


def _weak(seed, label=None):
    labels = torch.zeros(2) if label is None else F.one_hot(torch.tensor(label), 2).float()
    return {"image": _image(seed), "height": 64, "width": 64, "supervision": "weak",
            "image_labels": labels}


MIXED = [_strong(0, BENIGN), _weak(1, MALIGNANT), _strong(2, MALIGNANT), _weak(3, BENIGN), _weak(4)]


def _train_step(model, batch, iteration=0):
    model.train()
    model.zero_grad()
    with EventStorage(iteration) as storage:
        losses = model(batch)
        sum(losses.values()).backward()
    return losses, storage


@pytest.mark.parametrize(
    "batch",
    [MIXED, [_strong(0, BENIGN), _strong(2, MALIGNANT)], [_weak(1, MALIGNANT), _weak(4)]],
    ids=["strong+weak", "strong-only", "weak-only"],
)
def test_train_step_same_keys_and_every_parameter_gets_a_gradient(model, batch):
    losses, _ = _train_step(model, batch)
    assert set(losses) == ALL_LOSSES
    assert all(torch.isfinite(v) for v in losses.values())
    # the graph of every step touches every parameter (what DDP without find_unused_parameters needs)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_weak_images_get_no_rpn_or_box_loss(model):
    weak = [_weak(1, MALIGNANT), _weak(3, BENIGN)]
    losses, _ = _train_step(model, weak, iteration=5000)
    assert all(losses[k].item() == 0 for k in STRONG_LOSSES) and losses["loss_mil"].item() > 0
    # the zero terms give exactly zero gradients to the RPN and box regression ...
    assert all(torch.all(p.grad == 0) for p in model.proposal_generator.parameters())
    assert all(torch.all(p.grad == 0) for p in model.roi_heads.box_predictor.bbox_pred.parameters())
    # ... and every parameter receives exactly the gradient of alpha * loss_mil alone (which does not
    # reach the RPN nor the box regression: None there)
    total_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    with EventStorage(5000):
        model(weak)["loss_mil"].backward()
    for name, p in model.named_parameters():
        mil_grad = torch.zeros_like(p) if p.grad is None else p.grad
        assert torch.equal(mil_grad, total_grads[name]), name


@pytest.fixture
def set_normal_weight(model):
    """Sets the MIL CE weight of normal weak images of the shared model for one test."""
    saved = model.roi_heads.mil_class_weights.clone()
    yield lambda weight: model.roi_heads.mil_class_weights.__setitem__(NORMAL, weight)
    model.roi_heads.mil_class_weights.copy_(saved)


@pytest.mark.parametrize("normal_weight", [1.0, 0.0])
def test_weak_loss_and_gradients_equal_one_pass_over_every_proposal(model, monkeypatch, set_normal_weight,
                                                                     normal_weight):
    """The box head keeps a graph for the regions the MIL loss has a gradient through only; the
    reference is the one pass with a graph over every proposal (what a BatchNorm box head gets)."""
    set_normal_weight(normal_weight)
    batch = [_weak(1, MALIGNANT), _weak(3, BENIGN), _weak(4)]
    results = []
    for one_pass in (False, True):
        if one_pass:  # every box head counts as one with batch statistics
            monkeypatch.setattr(mil_roi_heads, "_BATCH_STATISTICS_NORMS", (torch.nn.Module,))
        losses, _ = _train_step(model, batch, iteration=5000)
        results.append((losses["loss_mil"].detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (loss, grads), (reference, reference_grads) = results
    assert loss.item() > 0 and torch.allclose(loss, reference, rtol=1e-5)
    for name, grad in grads.items():
        assert torch.allclose(grad, reference_grads[name], rtol=1e-4, atol=1e-6), name


def test_weak_batch_of_ignored_normal_images_trains(model, set_normal_weight):
    set_normal_weight(0.0)
    losses, _ = _train_step(model, [_weak(4), _weak(5)])
    assert set(losses) == ALL_LOSSES and all(v.item() == 0 for v in losses.values() if v.requires_grad)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_weak_images_do_not_change_strong_losses(model):
    # BN in eval mode: strong features must not depend on the weak images sharing the backbone pass
    strong = [_strong(0, BENIGN), _strong(2, MALIGNANT)]
    results = []
    for batch in (strong, MIXED):
        model.train()
        model.backbone.eval()
        torch.manual_seed(0)  # same RPN / ROI sampling
        with EventStorage(0), torch.no_grad():
            results.append(model(batch))
    for k in STRONG_LOSSES:
        assert torch.allclose(results[0][k], results[1][k], atol=1e-6), k
    assert results[0]["loss_mil"].item() == 0 and results[1]["loss_mil"].item() > 0


def test_alpha_weights_and_is_logged(model):
    alpha = model.alpha_schedule  # the base config's "step_exp" schedule, PERIOD 100
    losses = {}
    for iteration in (0, 2000):
        losses[iteration], storage = _train_step(model, [_weak(1, MALIGNANT)], iteration)
        assert storage.history("mil/alpha").latest() == pytest.approx(alpha(iteration))
    ratio = losses[2000]["loss_mil"] / losses[0]["loss_mil"]
    # the weights are updated between steps only through the optimizer, which is not run here
    assert ratio.item() == pytest.approx(alpha(2000) / alpha(0), rel=1e-4)


def test_weak_proposal_count(model):
    model.train()
    batch = [_strong(0, BENIGN), _weak(1, MALIGNANT)]
    images = model.preprocess_image(batch)
    with EventStorage(0):
        proposals, losses = model.proposal_generator(
            images, model.backbone(images.tensor), [batch[0]["instances"]]
        )
    assert 40 < len(proposals[0]) <= 300  # POST_NMS_TOPK_TRAIN of the box-annotated image
    assert 0 < len(proposals[1]) <= 40  # WSDET.MIL.POST_NMS_TOPK_TRAIN of the weak one
    assert set(losses) == {"loss_rpn_cls", "loss_rpn_loc"}


def test_inference_returns_instances_and_image_probs(model):
    model.eval()
    with torch.no_grad():
        outputs = model([_weak(1), _strong(2, MALIGNANT)])
        thresh = model.roi_heads.box_predictor.test_score_thresh
        model.roi_heads.box_predictor.test_score_thresh = 1.01  # no detection survives
        empty = model([_weak(1)])
        model.roi_heads.box_predictor.test_score_thresh = thresh
    for output in outputs + empty:
        assert output["image_probs"].shape == (2,)
        assert torch.all(output["image_probs"] >= 0) and output["image_probs"].sum() <= 1 + 1e-6
    assert outputs[0]["instances"].has("pred_boxes") and len(outputs[0]["instances"]) > 0
    assert len(empty[0]["instances"]) == 0


def test_c4_model_trains_and_predicts():
    torch.manual_seed(0)
    model = build_model(_cfg(c4=True))
    assert isinstance(model.roi_heads, MILRes5ROIHeads)
    for batch in (MIXED[:2], MIXED[1:2]):
        losses, _ = _train_step(model, batch)
        assert set(losses) == ALL_LOSSES and all(torch.isfinite(v) for v in losses.values())
    model.eval()
    with torch.no_grad():
        output = model([_weak(1)])[0]
    assert output["image_probs"].shape == (2,) and output["instances"].has("scores")


def test_background_boxes_reach_the_rpn(model, monkeypatch):
    seen = []
    monkeypatch.setattr(type(model.proposal_generator), "label_and_sample_anchors",
                        lambda self, anchors, gt: seen.append(self._background_boxes) or
                        super(type(self), self).label_and_sample_anchors(anchors, gt))
    strong = _strong(0, BENIGN)
    strong["background_boxes"] = Boxes(torch.tensor([[40.0, 40.0, 60.0, 60.0]]))
    losses, _ = _train_step(model, [strong, _strong(2, MALIGNANT), _weak(1, BENIGN)])
    assert all(torch.isfinite(v) for v in losses.values())
    assert len(seen[0]) == 2 and seen[0][1] is None
    assert torch.equal(seen[0][0].tensor, strong["background_boxes"].tensor)
