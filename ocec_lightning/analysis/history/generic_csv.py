"""Any CSV / TSV with a row per epoch: delimiter and decimal mark sniffed, BOM, CRLF,
padded headers, an epoch column under any common name, or none at all.

`read_cells` is the one CSV parser every CSV format here uses: the delimiter comes from
`csv.Sniffer` (`,` `;` tab `|`), the decimal mark is `,` when a non-comma delimiter
separates numbers written with commas (European spreadsheets), names and cells are
stripped of the padding some tools add, and a last row shorter than the header in a
file without a final newline is a row still being written and is left out. The epoch
column is the first of `epoch`, `epochs`, `ep`, `step` (any case); without one every row
is an epoch, counted from 1.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd

from ocec_lightning.analysis.history.base import (
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

NAME = "CSV"
SUFFIXES = (".csv", ".tsv", ".txt", ".log")
EPOCH_NAMES = ("epoch", "epochs", "ep", "step")
DELIMITERS = ",;\t|"
DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+(e-?\d+)?\s*$", re.IGNORECASE)


def read_cells(log: LogFile) -> tuple[pd.DataFrame, str, list[str]]:
    """(cells as stripped text, decimal mark, notes) of a delimited text file."""
    text = log.text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return pd.DataFrame(), ".", []
    lines = text.split("\n")
    notes: list[str] = []
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=DELIMITERS)
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    if not text.endswith("\n") and len(lines) > 1:
        fields = lambda line: len(next(csv.reader([line], delimiter=delimiter)))  # noqa: E731
        if fields(lines[-1]) < fields(lines[0]):
            text = "\n".join(lines[:-1]) + "\n"
            notes.append("the last row is incomplete (the file is being written): left out")
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            quotechar='"',
        )
    except pd.errors.ParserError as err:
        raise DataError(f"{log.path}: not a readable CSV ({err})") from err
    raw.columns = [str(c).strip() for c in raw.columns]
    raw = raw.apply(lambda col: col.str.strip())
    decimal = "."
    if delimiter != "," and raw.map(lambda c: bool(DECIMAL_COMMA.match(c))).to_numpy().any():
        decimal = ","
    if delimiter != ",":
        shown = {"\t": "tab", ";": "semicolon", "|": "pipe"}[delimiter]
        notes.append(f"{shown}-separated" + (", decimal comma" if decimal == "," else ""))
    return raw, decimal, notes


def by_epoch_column(
    raw: pd.DataFrame,
    decimal: str,
    path: Path,
    name: str,
    notes: list[str],
    epoch_names: tuple[str, ...] = EPOCH_NAMES,
) -> EpochTable:
    """One row per epoch of a CSV with (or without) an epoch column."""
    values, written = numeric(raw, decimal)
    epoch_col = find_column(values.columns, epoch_names)
    if epoch_col is None:
        values, written = rows_as_epochs(values, written)
        return table(values, written, format=name, log=path, numbering="rows", notes=notes)
    epochs = values[epoch_col]
    if epoch_col.lower() != "epoch":
        notes = [*notes, f"`{epoch_col}` is taken as the epoch"]
    rest = [c for c in values.columns if c != epoch_col]
    out, out_written = per_epoch(values[rest], written[rest], epochs)
    return table(out, out_written, format=name, log=path, notes=notes)


def read(path: Path) -> EpochTable:
    require_file(path, SUFFIXES)
    raw, decimal, notes = read_cells(LogFile(path))
    return by_epoch_column(raw, decimal, path, NAME, notes)
