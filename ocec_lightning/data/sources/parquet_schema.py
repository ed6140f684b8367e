"""What an OCEC parquet shard must hold: its columns, their Arrow types, and the checks.

Everything here is decided from a shard's schema (its footer), before any row is read, so
a missing column or a column of the wrong kind fails naming the file and the column
instead of as a decoding error on some row. The columns are described in `parquet`;
`parquet_reader` reads the rows.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ocec_lightning.data.table import task_mismatch
from ocec_lightning.errors import DataError

LABEL_COLUMNS = ("class_id", "label")
IMAGE_COLUMNS = ("image_bytes", "image_path")
MASK_COLUMNS = ("mask_bytes", "mask_path")
BYTES_COLUMNS = ("image_bytes", "mask_bytes")


def first_line(exc: BaseException) -> str:
    """The exception's first line, printable (pyarrow quotes raw bytes of damaged files)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return "".join(ch if ch.isprintable() else "?" for ch in line)


def read_schema(shard: Path) -> pa.Schema:
    """The shard's schema, or a DataError when the file is not parquet at all."""
    try:
        return pq.read_schema(shard)
    except Exception as exc:  # pyarrow raises several types for non-parquet files
        raise DataError(f"{shard}: not a readable parquet file ({first_line(exc)})") from None


def has_mask_columns(shard: Path) -> bool:
    """Whether the shard holds segmentation masks (a `mask_bytes` or `mask_path` column)."""
    return any(c in read_schema(shard).names for c in MASK_COLUMNS)


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
# the error says is expected.
_COLUMN_TYPES = {
    "image_bytes": (_is_binary, "binary (encoded PNG/JPEG/BMP bytes)"),
    "mask_bytes": (_is_binary, "binary (encoded PNG/BMP index-mask bytes)"),
    "image_path": (_is_text, "string paths relative to the parquet's folder or data.source.root"),
    "mask_path": (_is_text, "string paths relative to the parquet's folder or data.source.root"),
    "label": (_is_label, "class names (strings) or integer class ids"),
    "class_id": (_is_label, "integer class ids (or their names as strings)"),
    "split": (_is_text, "strings train/val/test (or their aliases)"),
}


def check_schema(shard: Path, schema: pa.Schema, task: str, group_column: str | None) -> None:
    """DataError (or a task mismatch) unless the shard has the columns `task` needs.

    Classification needs a label column and no mask column, segmentation a mask column;
    both need an image column, and `group_column` when one is set. Every known column
    must have one of its accepted types.
    """
    columns = schema.names
    found = ", ".join(columns) or "(none)"
    mask_columns = [c for c in MASK_COLUMNS if c in columns]
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
    if task == "classification" and not any(c in columns for c in LABEL_COLUMNS):
        raise DataError(
            f"{shard}: missing required column 'class_id' or 'label'; columns found: {found}"
        )
    if not any(c in columns for c in IMAGE_COLUMNS):
        raise DataError(
            f"{shard}: missing required column 'image_path' (or 'image_bytes'); "
            f"columns found: {found}"
        )
    if group_column and group_column not in columns:
        raise DataError(
            f"{shard}: group column {group_column!r} (data.group_column) not found; "
            f"columns found: {found}"
        )
    _check_column_types(shard, schema)


def _check_column_types(shard: Path, schema: pa.Schema) -> None:
    for name, (accepts, expected) in _COLUMN_TYPES.items():
        if name not in schema.names:
            continue
        found = schema.field(name).type
        kind = found.value_type if pa.types.is_dictionary(found) else found  # categoricals
        if not (pa.types.is_null(kind) or accepts(kind)):
            raise DataError(f"{shard}: column '{name}' has type {found}; expected {expected}")
