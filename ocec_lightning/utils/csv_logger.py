"""`ResumableCSVLogger`: Lightning's CSVLogger, minus deleting the run's metrics on resume.

Lightning's CSV writer deletes an existing `metrics.csv` when it starts (it assumes a
fresh directory), so a run resumed into its own directory would lose every epoch logged
before the interruption, and the analysis tools would see only the tail. This writer
keeps the file and, at its first save, drops only the old rows of epochs the new run
logs again (a killed run's partial epoch is replayed from the checkpoint): the result is
the history an uninterrupted run would have written.
"""

from __future__ import annotations

import csv
from typing import Any

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


class _KeepingWriter(ExperimentWriter):
    def __init__(self, log_dir: str) -> None:
        self._merging = False
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        # Instead of deleting metrics.csv: merge into it at the first save.
        self._merging = self._fs.isfile(self.metrics_file_path)

    def save(self) -> None:
        if self._merging and self.metrics:
            self._merging = False
            self._merge_old_rows()
        super().save()

    def _merge_old_rows(self) -> None:
        with self._fs.open(self.metrics_file_path, "r", newline="") as file:
            old = list(csv.DictReader(file))
        # Old rows from the epoch the new run starts at on are replayed: drop them (rows
        # without an epoch, e.g. learning rates, by their step).
        epochs = [e for e in (_number(row, "epoch") for row in self.metrics) if e is not None]
        steps = [s for s in (_number(row, "step") for row in self.metrics) if s is not None]
        first_epoch, first_step = min(epochs, default=None), min(steps, default=None)
        old = [row for row in old if not _replayed(row, first_epoch, first_step)]
        self._fs.rm_file(self.metrics_file_path)
        keys = sorted({k for row in old for k, v in row.items() if v not in ("", None)})
        self.metrics_keys = keys
        kept = [{k: v for k, v in row.items() if v not in ("", None)} for row in old]
        self.metrics = kept + self.metrics


def _number(row: dict[str, Any], key: str) -> float | None:
    value = row.get(key)
    try:
        return float(value) if value not in ("", None) else None
    except (TypeError, ValueError):
        return None


def _replayed(row: dict[str, Any], first_epoch: float | None, first_step: float | None) -> bool:
    epoch, step = _number(row, "epoch"), _number(row, "step")
    if epoch is not None and first_epoch is not None:
        return epoch >= first_epoch
    return step is not None and first_step is not None and step >= first_step


class ResumableCSVLogger(CSVLogger):
    """CSVLogger that keeps (and merges into) an existing `metrics.csv`."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepingWriter(log_dir=self.log_dir)
        return self._experiment
