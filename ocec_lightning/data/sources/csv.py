"""CSV manifests: columns `path,label[,split][,group]`, one image per line.

`path` is relative to the CSV's folder (or `root`); `label` is a class name
(case-insensitive) or class id; `split` takes the same aliases as the parquet format;
`group` (video, subject, ...) keeps related images in one split when splits are assigned.
Errors name the CSV line as an editor shows it (the header is line 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ocec_lightning.data.table import (
    OCEC_CLASS_NAMES,
    SampleTable,
    file_signatures,
    fingerprint_of,
    make_frame,
    parse_labels,
    parse_splits,
    read_image_file,
)
from ocec_lightning.errors import DataError

_REQUIRED = ("path", "label")


class CsvSource:
    """Loads a CSV manifest of image paths and labels."""

    def __init__(
        self,
        path: str | Path,
        root: str | Path | None = None,
        class_names: Sequence[str] = OCEC_CLASS_NAMES,
    ) -> None:
        self.path = Path(path)
        self.root = Path(root) if root else None
        self.class_names = list(class_names)

    def load(self) -> SampleTable:
        if not self.path.is_file():
            raise DataError(
                f"CSV manifest does not exist: {self.path}; expected path,label[,split][,group]"
            )
        # Strings throughout: labels may be names or ids, groups may look numeric.
        table = pd.read_csv(self.path, dtype=str, keep_default_na=True, skipinitialspace=True)
        table.columns = [str(c).strip().lower() for c in table.columns]
        for column in _REQUIRED:
            if column not in table:
                raise DataError(
                    f"{self.path}: missing required column {column!r}; columns found: "
                    f"{', '.join(table.columns) or '(none)'}; expected path,label[,split][,group]"
                )
        if table.empty:
            raise DataError(f"{self.path}: the manifest has no rows")
        refs = [f"{self.path.name} line {k + 2}" for k in range(len(table))]
        missing = table["path"].isna().to_numpy()
        if missing.any():
            raise DataError(f"{refs[int(missing.argmax())]}: empty path; expected an image path")
        base = self.root or self.path.parent
        files = [base / p.strip() for p in table["path"]]
        labels = parse_labels(table["label"].tolist(), refs, self.class_names)
        splits = parse_splits(table["split"].tolist(), refs) if "split" in table else None
        groups = table["group"].tolist() if "group" in table else None
        fingerprint = fingerprint_of(
            "csv", file_signatures([self.path]), file_signatures(files), self.class_names, str(base)
        )
        return SampleTable(
            make_frame(labels, refs, splits, groups),
            lambda i: read_image_file(files[i], refs[i]),
            fingerprint,
            list(self.class_names),
        )
