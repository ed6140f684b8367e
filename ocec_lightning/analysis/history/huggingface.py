"""Hugging Face `Trainer`'s `trainer_state.json`: `log_history` of interleaved records.

Train records (`loss`, `learning_rate`, `grad_norm`, every `logging_steps`) carry the
fraction of epochs done as a float (`epoch: 0.5`); eval records (`eval_loss`,
`eval_<metric>`) the epoch they close (`1.0`, `2.0`, ...); the last record sums up the
run (`train_runtime`, `train_loss`) and is left out. A record at epoch e belongs to
epoch ⌈e⌉ (counted from 1, as the Trainer counts), train values are averaged per epoch
and the LR is the last one logged in it. The state also says what was planned:
`num_train_epochs`, `max_steps`, and the early-stopping patience of a saved
`EarlyStoppingCallback`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from ocec_lightning.analysis.history.base import (
    Declined,
    EpochTable,
    LogFile,
    fold,
    numeric,
    require_file,
    table,
)
from ocec_lightning.analysis.history.model import RunSettings

NAME = "Hugging Face trainer_state.json"
SUMMARY_KEYS = ("train_runtime", "total_flos", "train_samples_per_second")
LAST_VALUE = ("learning_rate", "epoch", "step")


def _settings(state: dict[str, Any], path: Path) -> RunSettings:
    keys: dict[str, str] = {}
    epochs = state.get("num_train_epochs")
    if isinstance(epochs, int | float):
        keys["max_epochs"] = f"num_train_epochs = {epochs}"
    callbacks = state.get("stateful_callbacks") or {}
    stopper = callbacks.get("EarlyStoppingCallback") if isinstance(callbacks, dict) else None
    patience = None
    if isinstance(stopper, dict):
        patience = (stopper.get("args") or {}).get("early_stopping_patience")
        keys["early_stopping_patience"] = f"EarlyStoppingCallback patience = {patience}"
    return RunSettings(
        max_epochs=int(math.ceil(epochs)) if isinstance(epochs, int | float) else None,
        early_stopping_patience=patience if isinstance(patience, int) else None,
        early_stopping=True if isinstance(stopper, dict) else None,
        source=str(path),
        tool="Hugging Face Trainer",
        keys=keys,
        raw={k: v for k, v in state.items() if k != "log_history"},
    )


def read(path: Path) -> EpochTable:
    require_file(path, (".json",))
    state = LogFile(path).json
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise Declined("no `log_history` list")
    records = [
        r
        for r in state["log_history"]
        if isinstance(r, dict) and not any(k in r for k in SUMMARY_KEYS)
    ]
    frame = pd.DataFrame.from_records(records)
    if frame.empty or "epoch" not in frame:
        return table(frame, frame, format=NAME, log=path, settings=_settings(state, path))
    values, written = numeric(frame.astype(object).where(frame.notna(), None))
    epochs = values["epoch"].map(lambda e: max(1, math.ceil(e - 1e-9)) if e == e else e)
    averaged = [
        c
        for c in values.columns
        if c not in LAST_VALUE and not str(c).startswith("eval_") and values[c].notna().any()
    ]
    rest = values.drop(columns=[c for c in ("epoch", "step") if c in values])
    out, out_written = fold(rest, written[rest.columns], epochs, averaged)
    notes = ["a record at fractional epoch e belongs to epoch ⌈e⌉ (from 1, as the Trainer counts)"]
    if averaged:
        shown = ", ".join(f"`{c}`" for c in averaged[:3])
        notes.append(f"train records (logged every few steps) averaged per epoch: {shown}")
    out_table = table(out, out_written, format=NAME, log=path, notes=notes)
    out_table.settings = _settings(state, path)
    best = state.get("best_metric")
    if isinstance(best, int | float):
        for column in out_table.values.columns:
            if str(column).startswith("eval_") and (out_table.values[column] == best).any():
                out_table.monitor_hint = (column, "the Trainer's best_metric")
                break
    return out_table
