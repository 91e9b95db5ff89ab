"""Global pooling operators of CAM heads on hand-built maps, and PCAM pooling against its formula."""

import pytest
import torch

from detectron2.config import get_cfg

from wsdet.config import add_wsdet_config
from wsdet.modeling.cam import PCAMPool, PooledCAMHead, build_pooling
from wsdet.modeling.cam.pooling import (
    AttentionMILPool,
    ExpPool,
    GlobalAvgPool,
    GlobalMaxPool,
    LinearPool,
    LogSumExpPool,
)

# Two maps (1 image, 2 channels, 3 x 3): a single peak, and a ramp.
MAPS = torch.tensor(
    [
        [
            [[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]],
            [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]],
        ]
    ]
)


def test_gap_and_gmp():
    assert torch.allclose(GlobalAvgPool()(MAPS), torch.tensor([[1.0, 5.0]]))
    assert torch.equal(GlobalMaxPool()(MAPS), torch.tensor([[9.0, 9.0]]))


def test_lse_tends_to_gmp_and_gap():
    assert torch.allclose(LogSumExpPool(gamma=1000.0)(MAPS), GlobalMaxPool()(MAPS), atol=0.01)
    assert torch.allclose(LogSumExpPool(gamma=1e-4)(MAPS), GlobalAvgPool()(MAPS), atol=0.01)
    mid = LogSumExpPool(gamma=0.5)(MAPS)
    assert torch.all(mid > GlobalAvgPool()(MAPS)) and torch.all(mid < GlobalMaxPool()(MAPS))
    with pytest.raises(ValueError):
        LogSumExpPool(gamma=0.0)


def test_exp_and_linear_pooling():
    flat = MAPS.flatten(2)
    expected_exp = (flat * flat.softmax(dim=2)).sum(dim=2)
    assert torch.allclose(ExpPool()(MAPS), expected_exp)
    assert torch.allclose(LinearPool()(MAPS), torch.tensor([[9.0, 285.0 / 45.0]]))


def test_attention_mil_is_a_convex_combination():
    pool = AttentionMILPool(in_channels=2, hidden_dim=4)
    pooled = pool(MAPS)
    assert pooled.shape == (1, 2)
    assert torch.all(pooled >= MAPS.amin(dim=(2, 3)) - 1e-5) and torch.all(
        pooled <= MAPS.amax(dim=(2, 3)) + 1e-5
    )
    with torch.no_grad():  # constant attention scores: the mean
        pool.attention[-1].weight.zero_()
    assert torch.allclose(pool(MAPS), GlobalAvgPool()(MAPS))


def test_build_pooling_from_config():
    cfg = get_cfg()
    add_wsdet_config(cfg)
    cfg.WSDET.CAM.POOLING.NAME = "LogSumExpPool"
    cfg.WSDET.CAM.POOLING.LSE_GAMMA = 2.0
    pool = build_pooling(cfg, 8)
    assert isinstance(pool, LogSumExpPool) and pool.gamma == 2.0
    cfg.WSDET.CAM.POOLING.NAME = "AttentionMILPool"
    assert isinstance(build_pooling(cfg, 8), AttentionMILPool)


def test_pcam_matches_formula_and_adds_no_parameters():
    torch.manual_seed(0)
    num_classes, channels = 3, 5
    head = PooledCAMHead(in_channels=channels, pooling=PCAMPool(), num_classes=num_classes)
    gap_head = PooledCAMHead(in_channels=channels, pooling=GlobalAvgPool(), num_classes=num_classes)
    assert sum(p.numel() for p in head.parameters()) == sum(p.numel() for p in gap_head.parameters())
    assert list(PCAMPool().parameters()) == []

    x = torch.randn(2, channels, 4, 6)
    outputs = head(x)
    w, b = head.classifier.weight.flatten(1), head.classifier.bias
    for n in range(2):
        for c in range(num_classes):
            s = torch.einsum("k,khw->hw", w[c], x[n]) + b[c]  # logit map
            p = torch.sigmoid(s)
            weights = p / p.sum()
            pooled = (weights[None] * x[n]).sum(dim=(1, 2))  # probability-weighted feature
            assert torch.allclose(outputs["logits"][n, c], w[c] @ pooled + b[c], atol=1e-5)
            assert torch.allclose(outputs["heatmaps"][n, c], p, atol=1e-6)
    with pytest.raises(ValueError):
        PCAMPool()(x)
