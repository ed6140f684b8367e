"""Write the segmentation task's per-class table into the run directory.

`SegmentationTask` keeps the latest finished epoch's table per stage in `class_tables`
(class, F1, IoU, support pixels); this callback writes it on rank zero after each
validation (`per_class_metrics.csv`, overwritten: the latest epoch) and after a test
(`per_class_metrics_test.csv`). Run-directory files come from callbacks (or the one
orchestration function), so the task itself writes nothing.
"""

from __future__ import annotations

import csv
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback

FILE_NAMES = {"val": "per_class_metrics.csv", "test": "per_class_metrics_test.csv"}


class PerClassMetricsTable(Callback):
    """CSV of per-class F1 / IoU / support for the latest validation and the test."""

    def __init__(self, dirname: str = ".") -> None:
        self.dirname = dirname
        self.written: list[Path] = []

    def _write(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        tables = getattr(pl_module, "class_tables", {})
        if trainer.sanity_checking or not trainer.is_global_zero or stage not in tables:
            return
        epoch, rows = tables[stage]
        out = Path(trainer.default_root_dir or ".") / self.dirname / FILE_NAMES[stage]
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", "class", "f1", "iou", "support_pixels"])
            writer.writerows((epoch, c, f"{f:.4f}", f"{i:.4f}", s) for c, f, i, s in rows)
        self.written.append(out)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write(trainer, pl_module, "val")

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write(trainer, pl_module, "test")
