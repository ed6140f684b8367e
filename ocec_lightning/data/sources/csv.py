"""CSV manifests, one sample per line.

Classification: columns `path,label[,split][,group]`. `label` is a class name
(case-insensitive) or class id.
Segmentation: columns `image,mask[,split][,group]` (`path` is accepted for `image`):
`mask` is an index-mask file (PNG/BMP, one class id per pixel) of the image's size.

Paths are relative to the CSV's folder (or `root`); `split` takes the same aliases as the
parquet format; `group` (video, subject, ...) keeps related images in one split when
splits are assigned. A `mask` column with task classification, or none with task
segmentation, is an error naming the CSV; with `task=None` (as `ocec-data info` reads)
the task follows the columns. Errors name the CSV line as an editor shows it (the header
is line 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ocec_lightning.data.table import (
    SampleTable,
    default_class_names,
    file_signatures,
    file_table,
    fingerprint_of,
    parse_labels,
    parse_splits,
    source_options,
    task_mismatch,
)
from ocec_lightning.errors import DataError

_COLUMNS = {
    "classification": ("path", "label"),
    "segmentation": ("image", "mask"),
}
_LAYOUT = {
    "classification": "path,label[,split][,group]",
    "segmentation": "image,mask[,split][,group]",
}


class CsvSource:
    """Loads a CSV manifest of image paths and labels (or image and mask paths)."""

    def __init__(
        self,
        path: str | Path,
        root: str | Path | None = None,
        class_names: Sequence[str] | None = None,
        task: str | None = "classification",
    ) -> None:
        self.path = Path(path)
        self.root = Path(root) if root else None
        self.class_names, self.task = source_options(class_names, task)

    def load(self) -> SampleTable:
        if not self.path.is_file():
            layout = _LAYOUT[self.task or "classification"]
            raise DataError(f"CSV manifest does not exist: {self.path}; expected {layout}")
        table = self._read()
        table.columns = [str(c).strip().lower() for c in table.columns]
        task = self.task or ("segmentation" if "mask" in table else "classification")
        if task == "classification" and "mask" in table:
            raise task_mismatch(str(self.path), "segmentation", task, "has a 'mask' column")
        if task == "segmentation" and "mask" not in table:
            raise task_mismatch(
                str(self.path),
                "classification",
                task,
                f"has no 'mask' column (columns found: {', '.join(table.columns) or '(none)'})",
            )
        if task == "segmentation" and "image" not in table and "path" in table:
            table = table.rename(columns={"path": "image"})
        for column in _COLUMNS[task]:
            if column not in table:
                raise DataError(
                    f"{self.path}: missing required column {column!r}; columns found: "
                    f"{', '.join(table.columns) or '(none)'}; expected {_LAYOUT[task]}"
                )
        if table.empty:
            raise DataError(f"{self.path}: the manifest has no rows")
        refs = [f"{self.path.name} line {k + 2}" for k in range(len(table))]
        base = self.root or self.path.parent
        image_column, label_column = _COLUMNS[task]
        files = self._files(table, image_column, refs, base)
        class_names = self.class_names or default_class_names(task)
        splits = parse_splits(table["split"].tolist(), refs) if "split" in table else None
        groups = table["group"].tolist() if "group" in table else None
        if task == "segmentation":
            masks = self._files(table, "mask", refs, base)
            fingerprint = fingerprint_of(
                "csv-segmentation",
                file_signatures([self.path]),
                file_signatures(files),
                file_signatures(masks),
                class_names,
                str(base),
            )
            return file_table(
                files, refs, fingerprint, class_names, splits=splits, groups=groups, masks=masks
            )
        labels = parse_labels(table[label_column].tolist(), refs, class_names)
        fingerprint = fingerprint_of(
            "csv", file_signatures([self.path]), file_signatures(files), class_names, str(base)
        )
        return file_table(
            files, refs, fingerprint, class_names, labels=labels, splits=splits, groups=groups
        )

    def _read(self) -> pd.DataFrame:
        """The manifest as strings (labels may be names or ids, groups may look numeric);
        an empty, non-UTF-8 or malformed file is a DataError naming it."""
        layout = _LAYOUT[self.task or "classification"]
        try:
            return pd.read_csv(self.path, dtype=str, keep_default_na=True, skipinitialspace=True)
        except pd.errors.EmptyDataError:
            detail = "the file is empty"
        except UnicodeDecodeError as exc:
            detail = f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        except pd.errors.ParserError as exc:
            detail = f"not a readable CSV ({str(exc).strip().splitlines()[0]})"
        raise DataError(f"{self.path}: {detail}; expected a UTF-8 CSV with the header {layout}")

    @staticmethod
    def _files(table: pd.DataFrame, column: str, refs: list[str], base: Path) -> list[Path]:
        missing = table[column].isna().to_numpy()
        if missing.any():
            what = "a mask path" if column == "mask" else "an image path"
            raise DataError(f"{refs[int(missing.argmax())]}: empty {column}; expected {what}")
        return [base / p.strip() for p in table[column]]
