"""The OCEC parquet format: one file or a directory of `*.parquet` shards.

Columns (upstream OCEC): `split` (optional; aliases train/training, val/valid/validation/
dev, test/testing), `label` (open/closed) and/or `class_id` (0 closed, 1 open; wins over
`label`), `image_path` (relative to the parquet's folder, or to `root`), `source`, and
optional `image_bytes` (encoded PNG). A row uses its bytes when they are present and
falls back to its file otherwise. The bytes column is read only when an image is first
decoded, so a run that finds its decoded-image cache never loads it.

Segmentation parquet (`task=segmentation`, e.g. from `ocec-data synth faces`) replaces the
label columns with the mask: `mask_bytes` (an index PNG, one class id per pixel) and/or
`mask_path`, with the same bytes-first fallback. Mask columns with task classification,
or no mask column with task segmentation, are an error naming the file. With `task=None`
(as `ocec-data info` reads) the task follows the columns of the first shard.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ocec_lightning.data.decoding import (
    decode_image_bytes,
    decode_mask_bytes,
    read_image_file,
    read_mask_file,
)
from ocec_lightning.data.table import (
    SampleTable,
    default_class_names,
    file_signatures,
    fingerprint_of,
    make_frame,
    parse_labels,
    parse_splits,
    source_options,
    task_mismatch,
)
from ocec_lightning.errors import DataError

_LABEL_COLUMNS = ("class_id", "label")
_IMAGE_COLUMNS = ("image_bytes", "image_path")
_MASK_COLUMNS = ("mask_bytes", "mask_path")


def _first_line(exc: BaseException) -> str:
    """The exception's first line, printable (pyarrow quotes raw bytes of damaged files)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return "".join(ch if ch.isprintable() else "?" for ch in line)


def _schema(shard: Path) -> pa.Schema:
    try:
        return pq.read_schema(shard)
    except Exception as exc:  # pyarrow raises several types for non-parquet files
        raise DataError(f"{shard}: not a readable parquet file ({_first_line(exc)})") from None


def _read_columns(shard: Path, columns: list[str]) -> pa.Table:
    """`columns` of one shard; a damaged data page (the footer read fine) is a DataError."""
    try:
        return pq.read_table(shard, columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(
            f"{shard}: corrupt parquet data in column(s) {', '.join(columns)} "
            f"({_first_line(exc)}); expected a readable parquet file (rewrite it)"
        ) from None


def _schema_names(shard: Path) -> list[str]:
    return _schema(shard).names


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def _is_label(t: pa.DataType) -> bool:
    # Names ("open"), ids (1), ids read as floats from a column with gaps (1.0), bools.
    return (
        _is_text(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
    )


# Arrow types each known column may have (an all-null column is always accepted), and what
# the error says is expected. Checked from the schema, before any row is read, so a column
# of the wrong kind fails naming the column instead of as a decoding error on some row.
_COLUMN_TYPES = {
    "image_bytes": (_is_binary, "binary (encoded PNG/JPEG/BMP bytes)"),
    "mask_bytes": (_is_binary, "binary (encoded PNG/BMP index-mask bytes)"),
    "image_path": (_is_text, "string paths relative to the parquet's folder or data.source.root"),
    "mask_path": (_is_text, "string paths relative to the parquet's folder or data.source.root"),
    "label": (_is_label, "class names (strings) or integer class ids"),
    "class_id": (_is_label, "integer class ids (or their names as strings)"),
    "split": (_is_text, "strings train/val/test (or their aliases)"),
}


def _check_column_types(shard: Path, schema: pa.Schema) -> None:
    for name, (accepts, expected) in _COLUMN_TYPES.items():
        if name not in schema.names:
            continue
        found = schema.field(name).type
        kind = found.value_type if pa.types.is_dictionary(found) else found  # categoricals
        if not (pa.types.is_null(kind) or accepts(kind)):
            raise DataError(f"{shard}: column '{name}' has type {found}; expected {expected}")


def parquet_shards(path: str | Path) -> list[Path]:
    """The parquet file itself, or a directory's `*.parquet` files in name order."""
    path = Path(path)
    if path.is_dir():
        shards = sorted(p for p in path.glob("*.parquet") if p.is_file())
        if not shards:
            raise DataError(f"{path}: directory has no *.parquet files; expected parquet shards")
        return shards
    if path.is_file():
        return [path]
    raise DataError(
        f"parquet path does not exist: {path}; expected a .parquet file or a directory of "
        "*.parquet shards (data.path)"
    )


class ParquetSource:
    """Loads OCEC parquet data; `group_column` names a column whose rows stay together.

    `task` is "classification" (labels), "segmentation" (masks) or None (from the columns);
    `class_names` defaults to the task's built-in classes.
    """

    def __init__(
        self,
        path: str | Path,
        root: str | Path | None = None,
        group_column: str | None = None,
        class_names: Sequence[str] | None = None,
        task: str | None = "classification",
    ) -> None:
        # No I/O here: the DataModule is built before anything is read.
        self.path = Path(path)
        self.root = Path(root) if root else None
        self.group_column = group_column or None
        self.class_names, self.task = source_options(class_names, task)

    def load(self) -> SampleTable:
        shards = parquet_shards(self.path)
        task = self.task
        if task is None:
            has_masks = any(c in _schema_names(shards[0]) for c in _MASK_COLUMNS)
            task = "segmentation" if has_masks else "classification"
        segmentation = task == "segmentation"
        class_names = self.class_names or default_class_names(task)
        parts = [self._read_metadata(shard, k, task) for k, shard in enumerate(shards)]
        meta = pd.concat([p[0] for p in parts], ignore_index=True)
        if meta.empty:
            raise DataError(
                f"{self.path}: the parquet data has no rows; expected at least one sample"
            )
        refs = meta["ref"].tolist()
        if segmentation:
            labels = np.zeros(len(meta), dtype=np.int64)
        else:
            labels = parse_labels(meta["label_value"].tolist(), refs, class_names)
        splits = parse_splits(meta["split"].tolist(), refs) if "split" in meta else None
        groups = meta["group"].tolist() if self.group_column else None
        frame = make_frame(labels, refs, splits, groups)

        shard_of_row, local_row = meta["shard_index"].to_numpy(), meta["row"].to_numpy()
        readers, referenced = {}, []
        for kind in ("image", "mask") if segmentation else ("image",):
            has_bytes = any(f"{kind}_bytes" in p[1] for p in parts)
            readers[kind] = reader = _RowReader(
                shards, shard_of_row, local_row, has_bytes, meta[f"{kind}_path"].to_numpy(),
                self.root, refs, kind,
            )  # fmt: skip
            # Bytes live inside the shards (covered by their signatures); only path-only
            # data needs the referenced files' signatures to notice replaced files. Paths
            # are resolved only here and when a row without bytes is read.
            if not has_bytes:
                files = (reader.file(i) for i in range(len(meta)))
                referenced += [f for f in files if f is not None]
        fingerprint = fingerprint_of(
            "parquet",
            file_signatures(shards),
            file_signatures(referenced),
            self.group_column,
            class_names,
            str(self.root),
            *(("segmentation",) if segmentation else ()),
        )
        return SampleTable(
            frame,
            readers["image"].read,
            fingerprint,
            list(class_names),
            read_mask=readers["mask"].read if segmentation else None,
        )

    def _read_metadata(self, shard: Path, index: int, task: str) -> tuple[pd.DataFrame, list[str]]:
        """Everything but the image/mask bytes of one shard, with the required columns checked."""
        schema = _schema(shard)
        columns = schema.names
        found = ", ".join(columns) or "(none)"
        mask_columns = [c for c in _MASK_COLUMNS if c in columns]
        if task == "classification" and mask_columns:
            raise task_mismatch(
                str(shard), "segmentation", task, f"has mask column(s) {', '.join(mask_columns)}"
            )
        if task == "segmentation" and not mask_columns:
            raise task_mismatch(
                str(shard),
                "classification",
                task,
                f"has no 'mask_bytes' or 'mask_path' column (columns found: {found})",
            )
        if task == "classification" and not any(c in columns for c in _LABEL_COLUMNS):
            raise DataError(
                f"{shard}: missing required column 'class_id' or 'label'; columns found: {found}"
            )
        if not any(c in columns for c in _IMAGE_COLUMNS):
            raise DataError(
                f"{shard}: missing required column 'image_path' (or 'image_bytes'); "
                f"columns found: {found}"
            )
        if self.group_column and self.group_column not in columns:
            raise DataError(
                f"{shard}: group column {self.group_column!r} (data.group_column) not found; "
                f"columns found: {found}"
            )
        _check_column_types(shard, schema)
        labels = _LABEL_COLUMNS if task == "classification" else ()
        wanted = [
            c
            for c in ("split", *labels, "image_path", "mask_path", self.group_column)
            if c in columns
        ]
        table = _read_columns(shard, list(dict.fromkeys(wanted))).to_pandas()
        n = len(table)
        meta = pd.DataFrame({"shard_index": np.full(n, index), "row": np.arange(n)})
        meta["ref"] = [f"{shard.name} row {k}" for k in range(n)]
        # class_id wins over label; label only fills rows whose class_id is missing.
        if "class_id" in table and "label" in table:
            meta["label_value"] = (
                table["class_id"].astype(object).where(table["class_id"].notna(), table["label"])
            )
        elif labels:
            meta["label_value"] = table["class_id" if "class_id" in table else "label"].astype(
                object
            )
        for column in ("image_path", "mask_path"):
            meta[column] = table[column] if column in table else None
        if "split" in table:
            meta["split"] = table["split"]
        if self.group_column:
            meta["group"] = table[self.group_column]
        return meta, [c for c in ("image_bytes", "mask_bytes") if c in columns]


# Rows per Arrow batch read from the bytes column, and batches kept per shard. The cache
# decodes rows in order from a few threads, each a few hundred rows apart, so a short
# window of batches serves them all while holding only a few MiB of encoded bytes.
_BATCH_ROWS, _WINDOW = 2048, 8
_READ_BUFFER = 1 << 20  # read column chunks in 1 MiB pieces (no pre-buffering)


class _ShardBytes:
    """One shard's `<kind>_bytes` column, streamed in batches from a sequential cursor.

    Reading row j advances the cursor to it (dropping the oldest batches); a row behind
    the cursor or in a later row group restarts it at that row group. A damaged page raises
    the DataError naming the shard, and keeps raising it for rows not already read.
    """

    def __init__(self, shard: Path, column: str) -> None:
        self.shard, self.column = shard, column
        self.lock = threading.Lock()
        self.window: dict[int, pa.Array] = {}  # first row -> its batch, oldest first
        self.batches: Any = None  # the cursor; `position`: the first row it yields next
        self.position, self.error, self.group_starts = 0, None, None

    def _fail(self, exc: BaseException) -> DataError:
        self.batches = None
        self.error = DataError(
            f"{self.shard}: corrupt parquet data in column(s) {self.column} "
            f"({_first_line(exc)}); expected a readable parquet file (rewrite it)"
        )
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

    def get(self, row: int) -> bytes | None:
        with self.lock:
            array = self._find(row)
        value = array[0][row - array[1]]
        return value.as_py() if value.is_valid else None

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
                start, self.position = self.position, self.position + batch.num_rows
                if row < self.position:
                    break
            self.window[start] = batch.column(0)
            while len(self.window) > _WINDOW:
                del self.window[next(iter(self.window))]
        except (OSError, pa.ArrowException) as exc:
            raise DataError(str(self._fail(exc))) from None
        return self.window[start], start


class _RowReader:
    """Decodes one row: its `<kind>_bytes` if non-null, else the file at `<kind>_path`.

    `kind` is "image" (RGB images) or "mask" (index masks). Paths (`rels`, relative to
    `root` or the row's shard folder) are resolved only for rows that are read from files.
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
        self.shards, self.has_bytes, self.rels, self.refs = shards, has_bytes, rels, refs
        self.shard_of_row, self.local_row, self.root = shard_of_row, local_row, root
        self.kind, self.column = kind, f"{kind}_bytes"
        self._decode = decode_mask_bytes if kind == "mask" else decode_image_bytes
        self._read_file = read_mask_file if kind == "mask" else read_image_file
        self._streams: dict[int, _ShardBytes | None] = {}  # None: shard lacks the column
        self._lock = threading.Lock()  # the cache decodes from several threads

    def file(self, i: int) -> Path | None:
        rel = self.rels[i]
        if rel is None or (isinstance(rel, float) and np.isnan(rel)) or rel == "":
            return None
        shard = self.shards[int(self.shard_of_row[i])]
        return (self.root or shard.parent) / str(rel)

    def _stream(self, index: int) -> _ShardBytes | None:
        if index not in self._streams:
            with self._lock:
                if index not in self._streams:
                    shard = self.shards[index]
                    has = self.column in _schema_names(shard)
                    self._streams[index] = _ShardBytes(shard, self.column) if has else None
        return self._streams[index]

    def read(self, i: int) -> np.ndarray:
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
