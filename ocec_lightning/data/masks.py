"""Segmentation masks: task settings, per-image class-id counts, and their checks.

Masks are uint8 arrays of class ids, `0 .. num_classes-1`, plus `ignore_index` for
unlabelled pixels (excluded from loss and metrics). `count_mask_pixels` reads the mask
cache once after it is loaded (from a fresh decode or an existing disk cache, so changing
`task.num_classes` re-checks cached masks too) and fails with the first image holding an
id outside that range: exactly what the loss would receive, at the model's size. Its
per-image counts give the DataModule `class_pixel_frequencies()` (CE class weights) and
the per-split "images containing each class" summary without another pass. With
`data.on_bad_sample=skip` a mask with such ids is listed as skipped instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ocec_lightning.checks import is_int
from ocec_lightning.data.bad_samples import skip_record
from ocec_lightning.errors import ConfigError, DataError

log = logging.getLogger("ocec_lightning.data")

# Masks are stored as uint8, so ids and ignore_index must fit in one byte.
MAX_MASK_VALUE = 255


def swap_lut(pairs: Sequence[Sequence[int]]) -> np.ndarray:
    """uint8 lookup table [256] exchanging the ids of each pair (left/right classes) and
    keeping every other id: ``swap_lut(pairs)[mask]`` relabels a mirrored uint8 mask."""
    lut = np.arange(MAX_MASK_VALUE + 1, dtype=np.uint8)
    for a, b in pairs:
        lut[a], lut[b] = b, a
    return lut


def check_segmentation_task(
    class_names: Sequence[str] | None, num_classes: object, ignore_index: object
) -> tuple[int, int]:
    """(num_classes, ignore_index) as ints, or a ConfigError naming the `task.*` key."""
    if not is_int(num_classes) or not 2 <= num_classes <= MAX_MASK_VALUE:
        raise ConfigError("task.num_classes", num_classes, "an integer between 2 and 255")
    if not is_int(ignore_index):
        raise ConfigError("task.ignore_index", ignore_index, "an integer id in 0-255, e.g. 255")
    if not num_classes <= ignore_index <= MAX_MASK_VALUE:
        raise ConfigError(
            "task.ignore_index",
            ignore_index,
            f"an id in {num_classes}-255 (not a class id 0-{num_classes - 1}), e.g. 255",
        )
    names = list(class_names or [])
    if len(names) != num_classes:
        raise ConfigError(
            "task.class_names",
            names,
            f"{num_classes} names, one per class id (task.num_classes={num_classes})",
        )
    return int(num_classes), int(ignore_index)


def count_mask_pixels(
    masks: np.ndarray,
    refs: Sequence[str],
    num_classes: int,
    ignore_index: int,
    skipped: list[dict[str, Any]] | None = None,
) -> np.ndarray:
    """Pixels per class id for every mask: int64 [N, num_classes], ignore_index excluded.

    Raises DataError for the first mask holding an id >= num_classes other than
    ignore_index, naming its row, the id(s), num_classes and the keys that would fix it.
    Given a `skipped` list (data.on_bad_sample=skip), such masks are added to it as
    {row, ref, reason} instead (kept in row order) and rows already in it are not checked.
    """
    already = {int(s["row"]) for s in skipped or ()}
    counts = np.zeros((len(masks), num_classes), dtype=np.int64)
    allowed = np.zeros(MAX_MASK_VALUE + 1, dtype=bool)
    allowed[:num_classes] = True
    allowed[ignore_index] = True
    for row in range(len(masks)):
        if row in already:
            continue
        hist = np.bincount(np.asarray(masks[row]).ravel(), minlength=MAX_MASK_VALUE + 1)
        bad = np.flatnonzero((hist > 0) & ~allowed)
        if bad.size:
            error = _bad_ids_error(refs[row], hist, bad, num_classes, ignore_index)
            if skipped is None:
                raise error
            skipped.append(skip_record(row, refs[row], error))
            continue
        counts[row] = hist[:num_classes]
    if skipped:
        skipped.sort(key=lambda s: s["row"])
    return counts


def _bad_ids_error(
    ref: str, hist: np.ndarray, bad: np.ndarray, num_classes: int, ignore_index: int
) -> DataError:
    shown = ", ".join(f"{int(i)} ({int(hist[i])} px)" for i in bad[:5])
    more = f" and {bad.size - 5} more" if bad.size > 5 else ""
    first = int(bad[0])
    return DataError(
        f"{ref}: mask has class id(s) {shown}{more} but task.num_classes is {num_classes} "
        f"(ids 0-{num_classes - 1}) and task.ignore_index is {ignore_index}; expected ids "
        f"below {num_classes} or {ignore_index}: raise task.num_classes (and "
        f"task.class_names) to {int(bad[-1]) + 1}, or set task.ignore_index={first} if "
        f"{first} marks unlabelled pixels"
    )


def warn_unlabelled(
    counts: np.ndarray,
    refs: Sequence[str],
    ignore_index: int,
    skipped: Sequence[dict[str, Any]] = (),
) -> int:
    """Log a warning for images whose every pixel is ignore_index; returns their number.
    Rows in `skipped` (data.on_bad_sample=skip) are not training data and not counted."""
    unlabelled = counts.sum(axis=1) == 0
    unlabelled[[int(s["row"]) for s in skipped]] = False
    empty = np.flatnonzero(unlabelled)
    if empty.size:
        examples = ", ".join(str(refs[i]) for i in empty[:3])
        log.warning(
            "%d image(s) have no labelled pixels (every pixel is ignore_index %d), e.g. %s; "
            "they are kept but add nothing to the loss",
            empty.size,
            ignore_index,
            examples,
        )
    return int(empty.size)


def pixel_frequencies(counts: np.ndarray) -> list[float]:
    """Share of labelled pixels per class id over the given rows (sums to 1, or all 0)."""
    totals = counts.sum(axis=0).astype(np.float64)
    total = totals.sum()
    return (totals / total).tolist() if total > 0 else [0.0] * counts.shape[1]
