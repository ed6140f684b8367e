"""The sample table every data source produces, and the helpers sources use to fill it.

A source (parquet, folder, csv, synthetic) turns its input into a `SampleTable`: one row
per sample with an integer `label`, an optional `split` and `group`, and a human-readable
`ref` ("data.parquet row 17", "closed/img_003.png") that every error message quotes.
Segmentation tables add `read_mask(i)` (a class-id mask per image; their `label` is 0).
Images are not decoded here; `read_image(i)` decodes row `i` on demand so that the cache
(`cache.py`) decides when and how often decoding happens. Label and split parsing live
here and image/mask decoding in `decoding.py`, so that every source accepts the same
spellings and formats and fails the same way.
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# decode_image_bytes is re-exported for tools that import it from here (export inputs).
from ocec_lightning.data.decoding import (  # noqa: F401
    decode_image_bytes,
    read_image_file,
    read_mask_file,
)
from ocec_lightning.errors import ConfigError, DataError

# The OCEC parquet format's classes: class_id 0 is closed, 1 is open.
OCEC_CLASS_NAMES: tuple[str, ...] = ("closed", "open")

SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp")

TASKS: tuple[str, ...] = ("classification", "segmentation")


def check_task(task: str | None, key: str = "task.name", allow_none: bool = False) -> str | None:
    """`task` if it is a known task name (or None when `allow_none`), else a ConfigError."""
    if task is None and allow_none:
        return None
    if task not in TASKS:
        raise ConfigError(key, task, f"one of {', '.join(TASKS)}")
    return task


def source_options(
    class_names: Sequence[str] | None, task: str | None
) -> tuple[list[str] | None, str | None]:
    """A file source's constructor options: `class_names` as a list (None: the task's or
    the data's default) and the checked `data.source.task` (None: the data decides)."""
    return (
        list(class_names) if class_names else None,
        check_task(task, "data.source.task", allow_none=True),
    )


def default_class_names(task: str) -> list[str]:
    """Class names for data read without a task config (`ocec-data info`, bare sources).

    Classification: the OCEC classes. Segmentation: `task.class_names` of the task
    config `conf/task/segmentation.yaml` (the LaPa-style face classes), their one home.
    """
    if task != "segmentation":
        return list(OCEC_CLASS_NAMES)
    return list(task_defaults(task)["class_names"])


@cache
def _task_defaults(task: str) -> dict[str, Any]:
    from omegaconf import OmegaConf

    from ocec_lightning.config.compose import conf_dir

    cfg = OmegaConf.load(conf_dir() / "task" / f"{task}.yaml")
    # Task files are `@package _global_` (they also switch group defaults or add
    # callbacks), so their task keys sit under `task:`; a plain group file holds them at
    # the top.
    node = cfg.task if "task" in cfg else cfg
    # Not resolved: some entries point into the composed config (`${model}`).
    return OmegaConf.to_container(node, resolve=False)


def task_defaults(task: str) -> dict[str, Any]:
    """The `task:` settings of `conf/task/<task>.yaml` as plain Python values (class
    names, flip pairs, palette, ...), read without composing a whole config; entries that
    interpolate other config groups stay unresolved `${...}` strings."""
    return copy.deepcopy(_task_defaults(check_task(task)))


def task_mismatch(where: str, found: str, task: str, hint: str) -> DataError:
    """The error for data of one task used with the other (masks present or missing)."""
    return DataError(
        f"{where}: {hint}, i.e. {found} data, but task.name is '{task}'; "
        f"run with task={found} or give {task} data"
    )


@dataclass
class SampleTable:
    """A loaded data source: sample metadata plus a way to decode each sample's image.

    `frame` has the columns `label` (int class id), `split` ("train"/"val"/"test" or
    missing), `group` (any hashable or missing) and `ref` (where the row came from).
    `read_image(i)` returns row position `i` as an HxWx3 uint8 RGB array or raises
    `DataError` naming the ref. `render_block(start, stop)`, when set, returns rows
    `start..stop-1` as one [n, H, W, 3] uint8 array already at `render_size` (synthetic
    sources draw straight into the cache that way, without a PNG round trip).

    Segmentation tables set `read_mask(i)`: row `i`'s mask as an HxW uint8 array of class
    ids, the same size as its image; their `render_block` returns `(images, masks)`.
    """

    frame: pd.DataFrame
    read_image: Callable[[int], np.ndarray]
    fingerprint: str
    class_names: list[str]
    render_block: Callable[[int, int], Any] | None = None
    render_size: tuple[int, int] | None = None
    read_mask: Callable[[int], np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def task(self) -> str:
        """ "segmentation" when the samples carry masks, else "classification"."""
        return "segmentation" if self.read_mask is not None else "classification"

    @property
    def has_groups(self) -> bool:
        return "group" in self.frame and bool(self.frame["group"].notna().any())


def file_table(
    files: Sequence[Path],
    refs: Sequence[str],
    fingerprint: str,
    class_names: Sequence[str],
    *,
    labels: Sequence[int] | np.ndarray | None = None,
    splits: Sequence[object] | None = None,
    groups: Sequence[object] | None = None,
    masks: Sequence[Path] | None = None,
    mask_refs: Sequence[str] | None = None,
) -> SampleTable:
    """A table whose row `i` is decoded from the image file `files[i]` (errors name
    `refs[i]`). Classification passes the `labels`; segmentation passes the mask files
    `masks` instead (errors name `mask_refs[i]`, by default `refs[i]`) and gets label 0."""
    if labels is None:
        labels = np.zeros(len(refs), dtype=np.int64)
    mask_names = refs if mask_refs is None else mask_refs

    def read_mask(i: int) -> np.ndarray:
        return read_mask_file(masks[i], mask_names[i])

    return SampleTable(
        make_frame(labels, refs, splits, groups),
        lambda i: read_image_file(files[i], refs[i]),
        fingerprint,
        list(class_names),
        read_mask=read_mask if masks is not None else None,
    )


def make_frame(
    labels: Sequence[int] | np.ndarray,
    refs: Sequence[str],
    splits: Sequence[object] | None = None,
    groups: Sequence[object] | None = None,
) -> pd.DataFrame:
    """Build a table frame with the standard columns (missing split/group become NA)."""
    n = len(refs)
    return pd.DataFrame(
        {
            "label": np.asarray(labels, dtype=np.int64),
            "split": pd.Series(splits if splits is not None else [None] * n, dtype="object"),
            "group": pd.Series(groups if groups is not None else [None] * n, dtype="object"),
            "ref": list(refs),
        }
    )


def fingerprint_of(*parts: object) -> str:
    """Stable short hash of the given values (their `repr`), used to key the image cache."""
    digest = hashlib.sha256()
    for part in parts:
        # Lists (e.g. one signature per image) are hashed item by item rather than as one
        # huge repr string.
        for item in part if isinstance(part, list) else [part]:
            digest.update(repr(item).encode("utf-8"))
            digest.update(b"\x01")
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def file_signatures(paths: Iterable[Path]) -> list[tuple[str, int, int]]:
    """(path, size, mtime) of each existing file: cheap change detection for the cache key.

    Hashing the bytes of every image would cost as much as decoding them, which is what
    the cache exists to avoid; size + modification time catches rewritten files.
    """
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue  # missing files are reported with their row when decoded
        out.append((str(path), st.st_size, st.st_mtime_ns))
    return out


def parse_labels(
    values: Sequence[object], refs: Sequence[str], class_names: Sequence[str]
) -> np.ndarray:
    """Map label names (case-insensitive) or integer class ids to class ids.

    Raises DataError naming the first row whose value is neither.
    """
    by_name = {name.lower(): i for i, name in enumerate(class_names)}
    # Work on the distinct values only: a 470k-row table has two or three of them.
    codes, uniques = pd.factorize(pd.Series(values, dtype="object"), use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=np.int64)
    mapped[-1] = -1  # code -1 (missing) indexes the last slot
    for k, value in enumerate(uniques):
        label = _label_id(value, by_name, len(class_names))
        mapped[k] = -1 if label is None else label
    labels = mapped[codes]
    bad = np.flatnonzero(labels < 0)
    if bad.size:
        row = int(bad[0])
        ids = "/".join(str(k) for k in range(len(class_names)))
        what = "label is missing" if codes[row] < 0 else f"unknown label {values[row]!r}"
        raise DataError(
            f"{refs[row]}: {what}; expected one of "
            f"{'/'.join(class_names)} (case-insensitive) or {ids}"
        )
    return labels


def _label_id(value: object, by_name: dict[str, int], num_classes: int) -> int | None:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in by_name:
            return by_name[text]
        value = text
    try:
        number = float(value)  # accepts ints, "1", and 1.0 from NaN-holding columns
    except (TypeError, ValueError):
        return None
    if number.is_integer() and 0 <= number < num_classes:
        return int(number)
    return None


def parse_splits(values: Sequence[object], refs: Sequence[str]) -> np.ndarray:
    """Normalise split names and their aliases (case-insensitive); missing becomes None.

    Returns an object array of "train"/"val"/"test"/None; raises DataError naming the
    first row with any other value.
    """
    codes, uniques = pd.factorize(pd.Series(values, dtype="object"), use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[-1] = None
    for k, value in enumerate(uniques):
        text = str(value).strip().lower()
        if text == "":
            mapped[k] = None
        elif text in SPLIT_ALIASES:
            mapped[k] = SPLIT_ALIASES[text]
        else:
            row = int(np.flatnonzero(codes == k)[0])
            raise DataError(
                f"{refs[row]}: unknown split {value!r}; expected train/training, "
                "val/valid/validation/dev or test/testing"
            )
    return mapped[codes]
