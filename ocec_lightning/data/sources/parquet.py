"""The OCEC parquet format: one file or a directory of `*.parquet` shards.

Columns (upstream OCEC): `split` (optional; aliases train/training, val/valid/validation/
dev, test/testing), `label` (open/closed) and/or `class_id` (0 closed, 1 open; wins over
`label`), `image_path` (relative to the parquet's folder, or to `root`), `source`, and
optional `image_bytes` (encoded PNG). A row uses its bytes when they are present and
falls back to its file otherwise. The bytes column is read only when an image is first
decoded, so a run that finds its decoded-image cache never loads it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ocec_lightning.data.table import (
    OCEC_CLASS_NAMES,
    SampleTable,
    decode_image_bytes,
    file_signatures,
    fingerprint_of,
    make_frame,
    parse_labels,
    parse_splits,
    read_image_file,
)
from ocec_lightning.errors import DataError

_LABEL_COLUMNS = ("class_id", "label")
_IMAGE_COLUMNS = ("image_bytes", "image_path")


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
    """Loads OCEC parquet data; `group_column` names a column whose rows stay together."""

    def __init__(
        self,
        path: str | Path,
        root: str | Path | None = None,
        group_column: str | None = None,
        class_names: Sequence[str] = OCEC_CLASS_NAMES,
    ) -> None:
        # No I/O here: the DataModule is built before anything is read.
        self.path = Path(path)
        self.root = Path(root) if root else None
        self.group_column = group_column or None
        self.class_names = list(class_names)

    def load(self) -> SampleTable:
        shards = parquet_shards(self.path)
        parts = [self._read_metadata(shard, k) for k, shard in enumerate(shards)]
        meta = pd.concat([p[0] for p in parts], ignore_index=True)
        refs = meta["ref"].tolist()
        labels = parse_labels(meta["label_value"].tolist(), refs, self.class_names)
        splits = parse_splits(meta["split"].tolist(), refs) if "split" in meta else None
        groups = meta["group"].tolist() if self.group_column else None
        frame = make_frame(labels, refs, splits, groups)

        has_bytes = any(p[1] for p in parts)
        files = [
            self._resolve(shard, rel)
            for shard, rel in zip(meta["shard"], meta["image_path"], strict=True)
        ]
        reader = _RowReader(
            shards, meta["shard_index"].to_numpy(), meta["row"].to_numpy(), has_bytes, files, refs
        )
        # Bytes live inside the shards (covered by their signatures); only path-only data
        # needs the referenced files' signatures to notice replaced images.
        referenced = [] if has_bytes else [f for f in files if f is not None]
        fingerprint = fingerprint_of(
            "parquet",
            file_signatures(shards),
            file_signatures(referenced),
            self.group_column,
            self.class_names,
            str(self.root),
        )
        return SampleTable(frame, reader.read, fingerprint, list(self.class_names))

    def _read_metadata(self, shard: Path, index: int) -> tuple[pd.DataFrame, bool]:
        """Everything but the image bytes of one shard, with the required columns checked."""
        try:
            columns = pq.read_schema(shard).names
        except Exception as exc:  # pyarrow raises several types for non-parquet files
            raise DataError(f"{shard}: not a readable parquet file ({exc})") from None
        found = ", ".join(columns) or "(none)"
        if not any(c in columns for c in _LABEL_COLUMNS):
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
        wanted = [
            c
            for c in ("split", "class_id", "label", "image_path", self.group_column)
            if c in columns
        ]
        table = pq.read_table(shard, columns=list(dict.fromkeys(wanted))).to_pandas()
        n = len(table)
        meta = pd.DataFrame({"shard": [shard] * n, "shard_index": index, "row": np.arange(n)})
        meta["ref"] = [f"{shard.name} row {k}" for k in range(n)]
        # class_id wins over label; label only fills rows whose class_id is missing.
        if "class_id" in table and "label" in table:
            meta["label_value"] = (
                table["class_id"].astype(object).where(table["class_id"].notna(), table["label"])
            )
        else:
            meta["label_value"] = table["class_id" if "class_id" in table else "label"].astype(
                object
            )
        meta["image_path"] = table["image_path"] if "image_path" in table else None
        if "split" in table:
            meta["split"] = table["split"]
        if self.group_column:
            meta["group"] = table[self.group_column]
        return meta, "image_bytes" in columns

    def _resolve(self, shard: Path, rel: object) -> Path | None:
        if rel is None or (isinstance(rel, float) and np.isnan(rel)) or rel == "":
            return None
        return (self.root or shard.parent) / str(rel)


class _RowReader:
    """Decodes one row: its `image_bytes` if non-null, else the file at `image_path`."""

    def __init__(
        self,
        shards: list[Path],
        shard_of_row: np.ndarray,
        local_row: np.ndarray,
        has_bytes: bool,
        files: list[Path | None],
        refs: list[str],
    ) -> None:
        self.shards, self.has_bytes, self.files, self.refs = shards, has_bytes, files, refs
        self.shard_of_row, self.local_row = shard_of_row, local_row
        self._bytes: list[np.ndarray] | None = None
        self._lock = threading.Lock()  # the cache decodes from several threads

    def _bytes_columns(self) -> list[np.ndarray]:
        with self._lock:
            if self._bytes is None:
                columns = []
                for shard in self.shards:
                    names = pq.read_schema(shard).names
                    if "image_bytes" in names:
                        col = pq.read_table(shard, columns=["image_bytes"]).column(0)
                        columns.append(col.to_numpy(zero_copy_only=False))
                    else:
                        columns.append(
                            np.full(pq.ParquetFile(shard).metadata.num_rows, None, dtype=object)
                        )
                self._bytes = columns
            return self._bytes

    def read(self, i: int) -> np.ndarray:
        ref = self.refs[i]
        if self.has_bytes:
            data = self._bytes_columns()[self.shard_of_row[i]][self.local_row[i]]
            if data is not None:
                return decode_image_bytes(bytes(data), ref)
        path = self.files[i]
        if path is None:
            raise DataError(f"{ref}: has neither image_bytes nor image_path; expected one of them")
        return read_image_file(path, ref)
