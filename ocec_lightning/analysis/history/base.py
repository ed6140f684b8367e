"""What every log reader shares: the `EpochTable` it returns, `Declined`, and the steps
from rows of a file to one row per epoch.

A reader turns one file (or event / run dir) into an `EpochTable`: a float frame indexed
by epoch in the log's own numbering (or its rows counted from 1 when it has none), a
frame of the same shape saying where the log wrote a value at all (a written NaN is a
sign of divergence, an empty cell is only a gap), the format's name and notes saying
what was done to get one value per epoch. A reader that does not recognise a path
raises `Declined` with the reason; one that recognises it but finds it broken raises
`DataError` naming the file and row. Parsing is left to pandas and json; what is
hand-written here is what no library knows: which rows belong to which epoch.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ocec_lightning.analysis.history.model import RunSettings
from ocec_lightning.errors import DataError

# Bookkeeping columns that are not curves (timers, counters, memory).
# Series of stages other than training and validation: one value after fit, not a curve.
OTHER_STAGES = re.compile(r"^(test|predict)([/_]|$)", re.IGNORECASE)
BOOKKEEPING = ("data_time", "time", "memory", "iter", "step", "global_step", "_runtime")


class Declined(Exception):
    """This reader does not read that path; the message says why (shown when none does)."""


@dataclass
class EpochTable:
    """One value per epoch for each series of a log, and how it was obtained."""

    values: pd.DataFrame  # index: epoch (int); columns: series (float, NaN = none)
    written: pd.DataFrame  # bool, same shape: the log holds a value there (NaN included)
    format: str  # the reader's name, e.g. "Ultralytics results.csv"
    log: Path  # the file or dir read
    numbering: str = "file"  # "file" (the log's own epoch numbers) | "rows" (counted from 1)
    notes: list[str] = field(default_factory=list)
    monitor_hint: tuple[str, str] | None = None  # (key, why) the tool itself optimises
    settings: RunSettings | None = None  # settings the log itself holds (HF, MLflow)
    status: str | None = None
    wall_seconds: float | None = None


class LogFile:
    """A file read once: its text (BOM dropped) and, lazily, its JSON."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @cached_property
    def text(self) -> str:
        try:
            return self.path.read_bytes().decode("utf-8-sig", errors="replace")
        except OSError as err:
            raise DataError(f"{self.path}: cannot be read ({err.strerror})") from err

    @cached_property
    def json(self) -> Any:
        """The parsed JSON document, or None when the text is not one JSON document."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @cached_property
    def json_lines(self) -> list[dict[str, Any]] | None:
        """One record per line (JSON Lines), or None when the text is not that. A last
        line without its newline that does not parse is a record still being written
        and is left out; any other bad line is an error naming it."""
        lines = self.text.splitlines()
        complete = self.text.endswith(("\n", "\r"))
        records: list[dict[str, Any]] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if number == len(lines) and not complete and records:
                    break  # the writer is mid-line
                if not records:
                    return None
                raise DataError(f"{self.path}: line {number} is not a JSON record") from None
            if not isinstance(record, dict):
                return None
            records.append(record)
        return records or None


def suffix_of(path: Path) -> str:
    return path.suffix.lower()


def require_file(path: Path, suffixes: tuple[str, ...]) -> None:
    """Decline anything but a file with one of `suffixes`."""
    if not path.is_file():
        raise Declined("not a file")
    if suffix_of(path) not in suffixes:
        raise Declined(f"not a {' / '.join(suffixes)} file")


def _is_written(cell: Any) -> bool:
    if cell is None:
        return False
    if isinstance(cell, float) and math.isnan(cell):
        return True  # a NaN in a JSON document / record was written as NaN
    return not (isinstance(cell, str) and not cell.strip())


def numeric(raw: pd.DataFrame, decimal: str = ".") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(values, written) of a frame of cells: numbers as floats (text `nan`/`inf` too),
    anything else NaN; a column with no number at all is dropped (names, dates)."""
    written = raw.map(_is_written).astype(bool) if len(raw) else raw.astype(bool)

    def as_number(column: pd.Series) -> pd.Series:
        if column.dtype == object or pd.api.types.is_string_dtype(column):
            column = column.map(lambda c: c.strip() if isinstance(c, str) else c)
            if decimal != ".":
                column = column.map(
                    lambda c: c.replace(".", "").replace(decimal, ".") if isinstance(c, str) else c
                )
            column = column.map(lambda c: None if isinstance(c, bool) else c)
        return pd.to_numeric(column, errors="coerce").astype(float)

    values = raw.apply(as_number) if len(raw.columns) else raw.astype(float)
    keep = [c for c in values.columns if values[c].notna().any()]
    return values[keep], written[keep]


def per_epoch(
    values: pd.DataFrame, written: pd.DataFrame, epochs: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per epoch: the last non-NaN value of each column (a resumed run's repeated
    epochs, a tool's separate train and val rows); written when any row wrote it."""
    keep = epochs.notna().to_numpy()
    key = epochs[keep].astype(float).map(math.floor).astype(int).to_numpy()
    grouped = values[keep].groupby(key, sort=True)
    out = grouped.last()
    out_written = written[keep].groupby(key, sort=True).any().reindex(out.index)
    out.index.name = out_written.index.name = "epoch"
    return out, out_written.fillna(False).astype(bool)


def average(
    values: pd.DataFrame, written: pd.DataFrame, epochs: pd.Series, columns: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per epoch, the mean of each of `columns` over the rows logged in it (step-logged
    values); NaN written in any row makes the epoch's mean NaN (the loss diverged)."""
    keep = epochs.notna().to_numpy()
    key = epochs[keep].astype(int).to_numpy()
    frame = values[keep][columns]
    nan_written = (frame.isna() & written[keep][columns]).groupby(key).any()
    means = frame.groupby(key, sort=True).mean()
    means = means.mask(nan_written.reindex(means.index).fillna(False).astype(bool))
    return means, written[keep][columns].groupby(key, sort=True).any().reindex(means.index)


def table(
    values: pd.DataFrame,
    written: pd.DataFrame,
    *,
    format: str,
    log: Path,
    numbering: str = "file",
    notes: list[str] | None = None,
    **extra: Any,
) -> EpochTable:
    """An `EpochTable`, with columns that never hold a value dropped and rows without any
    value dropped (epochs of other stages: a post-fit test row)."""
    values = values.sort_index()
    written = written.reindex(values.index).reindex(columns=values.columns).fillna(False)
    has_any = written.any(axis=1).to_numpy() | values.notna().any(axis=1).to_numpy()
    values, written = values[has_any], written[has_any]
    keep = [c for c in values.columns if written[c].any()]
    values, written = values[keep], written[keep].astype(bool)
    values.index = written.index = values.index.astype(int)
    return EpochTable(values, written, format, log, numbering, list(notes or []), **extra)


def rows_as_epochs(values: pd.DataFrame, written: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """Index the rows 1, 2, ... (a log that does not number its epochs)."""
    index = pd.RangeIndex(1, len(values) + 1, name="epoch")
    return values.set_axis(index, axis=0), written.set_axis(index, axis=0)


def find_column(columns: Any, names: tuple[str, ...]) -> str | None:
    """The first column whose stripped, lower-cased name is one of `names` (in order)."""
    lowered = {str(c).strip().lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def fold(
    values: pd.DataFrame, written: pd.DataFrame, epochs: pd.Series, averaged: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per epoch: `averaged` columns as the mean of their rows, the others as
    their last value (`per_epoch`)."""
    rest = [c for c in values.columns if c not in averaged]
    out, out_written = per_epoch(values[rest], written[rest], epochs)
    if averaged:
        means, means_written = average(values, written, epochs, averaged)
        index = out.index.union(means.index)
        out = out.reindex(index).join(means.reindex(index))
        out_written = out_written.reindex(index).join(means_written.reindex(index))
    return out, out_written.fillna(False).astype(bool)


def several_per_epoch(written: pd.DataFrame, epochs: pd.Series, skip: Any = ()) -> list[str]:
    """Columns written more than once in some epoch (logged per step), except `skip`."""
    keep = epochs.notna().to_numpy()
    counts = written[keep].groupby(epochs[keep].astype(int).to_numpy()).sum()
    return [str(c) for c in counts.columns if counts[c].max() > 1 and c not in skip]


def wide_by_step(long: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(step, key, value) records as one row per step (last value of a repeated step)."""
    values = long.groupby(["step", "key"])["value"].last().unstack().sort_index()
    values.columns.name = None
    if "epoch" in values:  # Lightning logs a post-fit test at the last step, epoch + 1
        epochs = long[long["key"] == "epoch"].groupby("step")["value"].min()
        values["epoch"] = epochs.reindex(values.index)
    written = long.assign(w=True).groupby(["step", "key"])["w"].any().unstack()
    written = written.reindex(index=values.index, columns=values.columns)
    return values, written.fillna(False).astype(bool)


def epochs_of_steps(values: pd.DataFrame, epoch_key: str = "epoch") -> tuple[pd.Series, str, str]:
    """The epoch of each row of a step-indexed log (TensorBoard, MLflow), how it was
    found, and the numbering ("file" or "rows", see `EpochTable`).

    With an `epoch` series (Lightning logs one with every call) each step takes its
    epoch; a step without one takes that of the next step having it. Without it, the
    sparsest series set the epochs: their steps are the epochs when they count on by 1
    (0, 1, 2 ...); otherwise the n-th of their steps ends epoch n (from 1), and every
    step up to it belongs to it."""
    steps = values.index.to_numpy(dtype=float)
    if epoch_key in values.columns:
        epochs = values[epoch_key].to_numpy(dtype=float)
        known = np.flatnonzero(~np.isnan(epochs))
        at = np.searchsorted(steps[known], steps)
        filled = np.full(len(steps), np.nan)
        inside = at < len(known)
        filled[inside] = epochs[known[at[inside]]]
        how = f"epochs from the logged `{epoch_key}`"
        return pd.Series(filled, index=values.index), how, "file"
    counts = values.notna().sum()
    sparse = [c for c in values.columns if counts[c] == counts[counts > 0].min()]
    ref = np.sort(values.index[values[sparse].notna().any(axis=1)].to_numpy(dtype=float))
    consecutive = np.array_equal(ref, np.arange(ref[0], ref[0] + len(ref)))
    numbers = ref if consecutive else np.arange(1, len(ref) + 1, dtype=float)
    at = np.searchsorted(ref, steps)
    filled = np.where(at < len(ref), numbers[np.minimum(at, len(ref) - 1)], np.nan)
    names = ", ".join(f"`{k}`" for k in sparse[:3])
    how = (
        f"the steps of the sparsest series ({names}) are the epochs"
        if consecutive
        else f"the n-th step of the sparsest series ({names}) ends epoch n"
    )
    return pd.Series(filled, index=values.index), how, "file" if consecutive else "rows"


LR_SERIES = re.compile(r"(^|[/_\-])lr($|[/_\-])|learning[_-]?rate", re.IGNORECASE)


def step_records_table(
    records: list[tuple[float, str, float]], *, format: str, log: Path, notes: list[str]
) -> EpochTable:
    """The `EpochTable` of a step-indexed logger's (step, key, value) records (TensorBoard,
    MLflow): other stages' keys left out (a post-fit `test/*` is not a curve, and its step
    is not an epoch), steps mapped to epochs (`epochs_of_steps`), keys logged several times
    in an epoch averaged over it except LRs (the last value)."""
    long = pd.DataFrame(records, columns=["step", "key", "value"])
    long = long[~long["key"].str.contains(OTHER_STAGES)]
    if long.empty:
        empty = pd.DataFrame(index=pd.Index([], name="epoch"))
        return table(empty, empty.astype(bool), format=format, log=log)
    values, written = wide_by_step(long)
    epochs, how, numbering = epochs_of_steps(values)
    epoch_keys = [c for c in values.columns if c == "epoch" or str(c).endswith("/epoch")]
    values, written = values.drop(columns=epoch_keys), written.drop(columns=epoch_keys)
    lrs = [c for c in values.columns if LR_SERIES.search(str(c))]
    averaged = several_per_epoch(written, epochs, skip=lrs)
    out, out_written = fold(values, written, epochs, averaged)
    notes = [how, *notes]
    if averaged:
        shown = ", ".join(f"`{c}`" for c in averaged[:3])
        notes.append(f"series logged per step averaged per epoch: {shown}")
    return table(out, out_written, format=format, log=log, numbering=numbering, notes=notes)
