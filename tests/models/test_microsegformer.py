"""Tests for MicroSegFormer: shapes, reference parameter counts, config errors, YAML."""

from __future__ import annotations

import inspect
import math
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from ocec_lightning.errors import ConfigError
from ocec_lightning.models.microsegformer import MicroSegFormer
from ocec_lightning.models.microsegformer_blocks import LMSA

CONF = Path(__file__).resolve().parents[2] / "conf" / "model" / "microsegformer.yaml"
# Reference counts (ANCHORS.md) for 19 classes at the reference sizes.
REFERENCE = 1_721_939
REFERENCE_LMSA = 1_747_923
# Narrow widths keep forward/backward tests in milliseconds.
SMALL = {"embed_dims": [8, 16, 24, 32], "decoder_dim": 16}


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("size", [(128, 128), (64, 96)])
def test_logits_at_input_resolution_and_all_parameters_get_gradients(size: tuple) -> None:
    model = MicroSegFormer(num_classes=5, image_size=size, lmsa=True, drop_path=0.1, **SMALL)
    logits = model(torch.randn(2, 3, *size))
    assert logits.shape == (2, 5, *size)
    logits.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_initial_predictions_are_near_uniform() -> None:
    # Small classifier init: the first cross-entropy is close to log(C), not several times it.
    model = MicroSegFormer(num_classes=11, image_size=(64, 64), **SMALL).eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 64, 64))
    target = torch.randint(0, 11, (2, 64, 64))
    ce = torch.nn.functional.cross_entropy(logits, target).item()
    assert ce == pytest.approx(math.log(11), abs=0.1)


def test_reference_parameter_counts() -> None:
    default = _count(MicroSegFormer(num_classes=19))
    with_lmsa = _count(MicroSegFormer(num_classes=19, lmsa=True))
    # SegFormer layout (Mix-FFN, conv-BN-ReLU fuse): 384 below the reference.
    assert default == 1_721_555
    assert with_lmsa == 1_747_539
    assert abs(default - REFERENCE) / REFERENCE < 0.02
    assert abs(with_lmsa - REFERENCE_LMSA) / REFERENCE_LMSA < 0.02
    # The reference code's own layout reproduces its counts exactly.
    ref = {"num_classes": 19, "ffn": "mlp", "decoder_fuse": "mlp"}
    assert _count(MicroSegFormer(**ref)) == REFERENCE
    assert _count(MicroSegFormer(**ref, lmsa=True)) == REFERENCE_LMSA
    assert _count(LMSA(128)) == REFERENCE_LMSA - REFERENCE == 25_984


def test_eval_is_deterministic_and_drop_path_only_acts_in_training() -> None:
    model = MicroSegFormer(num_classes=3, image_size=(64, 64), drop_path=0.5, **SMALL)
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    model.train()
    with torch.no_grad():
        assert not torch.allclose(model(x), model(x))
    rates = [b.drop_path.prob for s in model.stages for b in s.blocks]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.5) and rates == sorted(rates)


def test_gray_input_and_three_stages() -> None:
    model = MicroSegFormer(
        num_classes=2,
        in_channels=1,
        embed_dims=[8, 16, 24],
        depths=[1, 1, 1],
        num_heads=[1, 2, 4],
        sr_ratios=[4, 2, 1],
        decoder_dim=16,
        image_size=(48, 80),  # 3 stages: total stride 16
    ).eval()
    assert model.spec.total_stride == 16
    with torch.no_grad():
        assert model(torch.randn(1, 1, 48, 80)).shape == (1, 2, 48, 80)


def test_image_size_not_divisible_names_key_and_nearest_sizes() -> None:
    with pytest.raises(ConfigError) as err:
        MicroSegFormer(image_size=(130, 128))
    assert err.value.key == "model.image_size"
    # The valid width is kept; the height is rounded both ways.
    assert str(err.value).endswith("nearest valid sizes: [128, 128], [160, 128]")


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"depths": [1, 2, 2]}, "model.depths"),
        ({"sr_ratios": [8, 4, 2, 1, 1]}, "model.sr_ratios"),
        ({"num_heads": [1, 3, 1, 1]}, "model.num_heads"),
        ({"embed_dims": [32, 0, 128, 192]}, "model.embed_dims"),
        ({"mlp_ratio": 0}, "model.mlp_ratio"),
        ({"dropout": 1.0}, "model.dropout"),
        ({"drop_path": -0.1}, "model.drop_path"),
        ({"ffn": "conv"}, "model.ffn"),
        ({"decoder_fuse": "sum"}, "model.decoder_fuse"),
        ({"num_classes": 0}, "model.num_classes"),
        ({"lmsa": "yes"}, "model.lmsa"),
        ({"image_size": (32, 32), "sr_ratios": [16, 4, 2, 1]}, "model.sr_ratios"),
    ],
)
def test_bad_config_raises_before_building(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        MicroSegFormer(**kwargs)
    assert err.value.key == key


def test_yaml_documents_every_argument_and_instantiates() -> None:
    node = OmegaConf.load(CONF)
    params = set(inspect.signature(MicroSegFormer).parameters)
    assert set(node) - {"_target_"} == params
    text = CONF.read_text()
    for name in params:
        line = next(li for li in text.splitlines() if li.startswith(f"{name}:"))
        assert "#" in line, f"{name} has no comment"
    cfg = OmegaConf.create(
        {"task": {"num_classes": 11}, "data": {"image_size": [64, 64]}, "model": node}
    )
    model = instantiate(cfg.model)
    assert isinstance(model, MicroSegFormer) and model.num_classes == 11
    assert model.image_size == (64, 64)
