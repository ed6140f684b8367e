"""Data sources: each turns one kind of input into a `SampleTable` via `load()`.

Constructing a source does no I/O (the DataModule is built from config before anything
is read); `load()` reads metadata, checks it and returns the table. `open_source` picks
the right source for a path, for tools such as `ocec-data info`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ocec_lightning.data.sources.csv import CsvSource
from ocec_lightning.data.sources.folder import FolderSource
from ocec_lightning.data.sources.parquet import ParquetSource
from ocec_lightning.data.sources.synthetic_eyes import SyntheticEyesSource
from ocec_lightning.data.sources.synthetic_faces import SyntheticFacesSource
from ocec_lightning.data.table import SampleTable
from ocec_lightning.errors import DataError

__all__ = [
    "CsvSource",
    "DataSource",
    "FolderSource",
    "ParquetSource",
    "SyntheticEyesSource",
    "SyntheticFacesSource",
    "open_source",
]


_KINDS = "a .parquet file, a shard directory, a .csv, a class folder or an images/ + masks/ folder"


class DataSource(Protocol):
    """Anything with a `load()` returning a `SampleTable` can feed the DataModule."""

    def load(self) -> SampleTable: ...


def open_source(
    path: str | Path, group_column: str | None = None, task: str | None = None
) -> DataSource:
    """Source for a `.parquet` file or shard directory, a `.csv` manifest, or a folder.

    `task=None` lets the data decide: mask columns (parquet `mask_bytes`/`mask_path`, csv
    `mask`) or an `images/` + `masks/` folder mean segmentation.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"path does not exist: {path}; expected {_KINDS}")
    if path.suffix.lower() == ".parquet" or (path.is_dir() and any(path.glob("*.parquet"))):
        return ParquetSource(path, group_column=group_column, task=task)
    if path.suffix.lower() == ".csv":
        return CsvSource(path, task=task)
    if path.is_dir():
        return FolderSource(path, task=task)
    raise DataError(f"{path}: unsupported data file; expected {_KINDS}")
