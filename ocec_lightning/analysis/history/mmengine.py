"""OpenMMLab logs: MMEngine's `vis_data/scalars.json` and MMCV 1.x's `<time>.log.json`.

MMEngine (JSON Lines): training lines carry `epoch` (from 1), `iter`, `step` (the
iteration), `lr`, `loss`, `loss_*`; validation lines carry the metrics (`mIoU`, `aAcc`,
`accuracy/top1`, `coco/bbox_mAP`) and `step` = the epoch they close, without an
`epoch` key. An iteration-based run (no `epoch` anywhere) validates every N iterations:
its validation rounds are counted from 1, and the train lines before a round belong to
it. MMCV 1.x: a first line with `env_info` / `config`, then records with
`mode: train|val`, `epoch` and `iter`. Train values are averaged per epoch, the LR is the
last logged; timers and counters (`time`, `data_time`, `memory`) are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ocec_lightning.analysis.history.base import (
    BOOKKEEPING,
    Declined,
    EpochTable,
    LogFile,
    fold,
    numeric,
    require_file,
    table,
)

SCALARS_NAME = "MMEngine scalars.json"
MMCV_NAME = "MMCV log.json"
LAST_VALUE = ("lr", "epoch", "mode")


def _frames(records: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.json_normalize(records, sep="/")
    return numeric(frame.astype(object).where(frame.notna(), None))


def _fold(
    values: pd.DataFrame, written: pd.DataFrame, epochs: pd.Series, train: np.ndarray, path: Path
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    drop = [c for c in values.columns if c in BOOKKEEPING or c in ("epoch", "mode")]
    values, written = values.drop(columns=drop), written.drop(columns=drop)
    # A metric both stages log (a val loss under the same name) keeps both, apart.
    both = [
        c
        for c in values.columns
        if c not in LAST_VALUE and written[c][train].any() and written[c][~train].any()
    ]
    for column in both:
        values[f"val/{column}"] = values[column].where(~train)
        written[f"val/{column}"] = written[column] & ~train
        values[column] = values[column].where(train)
        written[column] = written[column] & train
    averaged = [c for c in values.columns if written[c][train].any() and c not in LAST_VALUE]
    out, out_written = fold(values, written, epochs, averaged)
    shown = ", ".join(f"`{c}`" for c in averaged[:3])
    notes = [f"train lines (logged every few iterations) averaged per epoch: {shown}"]
    return out, out_written, notes


def read_scalars(path: Path) -> EpochTable:
    require_file(path, (".json", ".jsonl"))
    records = LogFile(path).json_lines
    if not records or not any("step" in r for r in records):
        raise Declined("not JSON Lines with a `step` key")
    if any("mode" in r for r in records):
        raise Declined("records carry `mode` (MMCV 1.x)")
    values, written = _frames(records)
    marks = [c for c in ("lr", "loss", "epoch") if c in written]
    if not marks:
        raise Declined("no training lines (`lr`, `loss` or `epoch`)")
    train = written[marks].any(axis=1).to_numpy()
    steps = values["step"]
    notes: list[str] = []
    if "epoch" in values and values["epoch"].notna().any():
        epochs = values["epoch"].where(train, steps)  # a val line's step is its epoch
        numbering = "file"
    else:  # iteration-based: validation rounds, the train lines before each belong to it
        rounds = np.sort(steps[~train].to_numpy(dtype=float))
        if rounds.size == 0:
            raise Declined("no validation lines and no `epoch` key")
        at = np.searchsorted(rounds, steps.to_numpy(dtype=float))
        epochs = pd.Series(np.where(at < len(rounds), at + 1, np.nan), index=values.index)
        numbering = "rows"
        shown = ", ".join(str(int(r)) for r in rounds[:3])
        notes.append(
            f"iteration-based run: validation rounds counted from 1 (at iterations {shown}, …)"
        )
    out, out_written, fold_notes = _fold(values, written, epochs, train, path)
    return table(
        out,
        out_written,
        format=SCALARS_NAME,
        log=path,
        numbering=numbering,
        notes=notes + fold_notes,
    )


def read_mmcv(path: Path) -> EpochTable:
    require_file(path, (".json", ".jsonl"))
    records = LogFile(path).json_lines
    if not records or not any(r.get("mode") in ("train", "val") for r in records):
        raise Declined("not JSON Lines with `mode: train|val` records")
    records = [r for r in records if r.get("mode") in ("train", "val")]
    values, written = _frames(records)
    train = np.array([r["mode"] == "train" for r in records])
    if "epoch" not in values:
        raise Declined("records carry no `epoch`")
    out, out_written, notes = _fold(values, written, values["epoch"], train, path)
    return table(out, out_written, format=MMCV_NAME, log=path, notes=notes)
