"""What happens to a sample that cannot be used (`data.on_bad_sample`).

A bad sample is an image or mask that is unreadable, empty, corrupt, holds NaN/inf
floats, has another size than its image, or holds class ids outside the task. With
"error" the first one fails with its row. With "skip" each is recorded as
`skip_record(row, ref, reason)` instead, and left zero in the decoded cache: the cache
keeps every row, so row numbers never shift. `drop_skipped` then takes those rows out of
their split, after the splits were assigned from the metadata. The decoded cache stores
the records next to its arrays, so a later run reusing the cache knows the same rows are
bad without decoding them (`cache.load_checked_samples`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ocec_lightning.checks import one_of
from ocec_lightning.errors import DataError

log = logging.getLogger("ocec_lightning.data")

BAD_SAMPLE_MODES: tuple[str, ...] = ("error", "skip")
# Bad rows quoted in the one-line warning about skipped samples (all are in the list).
_SHOWN_SKIPS = 3


def check_on_bad_sample(value: str) -> str:
    """`data.on_bad_sample` is one of BAD_SAMPLE_MODES, or a ConfigError."""
    return one_of("data.on_bad_sample", value, BAD_SAMPLE_MODES)


def skip_record(row: int, ref: str, reason: str) -> dict[str, Any]:
    """One skipped sample as listed in `skipped_samples`: {row, ref, reason}."""
    return {"row": int(row), "ref": str(ref), "reason": str(reason)}


def drop_skipped(splits: np.ndarray, skipped: Sequence[dict[str, Any]]) -> np.ndarray:
    """`splits` (one split name per row) with the skipped rows in no split (None).

    Splits are assigned from the metadata before decoding, so a skipped row simply leaves
    its split and no other row moves. Logs one warning line with the count and the first
    rows; raises DataError when no row is left.
    """
    if not skipped:
        return splits
    rows = sorted({int(s["row"]) for s in skipped})
    if len(rows) >= len(splits):
        raise DataError(
            f"all {len(splits)} samples are unusable, e.g. {skipped[0]['reason']}; "
            "data.on_bad_sample=skip drops bad samples but needs some good ones: fix the data"
        )
    kept = np.asarray(splits, dtype=object).copy()
    kept[rows] = None
    shown = "; ".join(s["reason"] for s in skipped[:_SHOWN_SKIPS])
    more = f"; and {len(skipped) - _SHOWN_SKIPS} more" if len(skipped) > _SHOWN_SKIPS else ""
    log.warning(
        "data.on_bad_sample=skip: skipped %d of %d samples (all listed in the datamodule's "
        "skipped_samples): %s%s",
        len(rows),
        len(splits),
        shown,
        more,
    )
    return kept
