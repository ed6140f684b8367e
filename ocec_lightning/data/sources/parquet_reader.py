"""Reading an OCEC parquet shard's rows: the small columns at once, the bytes streamed.

`read_columns` loads the metadata columns of a shard in one go. The `image_bytes` and
`mask_bytes` columns can hold a whole dataset's encoded images, so they are never loaded
whole: `RowReader.read(i)` decodes row i from its bytes, streamed in Arrow batches from
the shard (`ShardBytes`), or from the file at its path when the row has no bytes. The
decoded cache reads rows in order from a few threads, which this streaming serves while
holding only a few MiB of encoded bytes. What the shard must contain is
`parquet_schema`'s business.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ocec_lightning.data.decoding import (
    decode_image_bytes,
    decode_mask_bytes,
    read_image_file,
    read_mask_file,
)
from ocec_lightning.data.sources.parquet_schema import first_line, read_schema
from ocec_lightning.errors import DataError

# Rows per Arrow batch read from the bytes column. The cache decodes rows in order from a
# few threads, each a few hundred rows apart, so a short window of batches serves them all.
_BATCH_ROWS = 2048
# Batches kept per shard.
_WINDOW = 8
# Read column chunks in 1 MiB pieces (no pre-buffering).
_READ_BUFFER = 1 << 20


def corrupt_data_error(shard: Path, columns: str, exc: BaseException) -> DataError:
    """The error for a damaged data page (the footer read fine) in `columns` of `shard`."""
    return DataError(
        f"{shard}: corrupt parquet data in column(s) {columns} "
        f"({first_line(exc)}); expected a readable parquet file (rewrite it)"
    )


def read_columns(shard: Path, columns: list[str]) -> pa.Table:
    """`columns` of one shard; a damaged data page is a DataError."""
    try:
        return pq.read_table(shard, columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise corrupt_data_error(shard, ", ".join(columns), exc) from None


class ShardBytes:
    """One shard's `<kind>_bytes` column, streamed in batches from a sequential cursor.

    Reading row j advances the cursor to it (dropping the oldest batches); a row behind
    the cursor or in a later row group restarts it at that row group. A damaged page raises
    the DataError naming the shard, and keeps raising it for rows not already read.
    """

    def __init__(self, shard: Path, column: str) -> None:
        self.shard = shard
        self.column = column
        self.lock = threading.Lock()
        self.window: dict[int, pa.Array] = {}  # first row -> its batch, oldest first
        self.batches: Any = None  # the cursor
        self.position = 0  # the first row the cursor yields next
        self.error: DataError | None = None
        self.group_starts: np.ndarray | None = None

    def get(self, row: int) -> bytes | None:
        """Row `row`'s bytes, or None where the row has none."""
        with self.lock:
            array, start = self._find(row)
        value = array[row - start]
        return value.as_py() if value.is_valid else None

    def _fail(self, exc: BaseException) -> DataError:
        self.batches = None
        self.error = corrupt_data_error(self.shard, self.column, exc)
        return self.error

    def _restart(self, row: int) -> None:
        file = pq.ParquetFile(self.shard, pre_buffer=False, buffer_size=_READ_BUFFER)
        if self.group_starts is None:
            sizes = [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)]
            self.group_starts = np.concatenate([[0], np.cumsum(sizes)])
        groups = range(max(self._group(row), 0), len(self.group_starts) - 1)
        self.position = int(self.group_starts[groups.start]) if len(groups) else 0
        self.batches = file.iter_batches(_BATCH_ROWS, list(groups), [self.column])

    def _group(self, row: int) -> int:
        return int(np.searchsorted(self.group_starts, row, side="right")) - 1

    def _find(self, row: int) -> tuple[pa.Array, int]:
        for start, array in self.window.items():
            if start <= row < start + len(array):
                return array, start
        if self.error is not None:
            raise DataError(str(self.error))
        try:
            behind = self.batches is None or row < self.position
            if behind or self._group(row) > self._group(self.position):  # skip row groups
                self._restart(row)
            while True:
                batch = next(self.batches, None)
                if batch is None:
                    raise IndexError(f"{self.shard}: no row {row}")
                start = self.position
                self.position += batch.num_rows
                if row < self.position:
                    break
            self.window[start] = batch.column(0)
            while len(self.window) > _WINDOW:
                del self.window[next(iter(self.window))]
        except (OSError, pa.ArrowException) as exc:
            raise DataError(str(self._fail(exc))) from None
        return self.window[start], start


class RowReader:
    """Decodes one row: its `<kind>_bytes` if non-null, else the file at `<kind>_path`.

    `kind` is "image" (RGB images) or "mask" (index masks). Row i lives at row
    `local_row[i]` of shard `shard_of_row[i]`. Paths (`rels`, relative to `root` or the
    row's shard folder) are resolved only for rows that are read from files.
    """

    def __init__(
        self,
        shards: list[Path],
        shard_of_row: np.ndarray,
        local_row: np.ndarray,
        has_bytes: bool,
        rels: np.ndarray,
        root: Path | None,
        refs: list[str],
        kind: str = "image",
    ) -> None:
        self.shards = shards
        self.shard_of_row = shard_of_row
        self.local_row = local_row
        self.has_bytes = has_bytes
        self.rels = rels
        self.root = root
        self.refs = refs
        self.kind = kind
        self.column = f"{kind}_bytes"
        self._decode = decode_mask_bytes if kind == "mask" else decode_image_bytes
        self._read_file = read_mask_file if kind == "mask" else read_image_file
        self._streams: dict[int, ShardBytes | None] = {}  # None: shard lacks the column
        self._lock = threading.Lock()  # the cache decodes from several threads

    def file(self, i: int) -> Path | None:
        """Row i's file, or None where its path is empty."""
        rel = self.rels[i]
        if rel is None or (isinstance(rel, float) and np.isnan(rel)) or rel == "":
            return None
        shard = self.shards[int(self.shard_of_row[i])]
        return (self.root or shard.parent) / str(rel)

    def read(self, i: int) -> np.ndarray:
        """Row i decoded: an RGB image or an index mask."""
        ref = self.refs[i]
        if self.has_bytes:
            stream = self._stream(int(self.shard_of_row[i]))
            data = None if stream is None else stream.get(int(self.local_row[i]))
            if data is not None:
                return self._decode(data, ref)
        path = self.file(i)
        if path is None:
            raise DataError(
                f"{ref}: has neither {self.kind}_bytes nor {self.kind}_path; expected one of them"
            )
        return self._read_file(path, ref)

    def _stream(self, index: int) -> ShardBytes | None:
        if index not in self._streams:
            with self._lock:
                if index not in self._streams:
                    shard = self.shards[index]
                    has = self.column in read_schema(shard).names
                    self._streams[index] = ShardBytes(shard, self.column) if has else None
        return self._streams[index]
