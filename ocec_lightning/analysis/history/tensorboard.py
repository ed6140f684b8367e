"""TensorBoard event files: any tag names, any nesting.

Every folder below the path that holds event files is read with TensorBoard's own
`EventAccumulator`; with several folders (Keras writes `train/` and `validation/`, a
`SummaryWriter` per stage writes `runs/x/train`, `runs/x/val`) each tag is prefixed
with its folder (`validation/epoch_loss`). Steps become epochs by the logged `epoch`
scalar (Lightning) or by the sparsest tags (`base.epochs_of_steps`); a tag logged more
than once in an epoch is averaged over it, except LRs (the last value).
"""

from __future__ import annotations

from pathlib import Path

from ocec_lightning.analysis.history.base import (
    Declined,
    EpochTable,
    step_records_table,
)

NAME = "TensorBoard event files"
EVENTS = "events.out.tfevents*"


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
    notes = [f"{len(folders)} event folders: tags prefixed with their folder"]
    return step_records_table(
        records, format=NAME, log=path, notes=notes if len(folders) > 1 else []
    )
