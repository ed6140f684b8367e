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

import difflib
from collections.abc import Mapping
from typing import Any

import torch
from omegaconf import OmegaConf
from timm.optim import list_optimizers, param_groups_layer_decay, param_groups_weight_decay
from torch import nn

from ocec_lightning.checks import as_list, int_at_least, is_number, number_in
from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.errors import ConfigError

BUILDER_KEYS = ("decay_norm_and_bias", "layer_decay", "base_batch_size")


def check_optimizer_args(args: dict[str, Any]) -> None:
    """The optimizer config's own rules, checked before anything is built (bare keys;
    `build_optimizer` scopes them under `optimizer.`)."""
    number_in("lr", args.get("lr"), 0, 10, low_open=True, hint=", e.g. 1e-3")
    if args.get("weight_decay") is not None:
        number_in("weight_decay", args["weight_decay"], 0, 1, hint=", e.g. 1e-4")
    if args.get("eps") is not None:
        number_in("eps", args["eps"], 0, 1, low_open=True)
    if args.get("momentum") is not None:
        number_in("momentum", args["momentum"], 0, 1, high_open=True)
    betas = args.get("betas")
    if betas is not None and (
        len(as_list(betas)) != 2 or not all(is_number(b) and 0 <= float(b) < 1 for b in betas)
    ):
        raise ConfigError("betas", betas, "two numbers in [0, 1), e.g. [0.9, 0.999]")
    if args.get("nesterov") and not args.get("momentum"):
        raise ConfigError("nesterov", True, "momentum > 0 (e.g. optimizer.momentum=0.9) or false")
    if args.get("layer_decay") is not None:
        number_in(
            "layer_decay",
            args["layer_decay"],
            0,
            1,
            low_open=True,
            high_open=True,
            hint=" or null, e.g. 0.75",
        )
    if args.get("base_batch_size") is not None:
        int_at_least("base_batch_size", args["base_batch_size"], 1)
    name = args.get("opt")
    if name is not None and str(args.get("_target_", "")).startswith("timm."):
        known = list_optimizers()
        if str(name).lower() not in known:
            close = difflib.get_close_matches(str(name).lower(), known, n=5)
            raise ConfigError(
                "opt", name, "a timm optimizer name, e.g. " + ", ".join(close or known[:5])
            )


def scaled_lr(lr: float, effective_batch: int, base_batch_size: int | None) -> float:
    """Linear scaling rule: lr × effective_batch / base_batch_size (unchanged without a base)."""
    if not base_batch_size:
        return float(lr)
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
    opt_cfg: Mapping[str, Any], model: nn.Module, effective_batch: int = 1
) -> torch.optim.Optimizer:
    """Instantiate the configured optimizer (`_partial_` factory + the builder keys) for
    `model`'s parameters; ConfigError names the `optimizer.*` key of a bad value."""
    raw = dict(OmegaConf.to_container(OmegaConf.create(dict(opt_cfg)), resolve=True))
    try:
        check_optimizer_args(raw)
    except ConfigError as err:
        raise err.within("optimizer") from None
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
    # Plain lists (betas) in the optimizer's param_groups, not ListConfig: the groups are
    # saved in every checkpoint, which must load with torch.load(weights_only=True).
    raw["_convert_"] = "all"
    factory = instantiate(raw, "optimizer")
    return factory(groups)
