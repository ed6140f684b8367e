"""Ultralytics (YOLO) `results.csv`: one row per epoch, epochs from 1.

Older releases pad every name and value with spaces to a fixed width
(`"                  epoch"`). Columns: `train/<part>_loss`, `metrics/precision(B)`,
`metrics/mAP50-95(B)` (`(M)` for masks, `metrics/accuracy_top1` for classification),
`val/<part>_loss`, `lr/pg0..2`. Ultralytics adds its loss parts into the loss it
optimises, so the reader adds `train/loss` and `val/loss` as their sums; it keeps the
best epoch by a fitness that is 90% mAP50-95, which is the monitored metric here.
"""

from __future__ import annotations

from pathlib import Path

from ocec_lightning.analysis.history.base import Declined, EpochTable, LogFile, require_file
from ocec_lightning.analysis.history.generic_csv import by_epoch_column, read_cells

NAME = "Ultralytics results.csv"
MONITORS = ("metrics/mAP50-95(M)", "metrics/mAP50-95(B)", "metrics/accuracy_top1")


def read(path: Path) -> EpochTable:
    require_file(path, (".csv",))
    raw, decimal, notes = read_cells(LogFile(path))
    columns = list(raw.columns)
    if "epoch" not in columns or not any(c.startswith("metrics/") for c in columns):
        raise Declined("no `epoch` and `metrics/*` columns")
    out = by_epoch_column(raw, decimal, path, NAME, notes, ("epoch",))
    for stage in ("train", "val"):
        parts = [c for c in out.values.columns if c.startswith(f"{stage}/") and "loss" in c]
        if len(parts) > 1 and f"{stage}/loss" not in out.values:
            out.values[f"{stage}/loss"] = out.values[parts].sum(axis=1, min_count=len(parts))
            out.written[f"{stage}/loss"] = out.written[parts].all(axis=1)
            shown = " + ".join(p.split("/", 1)[1] for p in parts)
            out.notes.append(f"`{stage}/loss` = {shown} (the sum Ultralytics optimises)")
    monitor = next((m for m in MONITORS if m in out.values), None)
    if monitor is not None:
        out.monitor_hint = (monitor, "Ultralytics keeps the best epoch by mAP50-95 / top-1")
    return out
