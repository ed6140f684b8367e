"""Keras: `CSVLogger` files and `history.history` dumped as JSON.

`CSVLogger` writes `epoch` (from 0) then the logged keys in alphabetical order
(`accuracy`, `learning_rate`, `loss`, `val_accuracy`, `val_loss`). `history.history` is
a dict of per-epoch lists with `loss` always present and no epoch numbers; Keras prints
epochs from 1 ("Epoch 1/30"), so its rows are counted from 1.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ocec_lightning.analysis.history.base import (
    Declined,
    EpochTable,
    LogFile,
    numeric,
    require_file,
    rows_as_epochs,
    table,
)
from ocec_lightning.analysis.history.generic_csv import by_epoch_column, read_cells

CSV_NAME = "Keras CSVLogger"
JSON_NAME = "Keras history (history.history JSON)"


def read_csv(path: Path) -> EpochTable:
    require_file(path, (".csv", ".log", ".txt"))
    raw, decimal, notes = read_cells(LogFile(path))
    columns = list(raw.columns)
    if not columns or columns[0] != "epoch" or "loss" not in columns:
        raise Declined("header does not start with `epoch` and hold `loss`")
    if columns[1:] != sorted(columns[1:]):
        raise Declined("columns after `epoch` are not in alphabetical order")
    return by_epoch_column(raw, decimal, path, CSV_NAME, notes, ("epoch",))


def read_json(path: Path) -> EpochTable:
    require_file(path, (".json",))
    data = LogFile(path).json
    if not isinstance(data, dict) or not isinstance(data.get("loss"), list):
        raise Declined("not a JSON dict holding a `loss` list")
    if not all(isinstance(v, list) for v in data.values()):
        raise Declined("not every value is a per-epoch list")
    length = max(len(v) for v in data.values())
    raw = pd.DataFrame({k: list(v) + [None] * (length - len(v)) for k, v in data.items()})
    values, written = rows_as_epochs(*numeric(raw))
    return table(values, written, format=JSON_NAME, log=path, numbering="rows")
