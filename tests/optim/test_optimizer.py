"""Optimizer construction: weight-decay groups, layer-wise LR decay, LR scaling, factories."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from ocec_lightning.errors import ConfigError
from ocec_lightning.models.ocec import OCECNet
from ocec_lightning.optim.optimizer import build_optimizer, scaled_lr

BASE = {"decay_norm_and_bias": False, "layer_decay": None, "base_batch_size": None}


def _cfg(**kw: object) -> object:
    return OmegaConf.create(
        {
            **BASE,
            "_target_": "torch.optim.AdamW",
            "_partial_": True,
            "lr": 1e-3,
            "weight_decay": 0.05,
            **kw,
        }
    )


def _model() -> OCECNet:
    return OCECNet(base_channels=8, num_blocks=4)


def test_norms_and_biases_get_no_weight_decay_by_default() -> None:
    model = _model()
    optimizer = build_optimizer(_cfg(), model)
    decay_of = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    for name, param in model.named_parameters():
        expected = 0.0 if param.ndim <= 1 or name.endswith(".bias") else 0.05
        assert decay_of[id(param)] == expected, name
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))


def test_decay_norm_and_bias_true_decays_everything() -> None:
    optimizer = build_optimizer(_cfg(decay_norm_and_bias=True), _model())
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.05]


def test_layer_decay_scales_lr_from_head_to_stem() -> None:
    model = _model()
    optimizer = build_optimizer(_cfg(layer_decay=0.5), model)
    lr_of = {id(p): g["lr"] for g in optimizer.param_groups for p in g["params"]}
    names = dict(model.named_parameters())
    head = lr_of[id(names["head.fc.weight"])]
    stem = lr_of[id(next(p for n, p in names.items() if n.startswith("backbone.stem")))]
    block0 = lr_of[id(names[next(n for n in names if n.startswith("backbone.blocks.0"))])]
    assert head == pytest.approx(1e-3)
    # 4 blocks + stem + head = 6 layers: stem is 5 layers below the head.
    assert stem == pytest.approx(1e-3 * 0.5**5) and block0 == pytest.approx(1e-3 * 0.5**4)


def test_linear_lr_scaling_by_effective_batch() -> None:
    assert scaled_lr(1e-4, 8192, 4096) == pytest.approx(2e-4)
    assert scaled_lr(1e-4, 8192, None) == 1e-4
    optimizer = build_optimizer(_cfg(base_batch_size=64), _model(), effective_batch=256)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([4e-3, 4e-3])
    with pytest.raises(ConfigError, match="optimizer.base_batch_size"):
        build_optimizer(_cfg(base_batch_size=-2), _model(), effective_batch=64)


@pytest.mark.parametrize(
    ("target", "extra", "cls_name"),
    [
        ("torch.optim.SGD", {"momentum": 0.9, "nesterov": True}, "SGD"),
        ("torch.optim.RMSprop", {"alpha": 0.99}, "RMSprop"),
        ("timm.optim.create_optimizer_v2", {"opt": "lion"}, "Lion"),
        ("timm.optim.create_optimizer_v2", {"opt": "lamb"}, "Lamb"),
        ("timm.optim.create_optimizer_v2", {"opt": "adan"}, "Adan"),
    ],
)
def test_factories_build_and_step(target: str, extra: dict, cls_name: str) -> None:
    model = _model()
    optimizer = build_optimizer(_cfg(_target_=target, **extra), model)
    assert type(optimizer).__name__ == cls_name
    before = [p.detach().clone() for p in model.parameters()]
    model(torch.randn(4, 3, 32, 64)).sum().backward()
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert {g["weight_decay"] for g in optimizer.param_groups} == {0.0, 0.05}
