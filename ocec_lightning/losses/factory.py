"""Instantiate the configured loss, resolving data-dependent values first.

`pos_weight: auto` means negatives / positives of the training split (seed 000 §1.5);
the data module knows the counts, so the value is filled in here, right before the
loss is built, and the resolved number is what ends up in the saved config.
"""

from __future__ import annotations

from collections.abc import Callable

from omegaconf import DictConfig, open_dict
from torch import nn

from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.errors import ConfigError


def resolve_pos_weight(value: object, auto: Callable[[], float]) -> float | None:
    """Return the numeric pos_weight for `value` ('auto', a number or None)."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.lower() == "auto":
            return float(auto())
        raise ConfigError("loss.pos_weight", value, "'auto', a positive number or null")
    weight = float(value)  # type: ignore[arg-type]
    if weight <= 0:
        raise ConfigError("loss.pos_weight", value, "'auto', a positive number or null")
    return weight


def build_loss(
    loss_cfg: DictConfig, pos_weight_auto: Callable[[], float] | None = None
) -> nn.Module:
    """Instantiate `loss_cfg`, replacing `pos_weight: auto` via `pos_weight_auto()` in place."""
    if "pos_weight" in loss_cfg:
        if pos_weight_auto is None and loss_cfg.pos_weight == "auto":
            raise ConfigError(
                "loss.pos_weight", "auto", "a number when no training data is available"
            )
        with open_dict(loss_cfg):
            loss_cfg.pos_weight = resolve_pos_weight(
                loss_cfg.pos_weight, pos_weight_auto or (lambda: 1.0)
            )
    return instantiate(loss_cfg, "loss")
