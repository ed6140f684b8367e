"""A run's per-epoch history, whatever wrote it (the data every analysis reads).

`History` holds one value per epoch for each logged series (NaN where an epoch has
none), which series play which role (monitored metric, train / val loss, LR) and how
each was picked (auto-detected or given), how the log numbers its epochs, what the
reader had to do to get one value per epoch (`notes`), and the run settings read from
a config file beside the log (`RunSettings`, with the key each setting came from).
The readers for each log format are the other modules of this package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

ROLES = ("monitor", "train_loss", "val_loss", "lr")


@dataclass
class RunSettings:
    """What the analysis needs from the run's config (None where the config is silent).

    `keys` says where each setting came from (`max_epochs` -> `training.epochs`), so a
    report can name the key the user wrote; `early_stopping` is False when the config
    says explicitly that there is none (`early_stopping_patience: null`, no callback)."""

    max_epochs: int | None = None
    lr: float | None = None  # the optimizer's base LR
    scheduler: dict[str, Any] | None = None  # ours: name, interval, T_max, warmup, ...
    early_stopping_patience: int | None = None
    early_stopping: bool | None = None  # None = unknown, False = configured off
    monitor: str | None = None
    monitor_mode: str | None = None
    source: str | None = None  # the config file read
    tool: str = "ocec_lightning"  # whose names the config uses
    keys: dict[str, str] = field(default_factory=dict)  # setting -> "config key = value"
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def warmup_epochs(self) -> int:
        warmup = (self.scheduler or {}).get("warmup") or {}
        return int(round(float(warmup.get("epochs") or 0)))

    @property
    def foreign(self) -> bool:
        return self.tool != "ocec_lightning"


@dataclass
class History:
    """Per-epoch series of one run and the roles the analysis gives them."""

    source: str  # the run directory or log file read
    epochs: np.ndarray  # int, ascending, one entry per row of every series
    series: dict[str, np.ndarray]  # key -> float values (NaN = not logged / logged NaN)
    roles: dict[str, str | None]  # role in ROLES -> series key (None = not found)
    picked: dict[str, str]  # role -> "<key> (auto: <why>)", "<key> (config ...)" or "given"
    mode: str = "max"  # direction of the monitored metric: max | min
    settings: RunSettings | None = None
    wall_seconds: float | None = None
    format: str = "unknown"  # the reader that read it, e.g. "Ultralytics results.csv"
    log: str | None = None  # the file or event dir read
    # "file": epochs as the log numbers them; "rows": the log has no epoch numbers, its
    # rows (or validation rounds) are counted from 1.
    numbering: str = "file"
    notes: list[str] = field(default_factory=list)  # what the reader did, in words
    # key -> bool per epoch: a value (finite or not) was written there. A NaN the log
    # wrote is a sign of divergence; a value it never wrote is only a gap. None: every
    # NaN counts as written (histories built in memory).
    logged: dict[str, np.ndarray] | None = None
    status: str | None = None  # how the run ended, when its run dir says (summary.json)

    def get(self, role: str) -> np.ndarray | None:
        """The series playing `role`, or None when there is none."""
        key = self.roles.get(role)
        return None if key is None else self.series[key]

    def written(self, key: str) -> np.ndarray:
        """Per epoch: the log holds a value of `key` there (NaN included)."""
        if self.logged is not None and key in self.logged:
            return self.logged[key]
        return np.ones(len(self.epochs), dtype=bool)

    @property
    def monitor(self) -> str:
        return str(self.roles["monitor"])

    @property
    def first_epoch(self) -> int | None:
        return int(self.epochs[0]) if len(self.epochs) else None

    def __len__(self) -> int:
        return len(self.epochs)
