"""Instantiate the `callbacks` and `logger` groups; `null` entries are switched off."""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Callback
from omegaconf import DictConfig

from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.errors import ConfigError


def build_callbacks(callbacks_cfg: DictConfig | None) -> list[Callback]:
    """Return the callbacks in config order, skipping entries set to null."""
    callbacks: list[Callback] = []
    for name, entry in (callbacks_cfg or {}).items():
        if entry is None:
            continue
        if "_target_" not in entry:
            raise ConfigError(
                f"callbacks.{name}", entry, "a mapping with a _target_ or null to disable it"
            )
        callbacks.append(instantiate(entry, f"callbacks.{name}"))
    return callbacks


def build_loggers(logger_cfg: DictConfig | None) -> list[Any]:
    """Every logger of the `logger` group in config order (none when it is null)."""
    return [
        instantiate(entry, f"logger.{name}")
        for name, entry in (logger_cfg or {}).items()
        if entry is not None
    ]
