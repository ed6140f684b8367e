"""Instantiate the configured loss, filling in data-dependent values first.

- `pos_weight: auto` (classification) = negatives / positives of the training split
  (seed 000 §1.5), from `data.pos_weight()`;
- `class_weights: inverse | median_frequency` (segmentation) need the class pixel
  frequencies of the training split, from `data.class_pixel_frequencies()`.
The values are written into the config before instantiation, so the run's saved config
shows the numbers actually used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, open_dict
from torch import nn

from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.errors import ConfigError
from ocec_lightning.losses.seg_ce import config_needs_class_frequencies


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


def _need(data: Any, method: str, key: str) -> Callable[[], Any]:
    if data is None or not hasattr(data, method):
        raise ConfigError(
            key, "auto", f"explicit values: no training data to derive them from ({method})"
        )
    return getattr(data, method)


def build_loss(loss_cfg: DictConfig, data: Any = None) -> nn.Module:
    """Instantiate `loss_cfg`; `data` (the DataModule) provides the training-split statistics."""
    with open_dict(loss_cfg):
        if loss_cfg.get("pos_weight") == "auto":
            loss_cfg.pos_weight = resolve_pos_weight(
                "auto", _need(data, "pos_weight", "loss.pos_weight")
            )
        elif "pos_weight" in loss_cfg:
            loss_cfg.pos_weight = resolve_pos_weight(loss_cfg.pos_weight, lambda: 1.0)
        if config_needs_class_frequencies(loss_cfg):
            frequencies = _need(data, "class_pixel_frequencies", "loss.class_weights")()
            loss_cfg.class_frequencies = [float(f) for f in frequencies]
    return instantiate(loss_cfg, "loss")
