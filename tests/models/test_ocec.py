"""Tests for OCECNet: layout rules, analytic feature shapes, heads, init and config errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from ocec_lightning.errors import ConfigError
from ocec_lightning.models import OCECNet
from ocec_lightning.models.layers import LayerNorm2d, LayerScale
from ocec_lightning.models.ocec import backbone_feature_shape, valid_token_grids
from ocec_lightning.models.ocec_backbones import BACKBONES, block_stride
from ocec_lightning.models.ocec_heads import HEADS, attention_heads

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"
# Small widths keep the full backbone x head matrix well under a second per case.
BASE = 8


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("backbone", BACKBONES)
def test_forward_backward_every_backbone_and_head(backbone: str, head: str) -> None:
    # 6 blocks at 32x64: 4x8 map for baseline/inverted_se, 2x4 for convnext; [2, 2] fits all.
    model = OCECNet(
        backbone=backbone,
        head=head,
        base_channels=BASE,
        num_blocks=6,
        token_mixer_grid=[2, 2],
        image_size=[32, 64],
    )
    model.train()
    x = torch.randn(4, 3, 32, 64)
    logits = model(x)
    assert logits.shape == (4,)
    assert torch.isfinite(logits).all()
    logits.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_eval_mode_single_image() -> None:
    # BatchNorm1d in the heads must not break batch-size-1 inference.
    model = OCECNet(backbone="inverted_se", base_channels=BASE).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 64)).shape == (1,)


def test_stride_rule() -> None:
    assert [block_stride(i) for i in range(8)] == [1, 1, 2, 1, 2, 1, 2, 1]


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize(("num_blocks", "factor"), [(1, 1), (4, 2), (6, 4), (8, 8)])
def test_channels_double_at_each_downsample(backbone: str, num_blocks: int, factor: int) -> None:
    model = OCECNet(
        backbone=backbone,
        head="avg",
        base_channels=BASE,
        num_blocks=num_blocks,
        image_size=[64, 64],
    )
    assert model.feature_shape[0] == BASE * factor
    assert model.backbone.out_channels == BASE * factor


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("num_blocks", [1, 4, 6, 7])
@pytest.mark.parametrize("size", [(32, 64), (24, 40), (33, 47), (64, 64)])
def test_analytic_shape_matches_forward(backbone: str, num_blocks: int, size: tuple) -> None:
    expected = backbone_feature_shape(backbone, BASE, num_blocks, size)
    if min(expected[1:]) < 1:
        # The real forward would fail here, so the config must be rejected up front.
        with pytest.raises(ConfigError, match="model.num_blocks"):
            OCECNet(backbone=backbone, head="avg", num_blocks=num_blocks, image_size=size)
        return
    model = OCECNet(
        backbone=backbone, head="avg", base_channels=BASE, num_blocks=num_blocks, image_size=size
    ).eval()
    with torch.no_grad():
        feats = model.forward_features(torch.randn(1, 3, *size))
    assert tuple(feats.shape[1:]) == expected == model.feature_shape


def test_known_feature_shapes() -> None:
    # Defaults of conf/model/ocec.yaml at 32x64: 6 blocks -> two downsamples after the stem.
    assert backbone_feature_shape("baseline", 32, 6, (32, 64)) == (128, 4, 8)
    assert backbone_feature_shape("inverted_se", 32, 6, (32, 64)) == (128, 4, 8)
    assert backbone_feature_shape("convnext", 32, 6, (32, 64)) == (128, 2, 4)
    assert backbone_feature_shape("convnext", 32, 4, (24, 40)) == (64, 3, 5)
    assert backbone_feature_shape("convnext", 32, 6, (24, 40)) == (128, 1, 2)


def test_auto_head_resolution() -> None:
    expected = {"baseline": "avg", "inverted_se": "avgmax_mlp", "convnext": "transformer"}
    for backbone, head in expected.items():
        model = OCECNet(backbone=backbone, base_channels=BASE)
        assert model.resolved_head == head
    assert OCECNet(backbone="convnext", head="mlp_mixer", base_channels=BASE).resolved_head == (
        "mlp_mixer"
    )


def test_head_internals() -> None:
    assert attention_heads(128) == 8
    assert attention_heads(12) == 6
    assert attention_heads(7) == 7
    assert attention_heads(11) == 1
    model = OCECNet(
        backbone="convnext",
        head="transformer",
        base_channels=12,
        num_blocks=4,
        token_mixer_layers=3,
    )
    layers = list(model.head.layers)
    assert len(layers) == 3
    assert layers[0].self_attn.num_heads == 8  # C = 24 -> largest divisor <= 8
    assert layers[0].linear1.out_features == 128  # max(128, 2 * 24)
    mlp = OCECNet(backbone="inverted_se", base_channels=4, num_blocks=1).head.mlp
    assert [m.out_features for m in mlp if isinstance(m, nn.Linear)] == [16, 1]


def test_valid_token_grids() -> None:
    assert valid_token_grids(2, 4) == [(1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (2, 4)]
    assert valid_token_grids(3, 5) == [(1, 1), (1, 5), (3, 1), (3, 5)]
    assert valid_token_grids(1, 1) == [(1, 1)]


def test_grid_trap_convnext_24x40() -> None:
    with pytest.raises(ConfigError) as info:
        OCECNet(backbone="convnext", num_blocks=4, token_mixer_grid=[3, 2], image_size=[24, 40])
    err = info.value
    assert err.key == "model.token_mixer_grid"
    assert err.value == [3, 2]
    msg = str(err)
    assert "image_size [24, 40] is 3×5" in msg
    assert "grids that fit: [1, 1], [1, 5], [3, 1], [3, 5]" in msg
    assert msg.startswith("config key 'model.token_mixer_grid' = [3, 2] is invalid: ")
    # The grid that the message proposes does build.
    OCECNet(
        backbone="convnext",
        num_blocks=4,
        base_channels=BASE,
        token_mixer_grid=[3, 5],
        image_size=[24, 40],
    )


def test_grid_ignored_by_pooling_heads() -> None:
    # A grid that does not divide the map is irrelevant when the head does not use it.
    model = OCECNet(backbone="baseline", head="avg", token_mixer_grid=[3, 3], base_channels=BASE)
    assert model.resolved_head == "avg"
    with pytest.raises(ConfigError, match="model.token_mixer_grid"):
        OCECNet(backbone="baseline", head="mlp_mixer", token_mixer_grid=[3, 3])


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("backbone", "resnet", "one of baseline, inverted_se, convnext"),
        ("head", "gap", "one of auto, avg, avgmax_mlp, transformer, mlp_mixer"),
        ("base_channels", 3, ">= 4"),
        ("num_blocks", 0, ">= 1"),
        ("dropout", 1.0, "a number in [0, 1)"),
        ("dropout", -0.1, "a number in [0, 1)"),
        ("dropout", "x", "a number in [0, 1)"),
        ("token_mixer_layers", 0, ">= 1"),
        ("expansion", 0, ">= 1"),
        ("se_reduction", 0, ">= 1"),
        ("image_size", [32], "two positive integers"),
        ("image_size", [32, 0], "two positive integers"),
        ("token_mixer_grid", [2, 2, 2], "two positive integers"),
        ("num_blocks", True, ">= 1"),
    ],
)
def test_range_errors_name_the_key(key: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        OCECNet(**{key: value})
    assert info.value.key == f"model.{key}"
    assert expected in str(info.value)


def test_too_many_blocks() -> None:
    # convnext at 32x64: stem 8x16, then 4x8, 2x4, 1x2 (8 blocks), and block 8 gives 0x1.
    with pytest.raises(ConfigError) as info:
        OCECNet(backbone="convnext", head="avg", num_blocks=9, image_size=[32, 64])
    assert info.value.key == "model.num_blocks"
    assert info.value.value == 9
    assert "the largest num_blocks that fits is 8" in str(info.value)
    OCECNet(backbone="convnext", head="avg", base_channels=4, num_blocks=8, image_size=[32, 64])
    with pytest.raises(ConfigError) as info:
        OCECNet(backbone="convnext", head="avg", image_size=[3, 64])
    assert info.value.key == "model.image_size"


def test_init_values() -> None:
    for backbone in BACKBONES:
        model = OCECNet(backbone=backbone, base_channels=BASE)
        norms = [
            m
            for m in model.modules()
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm))
        ]
        assert norms
        for m in norms:
            assert torch.equal(m.weight, torch.ones_like(m.weight))
            assert torch.equal(m.bias, torch.zeros_like(m.bias))
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None:
                assert torch.equal(m.bias, torch.zeros_like(m.bias))
    convnext = OCECNet(backbone="convnext", base_channels=BASE)
    scales = [m for m in convnext.modules() if isinstance(m, LayerScale)]
    assert len(scales) == 6
    assert all(torch.allclose(s.gamma, torch.full_like(s.gamma, 1e-6)) for s in scales)
    assert any(isinstance(m, LayerNorm2d) for m in convnext.modules())


def test_kaiming_fan_out_scale() -> None:
    # Kaiming normal fan_out/relu: std = sqrt(2 / (out_channels * k * k)).
    model = OCECNet(backbone="baseline", base_channels=64)
    stem_conv = model.backbone.stem[0]
    expected = (2.0 / (64 * 3 * 3)) ** 0.5
    assert stem_conv.weight.std().item() == pytest.approx(expected, rel=0.15)


def test_hydra_instantiate_with_listconfig() -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(
        {"data": {"image_size": [24, 40]}, "model": OmegaConf.load(CONF / "ocec.yaml")}
    )
    cfg.model.base_channels = BASE
    model = instantiate(cfg.model)
    assert isinstance(model, OCECNet)
    assert model.image_size == (24, 40)
    assert model.feature_shape == (4 * BASE, 3, 5)
    assert model(torch.randn(2, 3, 24, 40)).shape == (2,)
