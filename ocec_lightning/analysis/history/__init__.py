"""A run's per-epoch `History` (`model.py`), read from whatever wrote it: `load_history(path)`.

One reader per format, each in its own module, tried in the order of `READERS`; each
one either reads the path or declines with its reason (`base.Declined`), and when all
decline the error lists every reason. A folder is first looked into for the file a
known tool writes there (`LOG_NAMES`), then read as a run folder (ours, MLflow,
TensorBoard). The config beside the log gives the run's settings (`settings.py`), and
`roles.py` picks the monitored metric, the losses and the LR. Formats: our run
directories; Lightning `CSVLogger`; TensorBoard event dirs; MLflow runs; Hugging Face
`trainer_state.json`; Keras `history.history` JSON and `CSVLogger`; Ultralytics
`results.csv`; MMEngine `scalars.json` and MMCV 1.x `*.log.json`; timm `summary.csv`;
W&B exported CSV; any CSV / TSV; any JSON history.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocec_lightning.analysis.history import (
    generic_csv,
    generic_json,
    huggingface,
    keras,
    lightning_csv,
    mlflow_run,
    mmengine,
    run_dir,
    tensorboard,
    timm_summary,
    ultralytics,
    wandb_export,
)
from ocec_lightning.analysis.history.base import Declined, EpochTable
from ocec_lightning.analysis.history.model import History, RunSettings
from ocec_lightning.analysis.history.roles import assign_roles, infer_mode
from ocec_lightning.analysis.history.settings import merge, read_settings
from ocec_lightning.errors import DataError

__all__ = [
    "READERS",
    "History",
    "Reader",
    "RunSettings",
    "infer_mode",
    "load_history",
    "locate_log",
    "read_settings",
]


@dataclass(frozen=True)
class Reader:
    name: str
    read: Callable[[Path], EpochTable]


READERS: tuple[Reader, ...] = (
    Reader(run_dir.NAME, run_dir.read),
    Reader(huggingface.NAME, huggingface.read),
    Reader(mmengine.MMCV_NAME, mmengine.read_mmcv),
    Reader(mmengine.SCALARS_NAME, mmengine.read_scalars),
    Reader(keras.JSON_NAME, keras.read_json),
    Reader(generic_json.NAME, generic_json.read),
    Reader(lightning_csv.NAME, lightning_csv.read),
    Reader(ultralytics.NAME, ultralytics.read),
    Reader(timm_summary.NAME, timm_summary.read),
    Reader(wandb_export.NAME, wandb_export.read),
    Reader(keras.CSV_NAME, keras.read_csv),
    Reader(generic_csv.NAME, generic_csv.read),
    Reader(mlflow_run.NAME, mlflow_run.read),
    Reader(tensorboard.NAME, tensorboard.read),
)
# Files known tools write into a run folder, looked for up to three levels down.
LOG_NAMES = re.compile(
    r"^(metrics\.csv|trainer_state\.json|results\.csv|summary\.csv|scalars\.json"
    r"|.+\.log\.json|history\.json|training\.log|log\.csv)$"
)
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _known_log(folder: Path) -> Path | None:
    """The one log file a known tool wrote below `folder` (HF: the top-level state, else
    the latest checkpoint's), None when there is none; several: an error."""
    found = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and LOG_NAMES.match(p.name) and len(p.relative_to(folder).parts) <= 4
    )
    states = [p for p in found if p.name == "trainer_state.json"]
    if states:
        top = [p for p in states if p.parent == folder]
        ranked = sorted(
            states,
            key=lambda p: (
                int(CHECKPOINT.match(p.parent.name)[1]) if CHECKPOINT.match(p.parent.name) else -1
            ),
        )
        found = [p for p in found if p.name != "trainer_state.json"] + [(top or ranked)[-1]]
    if len(found) > 1:
        shown = ", ".join(str(p.relative_to(folder)) for p in found[:5])
        raise DataError(f"{folder}: holds several logs ({shown}); pass one of them")
    return found[0] if found else None


def read_table(path: Path) -> EpochTable:
    """The `EpochTable` of the first reader that does not decline `path`."""
    if path.is_dir():
        try:
            return run_dir.read(path)
        except Declined:
            pass
        if not any(path.rglob("events.out.tfevents*")) and not any(path.rglob("meta.yaml")):
            log = _known_log(path)
            if log is not None:
                return read_table(log)
    reasons = []
    for reader in READERS:
        try:
            return reader.read(path)
        except Declined as why:
            reasons.append(f"{reader.name}: {why}")
    kind = "folder" if path.is_dir() else "file"
    # Readers that refused only the kind of path (suffix, file vs folder) say nothing.
    relevant = [r for r in reasons if not re.search(r": not (a|an) (directory|file|\.)", r)]
    reasons = relevant or reasons
    found = "no metrics found" if kind == "folder" else "no reader recognises this file"
    raise DataError(
        f"{path}: {found}; expected a run directory, a metrics CSV, a JSON log or a "
        f"TensorBoard / MLflow dir ({'; '.join(reasons)})"
    )


def locate_log(path: str | Path) -> Path:
    """The log file or event dir `load_history(path)` reads (for watching it change)."""
    return read_table(Path(path)).log


def load_history(
    path: str | Path,
    *,
    monitor: str | None = None,
    mode: str | None = None,
    train_loss: str | None = None,
    val_loss: str | None = None,
    lr: str | None = None,
) -> History:
    """The per-epoch history at `path`, roles auto-detected unless given by keyword."""
    path = Path(path)
    if not path.exists():
        raise DataError(
            f"{path}: no such file or directory; expected a run directory, a metrics CSV, "
            "a JSON log or a TensorBoard event dir"
        )
    found = read_table(path)
    if found.values.empty or found.values.shape[1] == 0:
        raise DataError(
            f"{found.log}: no per-epoch values logged yet; expected at least one epoch row"
        )
    folder = found.log if found.log.is_dir() else found.log.parent
    settings = merge(read_settings(folder), found.settings)
    if found.status is None and found.wall_seconds is None:
        summary = run_dir.summary_beside(folder)
        found.status = summary.get("status") if isinstance(summary.get("status"), str) else None
        seconds = summary.get("seconds")
        found.wall_seconds = float(seconds) if isinstance(seconds, int | float) else None
    columns = [str(c) for c in found.values.columns]
    history = History(
        source=str(path),
        epochs=found.values.index.to_numpy(dtype=int),
        series={c: found.values[c].to_numpy(dtype=float) for c in columns},
        roles={},
        picked={},
        settings=settings,
        wall_seconds=found.wall_seconds,
        format=found.format,
        log=str(found.log),
        numbering=found.numbering,
        notes=list(found.notes),
        logged={c: found.written[c].to_numpy(dtype=bool) for c in columns},
        status=found.status,
    )
    given = {"monitor": monitor, "train_loss": train_loss, "val_loss": val_loss, "lr": lr}
    assign_roles(history, given, mode, found.monitor_hint)
    for key, values in history.series.items():
        history.series[key] = np.asarray(values, dtype=float)
    return history
