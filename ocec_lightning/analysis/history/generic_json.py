"""JSON histories: a dict of per-epoch lists (also nested one level, `{"history": {...}}`),
a list of per-epoch records, or JSON Lines; with or without a final newline.

A whole JSON document is parsed as it is (`json.dump(h, f, indent=2)` writes no final
newline, and nothing is cut); only JSON Lines, which a running training appends to,
drop a last line that is still being written. Records numbered by an `epoch` key keep
those numbers; otherwise the rows are the epochs, counted from 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ocec_lightning.analysis.history.base import (
    Declined,
    EpochTable,
    LogFile,
    find_column,
    numeric,
    per_epoch,
    require_file,
    rows_as_epochs,
    table,
)
from ocec_lightning.errors import DataError

NAME = "JSON history"
EXPECTED = "expected a dict of per-epoch lists, a list of per-epoch records or JSON Lines"
EPOCH_NAMES = ("epoch", "epochs", "ep")


def lists_frame(data: dict[str, Any]) -> pd.DataFrame | None:
    """A dict of per-epoch lists as a frame (shorter lists end in None), else None."""
    lists = {k: v for k, v in data.items() if isinstance(v, list)}
    if not lists:
        nested = [v for v in data.values() if isinstance(v, dict)]
        if len(nested) == 1:
            return lists_frame(nested[0])
        return None
    length = max(len(v) for v in lists.values())
    return pd.DataFrame({k: list(v) + [None] * (length - len(v)) for k, v in lists.items()})


def records_table(records: list[dict[str, Any]], path: Path, name: str) -> EpochTable:
    """Per-epoch records (numbered by an epoch key, or in order from 1)."""
    flat = pd.json_normalize(records, sep="/")
    values, written = numeric(flat.astype(object).where(flat.notna(), None))
    epoch_col = find_column(values.columns, EPOCH_NAMES)
    if epoch_col is None:
        values, written = rows_as_epochs(values, written)
        return table(values, written, format=name, log=path, numbering="rows")
    rest = [c for c in values.columns if c != epoch_col]
    out, out_written = per_epoch(values[rest], written[rest], values[epoch_col])
    return table(out, out_written, format=name, log=path)


def read(path: Path) -> EpochTable:
    require_file(path, (".json", ".jsonl", ".ndjson", ".txt", ".log"))
    log = LogFile(path)
    data = log.json
    if isinstance(data, dict):
        frame = lists_frame(data)
        if frame is None:
            raise DataError(f"{path}: no per-epoch lists in the JSON object; {EXPECTED}")
        values, written = rows_as_epochs(*numeric(frame.astype(object)))
        epoch_col = find_column(values.columns, EPOCH_NAMES)
        if epoch_col is not None:
            rest = [c for c in values.columns if c != epoch_col]
            out, out_written = per_epoch(values[rest], written[rest], values[epoch_col])
            return table(out, out_written, format=NAME, log=path)
        return table(values, written, format=NAME, log=path, numbering="rows")
    if isinstance(data, list):
        if not data or not all(isinstance(r, dict) for r in data):
            raise DataError(f"{path}: a JSON list, but not of per-epoch records; {EXPECTED}")
        return records_table(data, path, NAME)
    if data is not None:
        raise DataError(f"{path}: a JSON {type(data).__name__}; {EXPECTED}")
    records = log.json_lines
    if records is None:
        if data is None and log.text.lstrip()[:1] in ("{", "["):
            raise DataError(f"{path}: not valid JSON (cut short or damaged?); {EXPECTED}")
        raise Declined("neither a JSON document nor JSON Lines")
    return records_table(records, path, "JSON Lines history")
