"""Lightning's `CSVLogger` `metrics.csv`: rows per logging step and per epoch, folded.

Lightning writes one row per `log_metrics` call: per-step train rows, an epoch-end
train row, a validation row, LR rows from `LearningRateMonitor` that carry only a
step, and after `fit` a test row. Per epoch: `*_step` series with an `*_epoch` twin are
dropped, those without one averaged, everything else takes its last value; a row
without an epoch takes the epoch of the next row (by step) that has one. Series and
rows of other stages (`test/*`, `test_*`, `predict*`) are left out: one value after
training is not a curve, and the test row's epoch (`max_epochs`) has no training.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ocec_lightning.analysis.history.base import (
    OTHER_STAGES,
    Declined,
    EpochTable,
    LogFile,
    fold,
    numeric,
    require_file,
    several_per_epoch,
    table,
)
from ocec_lightning.errors import DataError

NAME = "Lightning CSVLogger metrics.csv"
LR_NAME = re.compile(r"^lr[-_/]|^lr$|learning[_-]?rate", re.IGNORECASE)
TRAIN_NAME = re.compile(r"(^|[/_\-])(train|training)([/_\-]|$)|^lr[-_/]|^lr$", re.IGNORECASE)


def read_frame(log: LogFile) -> pd.DataFrame:
    """The CSV's cells as text (an incomplete last row of a file being written dropped)."""
    text = log.text
    if text and not text.endswith(("\n", "\r")) and "\n" in text:
        header = text.split("\n", 1)[0]
        last = text.rsplit("\n", 1)[1]
        if last.count(",") < header.count(","):  # the writer is mid-row
            text = text[: text.rindex("\n") + 1]
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except pd.errors.ParserError as err:
        raise DataError(f"{log.path}: not a readable CSV ({err})") from err


def read(path: Path) -> EpochTable:
    require_file(path, (".csv",))
    log = LogFile(path)
    header = log.text.split("\n", 1)[0].strip().split(",")
    if "epoch" not in header or "step" not in header:
        raise Declined("no `epoch` and `step` columns")
    return fold_rows(read_frame(log), path, NAME)


def fold_rows(raw: pd.DataFrame, path: Path, name: str) -> EpochTable:
    """Lightning rows (`epoch`, `step` and the logged keys) as one row per epoch."""
    raw = raw[[c for c in raw.columns if not OTHER_STAGES.search(str(c))]]
    values, written = numeric(raw)
    if values.empty or "epoch" not in values:
        return table(values.iloc[:0], written.iloc[:0], format=name, log=path)
    epochs = values["epoch"].copy()
    steps = values["step"] if "step" in values else pd.Series(np.nan, index=values.index)
    known = epochs.notna() & steps.notna()
    missing = epochs.isna() & steps.notna()
    if missing.any() and known.any():
        order = steps[known].sort_values()
        at = np.searchsorted(order.to_numpy(), steps[missing].to_numpy())
        found = np.full(len(at), np.nan)
        inside = at < len(order)
        found[inside] = epochs[order.index].to_numpy()[at[inside]]
        epochs[missing] = found
    stepwise = [c for c in values.columns if c.endswith("_step") and not LR_NAME.search(c)]
    twins = [c for c in stepwise if f"{c[: -len('_step')]}_epoch" in values.columns]
    drop = [*twins, "epoch", "step"]
    values = values.drop(columns=[c for c in drop if c in values])
    written = written.drop(columns=[c for c in drop if c in written])
    # Series logged on every step without an epoch aggregate (`*_step` without its
    # `*_epoch` twin, or `self.log(..., on_step=True, on_epoch=False)`): the epoch mean.
    averaged = [c for c in stepwise if c not in twins]
    lrs = [c for c in values.columns if LR_NAME.search(c)]
    averaged += [c for c in several_per_epoch(written, epochs, lrs) if c not in averaged]
    out, out_written = fold(values, written, epochs, averaged)
    notes = []
    if averaged:
        shown = ", ".join(f"`{c}`" for c in averaged[:3])
        notes.append(f"series logged per step averaged per epoch: {shown}")
    out, out_written, dropped = _without_post_fit_epochs(out, out_written, averaged)
    if dropped:
        notes.append(
            f"epoch {dropped} holds only values logged after training (`validate` / `test` "
            "after `fit`): left out"
        )
    return table(out, out_written, format=name, log=path, notes=notes)


def _without_post_fit_epochs(
    values: pd.DataFrame, written: pd.DataFrame, stepwise: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """Trailing epochs without any training value, after epochs with one: Lightning
    numbers a `trainer.validate()` after `fit` with the epoch after the last."""
    train = [c for c in values.columns if c in stepwise or TRAIN_NAME.search(c)]
    if not train or values.empty:
        return values, written, None
    trained = written[train].any(axis=1).to_numpy()
    if not trained.any() or trained[-1]:
        return values, written, None
    last = int(np.flatnonzero(trained)[-1]) + 1
    epochs = values.index[last:]
    shown = str(epochs[0]) if len(epochs) == 1 else f"{epochs[0]}–{epochs[-1]}"
    return values.iloc[:last], written.iloc[:last], shown
