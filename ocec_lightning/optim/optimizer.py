"""Build the optimizer from the `optimizer` config group.

The YAML holds the optimizer's own arguments (`_target_`, `lr`, `weight_decay`, betas,
...) plus three keys handled here and removed before instantiation:
- `decay_norm_and_bias` (default false): weight decay on 1-D parameters (norm weights,
  biases) too; by default they get none (timm's `param_groups_weight_decay`).
- `layer_decay` (null | 0 < d < 1): layer-wise LR decay — the last layer keeps the base LR,
  each earlier layer gets d times the next one (timm's `param_groups_layer_decay`, which
  uses the model's `group_matcher` when it has one).
- `base_batch_size` (null | int): linear LR scaling, lr = lr × effective_batch / base.
Per-group LR scales are written into each group's `lr`, so warmup and every scheduler keep
the ratios between groups.
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from timm.optim import param_groups_layer_decay, param_groups_weight_decay
from torch import nn

from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.errors import ConfigError

BUILDER_KEYS = ("decay_norm_and_bias", "layer_decay", "base_batch_size")


def scaled_lr(lr: float, effective_batch: int, base_batch_size: int | None) -> float:
    """Linear scaling rule: lr × effective_batch / base_batch_size (unchanged without a base)."""
    if not base_batch_size:
        return float(lr)
    if int(base_batch_size) < 1:
        raise ConfigError(
            "optimizer.base_batch_size", base_batch_size, "a positive batch size or null"
        )
    return float(lr) * effective_batch / int(base_batch_size)


def parameter_groups(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    decay_norm_and_bias: bool,
    layer_decay: float | None,
) -> list[dict[str, Any]]:
    """Parameter groups with per-group `lr` and `weight_decay`."""
    if layer_decay is not None:
        if not 0 < float(layer_decay) < 1:
            raise ConfigError(
                "optimizer.layer_decay", layer_decay, "a value in (0, 1), e.g. 0.75, or null"
            )
        groups = param_groups_layer_decay(
            model,
            weight_decay=weight_decay,
            layer_decay=float(layer_decay),
            weight_decay_exclude_1d=not decay_norm_and_bias,
        )
    else:
        groups = param_groups_weight_decay(
            model, weight_decay=weight_decay, weight_decay_exclude_1d=not decay_norm_and_bias
        )
    for group in groups:
        group["lr"] = lr * float(group.pop("lr_scale", 1.0))
    return groups


def build_optimizer(
    opt_cfg: DictConfig, model: nn.Module, effective_batch: int = 1
) -> torch.optim.Optimizer:
    """Instantiate the configured optimizer for `model`'s parameters."""
    raw = OmegaConf.to_container(opt_cfg, resolve=True)
    assert isinstance(raw, dict)
    options = {k: raw.pop(k, None) for k in BUILDER_KEYS}
    lr = scaled_lr(raw["lr"], effective_batch, options["base_batch_size"])
    groups = parameter_groups(
        model,
        lr,
        float(raw.get("weight_decay") or 0.0),
        bool(options["decay_norm_and_bias"]),
        options["layer_decay"],
    )
    raw["lr"] = lr
    factory = instantiate(raw, "optimizer")
    return factory(groups)
