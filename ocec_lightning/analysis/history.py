"""A run's per-epoch history, whatever wrote it (the data every analysis reads).

`History` holds one value per epoch for each logged series (NaN where an epoch has
none), which series play which role (monitored metric, train / val loss, LR) and how
each was picked (auto-detected or given), and the run settings read from a config file
beside the log (`RunSettings`). Loaders for each log format live in `history_io.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ROLES = ("monitor", "train_loss", "val_loss", "lr")


@dataclass
class RunSettings:
    """What the analysis needs from the run's config (None where the config is silent)."""

    max_epochs: int | None = None
    lr: float | None = None  # the optimizer's base LR
    scheduler: dict[str, Any] | None = None  # the scheduler section (name, T_max, warmup, ...)
    early_stopping_patience: int | None = None
    monitor: str | None = None
    monitor_mode: str | None = None
    source: str | None = None  # the config file read
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def warmup_epochs(self) -> int:
        warmup = (self.scheduler or {}).get("warmup") or {}
        return int(warmup.get("epochs") or 0)


@dataclass
class History:
    """Per-epoch series of one run and the roles the analysis gives them."""

    source: str  # the run directory or log file read
    epochs: np.ndarray  # int, ascending, one entry per row of every series
    series: dict[str, np.ndarray]  # key -> float values (NaN = not logged that epoch)
    roles: dict[str, str | None]  # role in ROLES -> series key (None = not found)
    picked: dict[str, str]  # role -> "<key> (auto: <why>)", "<key> (config ...)" or "given"
    mode: str = "max"  # direction of the monitored metric: max | min
    settings: RunSettings | None = None
    wall_seconds: float | None = None

    def get(self, role: str) -> np.ndarray | None:
        """The series playing `role`, or None when there is none."""
        key = self.roles.get(role)
        return None if key is None else self.series[key]

    @property
    def monitor(self) -> str:
        return str(self.roles["monitor"])

    def __len__(self) -> int:
        return len(self.epochs)
