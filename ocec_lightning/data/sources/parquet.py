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

This module turns the shards into a `SampleTable`; the column checks live in
`parquet_schema`, the row reading in `parquet_reader`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ocec_lightning.data.sources.parquet_reader import RowReader, read_columns
from ocec_lightning.data.sources.parquet_schema import (
    BYTES_COLUMNS,
    LABEL_COLUMNS,
    check_schema,
    has_mask_columns,
    read_schema,
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
)
from ocec_lightning.errors import DataError


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
            task = "segmentation" if has_mask_columns(shards[0]) else "classification"
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

        readers: dict[str, RowReader] = {}
        referenced: list[Path] = []
        for kind in ("image", "mask") if segmentation else ("image",):
            has_bytes = any(f"{kind}_bytes" in p[1] for p in parts)
            readers[kind] = reader = RowReader(
                shards,
                shard_of_row=meta["shard_index"].to_numpy(),
                local_row=meta["row"].to_numpy(),
                has_bytes=has_bytes,
                rels=meta[f"{kind}_path"].to_numpy(),
                root=self.root,
                refs=refs,
                kind=kind,
            )
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
        """Everything but the image/mask bytes of one shard, with the required columns checked.

        Returns the rows' metadata and the bytes columns the shard has.
        """
        schema = read_schema(shard)
        check_schema(shard, schema, task, self.group_column)
        columns = schema.names
        labels = LABEL_COLUMNS if task == "classification" else ()
        wanted = [
            c
            for c in ("split", *labels, "image_path", "mask_path", self.group_column)
            if c in columns
        ]
        table = read_columns(shard, list(dict.fromkeys(wanted))).to_pandas()
        n = len(table)
        meta = pd.DataFrame({"shard_index": np.full(n, index), "row": np.arange(n)})
        meta["ref"] = [f"{shard.name} row {k}" for k in range(n)]
        # class_id wins over label; label only fills rows whose class_id is missing.
        if "class_id" in table and "label" in table:
            class_ids = table["class_id"].astype(object)
            meta["label_value"] = class_ids.where(table["class_id"].notna(), table["label"])
        elif labels:
            label_column = "class_id" if "class_id" in table else "label"
            meta["label_value"] = table[label_column].astype(object)
        for column in ("image_path", "mask_path"):
            meta[column] = table[column] if column in table else None
        if "split" in table:
            meta["split"] = table["split"]
        if self.group_column:
            meta["group"] = table[self.group_column]
        return meta, [c for c in BYTES_COLUMNS if c in columns]
