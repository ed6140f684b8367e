"""TensorBoard event files: any tag names, any nesting.

Every folder below the path that holds event files is read with TensorBoard's own
`EventAccumulator`; with several folders (Keras writes `train/` and `validation/`, a
`SummaryWriter` per stage writes `runs/x/train`, `runs/x/val`) each tag is prefixed
with its folder (`validation/epoch_loss`). Steps become epochs by the logged `epoch`
scalar (Lightning) or by the sparsest tags (`base.epochs_of_steps`); a tag logged more
than once in an epoch is averaged over it, except LRs (the last value).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ocec_lightning.analysis.logs.base import (
    OTHER_STAGES,
    Declined,
    EpochTable,
    epochs_of_steps,
    fold,
    several_per_epoch,
    table,
    wide_by_step,
)

NAME = "TensorBoard event files"
EVENTS = "events.out.tfevents*"
LR_NAME = re.compile(r"(^|[/_\-])lr($|[/_\-])|learning[_-]?rate", re.IGNORECASE)


def event_dirs(path: Path) -> list[Path]:
    """Folders holding event files at or below `path` (a file: its folder)."""
    if path.is_file():
        if not path.name.startswith("events.out.tfevents"):
            raise Declined("not an events.out.tfevents file")
        return [path.parent]
    if not path.is_dir():
        raise Declined("not a file or directory")
    found = sorted({p.parent for p in path.rglob(EVENTS)})
    if not found:
        raise Declined("no events.out.tfevents files below it")
    return found


def _scalars(folder: Path, prefix: str, only: Path | None) -> list[tuple[float, str, float]]:
    from tensorboard.backend.event_processing.event_accumulator import (  # heavy import
        SCALARS,
        EventAccumulator,
    )

    accumulator = EventAccumulator(str(only or folder), size_guidance={SCALARS: 0})
    accumulator.Reload()
    return [
        (float(event.step), f"{prefix}{tag}", float(event.value))
        for tag in accumulator.Tags().get("scalars", [])
        for event in accumulator.Scalars(tag)
    ]


def read(path: Path) -> EpochTable:
    folders = event_dirs(path)
    root = path.parent if path.is_file() else path
    records: list[tuple[float, str, float]] = []
    for folder in folders:
        relative = folder.relative_to(root).as_posix()
        prefix = "" if len(folders) == 1 or relative == "." else f"{relative}/"
        records += _scalars(folder, prefix, path if path.is_file() else None)
    long = pd.DataFrame(records, columns=["step", "key", "value"])
    # Other stages' values (`test/*` after fit) are not curves, and their step is not an epoch.
    long = long[~long["key"].str.contains(OTHER_STAGES)]
    if long.empty:
        empty = pd.DataFrame(index=pd.Index([], name="epoch"))
        return table(empty, empty.astype(bool), format=NAME, log=path)
    values, written = wide_by_step(long)
    epochs, how, numbering = epochs_of_steps(values)
    epoch_keys = [c for c in values.columns if c == "epoch" or c.endswith("/epoch")]
    values, written = values.drop(columns=epoch_keys), written.drop(columns=epoch_keys)
    averaged = several_per_epoch(written, epochs, skip=[c for c in values if LR_NAME.search(c)])
    out, out_written = fold(values, written, epochs, averaged)
    notes = [how]
    if len(folders) > 1:
        notes.append(f"{len(folders)} event folders: tags prefixed with their folder")
    if averaged:
        shown = ", ".join(f"`{c}`" for c in averaged[:3])
        notes.append(f"tags logged per step averaged per epoch: {shown}")
    return table(out, out_written, format=NAME, log=path, numbering=numbering, notes=notes)
