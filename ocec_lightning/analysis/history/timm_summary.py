"""timm's `summary.csv` (`train.py --output`): `epoch` from 0, `train_loss`, `eval_loss`,
`eval_top1`, `eval_top5`, `lr`, one row per epoch."""

from __future__ import annotations

from pathlib import Path

from ocec_lightning.analysis.history.base import Declined, EpochTable, LogFile, require_file
from ocec_lightning.analysis.history.generic_csv import by_epoch_column, read_cells

NAME = "timm summary.csv"


def read(path: Path) -> EpochTable:
    require_file(path, (".csv",))
    raw, decimal, notes = read_cells(LogFile(path))
    columns = list(raw.columns)
    if columns[:2] != ["epoch", "train_loss"] or not any(c.startswith("eval_") for c in columns):
        raise Declined("header is not `epoch,train_loss,...,eval_*`")
    out = by_epoch_column(raw, decimal, path, NAME, notes, ("epoch",))
    if "eval_top1" in out.values:
        out.monitor_hint = ("eval_top1", "timm keeps the best eval_top1")
    return out
