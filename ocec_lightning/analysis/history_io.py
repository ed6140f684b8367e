"""Read a run's per-epoch `History` from whatever wrote it: `load_history(path)`.

Formats: our run directories (`csv/metrics.csv` of Lightning's CSVLogger + `config.yaml`
+ `summary.json`), any `metrics.csv`, TensorBoard event dirs, CSV with an epoch column,
JSON (dict of per-epoch lists, list of per-epoch records, JSON Lines). Parsing is left
to libraries: pandas (CSV/JSON), TensorBoard's `EventAccumulator`, PyYAML. Hand-written
is what no library knows: folding Lightning's step rows into epochs, mapping TensorBoard
steps to epochs, the name patterns that pick the roles, the config keys of `RunSettings`.

Per epoch, the last non-NaN value wins (duplicate epochs of a resumed run, Lightning's
separate train and val rows); `*_step` series without an `*_epoch` twin are averaged;
the LR is the last value logged during the epoch (the LR that produced the weights
validated at its end). Lightning's `test/*` series are dropped (one value, not a curve).
A file still being written is read up to its last complete line.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ocec_lightning.analysis.history import History, RunSettings
from ocec_lightning.errors import DataError

EPOCH_COLUMNS = ("epoch", "Epoch", "EPOCH", "epochs", "ep")
CONFIG_FILES = ("config.yaml", "config.json", ".hydra/config.yaml")
LOGGER_DIRS = ("csv", "tensorboard", "logs", "lightning_logs")
LOSS_WORDS = re.compile(r"loss|error|(^|[/_\-])(err|mae|mse|rmse|nll|ce)($|[/_\-])", re.I)
VAL_WORDS = re.compile(r"(^|[/_\-])(val|valid|validation|eval|dev)([/_\-]|$)", re.I)
TRAIN_WORDS = re.compile(r"(^|[/_\-])(train|training|tr)([/_\-]|$)", re.I)
# Auto-picked scores by preference, each with the reason shown in `History.picked`.
SCORES = (
    (re.compile(r"f1|f_?score|f-score|dice", re.I), "F-score name"),
    (re.compile(r"m?iou|jaccard", re.I), "IoU name"),
    (re.compile(r"acc", re.I), "accuracy name"),
    (re.compile(r"auroc|auc|(^|[/_])ap($|_)|map", re.I), "AUC/AP name"),
    (re.compile(r"precision|recall|score", re.I), "score name"),
)
LR_KEY = re.compile(r"^(lr|learning[_-]?rate)$|^lr[-_/]|[/_\-]lr$|learning[_-]?rate", re.I)
NOT_LR = re.compile(r"momentum|beta|weight[_-]?decay", re.I)


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
    log, reader = _locate(path)
    frame = reader(log)
    if frame.empty or frame.shape[1] == 0:
        raise DataError(f"{log}: no per-epoch values logged yet; expected at least one epoch row")
    settings = read_settings(path if path.is_dir() else path.parent)
    history = History(
        source=str(path),
        epochs=frame.index.to_numpy(dtype=int),
        series={str(c): frame[c].to_numpy(dtype=float) for c in frame.columns},
        roles={},
        picked={},
        settings=settings,
        wall_seconds=_wall_seconds(path if path.is_dir() else path.parent),
    )
    given = {"monitor": monitor, "train_loss": train_loss, "val_loss": val_loss, "lr": lr}
    _assign_roles(history, given, mode, log)
    return history


def locate_log(path: str | Path) -> Path:
    """The log file or event dir `load_history(path)` reads (for watching it change)."""
    return _locate(Path(path))[0]


def _locate(path: Path) -> tuple[Path, Any]:
    """The log file / event dir to read under `path`, and its reader."""
    if path.is_file():
        if path.name.startswith("events.out.tfevents"):
            return path, _read_tensorboard
        if path.suffix.lower() in (".json", ".jsonl"):
            return path, _read_json
        return path, _read_csv
    if (path / "csv" / "metrics.csv").is_file():
        return path / "csv" / "metrics.csv", _read_csv
    csvs = sorted(path.rglob("metrics.csv"))
    if len(csvs) == 1:
        return csvs[0], _read_csv
    events = sorted({p.parent for p in path.rglob("events.out.tfevents*")})
    if len(events) == 1:
        return events[0], _read_tensorboard
    if csvs or events:
        found = ", ".join(str(p) for p in (csvs or events)[:5])
        raise DataError(f"{path}: holds several logs ({found}); pass one of them")
    raise DataError(f"{path}: no metrics found; expected csv/metrics.csv or a TB event dir")


def _complete_text(path: Path) -> str:
    """The file's text up to its last complete line (a writer may be mid-line)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if text and not text.endswith("\n") and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns as floats (non-numbers -> NaN); columns with no number at all dropped."""
    out = frame.apply(pd.to_numeric, errors="coerce").astype(float)
    keep = [c for c in out.columns if out[c].notna().any() or frame[c].isna().all()]
    return out[keep]


def _per_epoch(frame: pd.DataFrame, epoch_col: str) -> pd.DataFrame:
    """One row per epoch: last non-NaN value per column (duplicates: last wins)."""
    frame = frame[frame[epoch_col].notna()]
    frame = frame.assign(**{epoch_col: frame[epoch_col].astype(int)})
    out = frame.groupby(epoch_col, sort=True).last()
    out.index.name = "epoch"
    return out


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(io.StringIO(_complete_text(path)))
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a readable CSV ({err})") from err
    epoch_col = next((c for c in EPOCH_COLUMNS if c in raw.columns), None)
    if epoch_col is None:
        raise DataError(
            f"{path}: no epoch column; expected one named {' / '.join(EPOCH_COLUMNS[:5])} "
            f"(columns: {', '.join(map(str, raw.columns[:10]))})"
        )
    frame = _numeric(raw)
    if "step" in frame.columns:  # Lightning's CSVLogger: rows per logging step (or TB)
        return _fold_lightning(frame, epoch_col)
    return _per_epoch(frame, epoch_col)


def _fold_lightning(frame: pd.DataFrame, epoch_col: str) -> pd.DataFrame:
    """Lightning rows (per step and per epoch) folded into one row per epoch.

    Rows without an epoch (LearningRateMonitor logs only the step) get the epoch of the
    first row at or after their step; rows past the last known step are left out. Step
    series with an `_epoch` twin are dropped, those without one are averaged."""
    frame = frame.drop(columns=[c for c in frame.columns if str(c).startswith("test/")])
    known = frame[frame[epoch_col].notna() & frame["step"].notna()].sort_values("step")
    missing = frame[epoch_col].isna() & frame["step"].notna()
    if missing.any() and len(known):
        at = np.searchsorted(known["step"].to_numpy(), frame.loc[missing, "step"].to_numpy())
        epochs = np.full(len(at), np.nan)
        inside = at < len(known)
        epochs[inside] = known[epoch_col].to_numpy()[at[inside]]
        frame.loc[missing, epoch_col] = epochs
    stepwise = [c for c in frame.columns if c.endswith("_step") and not LR_KEY.search(c)]
    twins = [c for c in stepwise if f"{c[: -len('_step')]}_epoch" in frame.columns]
    frame = frame.drop(columns=[*twins, "step"])
    averaged = [c for c in stepwise if c not in twins]
    out = _per_epoch(frame.drop(columns=averaged), epoch_col)
    if averaged:
        means = frame[frame[epoch_col].notna()].groupby(frame[epoch_col].astype(float))[averaged]
        out[averaged] = means.mean().reindex(out.index.astype(float)).to_numpy()
    return out.dropna(how="all")


def _read_json(path: Path) -> pd.DataFrame:
    text = _complete_text(path)
    expected = "expected a dict of per-epoch lists or a list of per-epoch records"
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:  # JSON Lines (one record per line)?
        try:
            data = pd.read_json(io.StringIO(text), lines=True).to_dict("records")
        except ValueError as err:
            raise DataError(f"{path}: not valid JSON; {expected}") from err
    if isinstance(data, dict):
        lists = {k: v for k, v in data.items() if isinstance(v, list)}
        nested = [v for v in data.values() if isinstance(v, dict)]
        if not lists and len(nested) == 1:  # {"history": {"loss": [...]}}
            lists = {k: v for k, v in nested[0].items() if isinstance(v, list)}
        if not lists:
            raise DataError(f"{path}: no per-epoch lists; {expected}")
        length = max(len(v) for v in lists.values())  # shorter lists: NaN at the end
        frame = pd.DataFrame({k: list(v) + [None] * (length - len(v)) for k, v in lists.items()})
    elif isinstance(data, list) and all(isinstance(r, dict) for r in data):
        frame = pd.DataFrame.from_records(data)
    else:
        raise DataError(f"{path}: {expected}")
    frame = _numeric(frame)
    epoch_col = next((c for c in EPOCH_COLUMNS if c in frame.columns), None)
    if epoch_col is None:
        return frame.set_axis(pd.RangeIndex(len(frame), name="epoch"), axis=0)
    return _per_epoch(frame, epoch_col)


def _read_tensorboard(path: Path) -> pd.DataFrame:
    """Scalars of an event dir / file, folded like Lightning's CSV rows.

    With an `epoch` scalar (Lightning logs one) each step takes its epoch. Without it,
    the sparsest tags set the epochs: their steps are the epochs when they count
    0, 1, 2, ...; otherwise a step's index among them is its epoch."""
    from tensorboard.backend.event_processing.event_accumulator import (  # heavy import
        SCALARS,
        EventAccumulator,
    )

    accumulator = EventAccumulator(str(path), size_guidance={SCALARS: 0})
    accumulator.Reload()
    records = [
        (event.step, tag, event.value)
        for tag in accumulator.Tags().get("scalars", [])
        for event in accumulator.Scalars(tag)
    ]
    if not records:
        return pd.DataFrame()
    long = pd.DataFrame(records, columns=["step", "tag", "value"])
    wide = long.groupby(["step", "tag"])["value"].last().unstack().reset_index()
    wide.columns.name = None
    if "epoch" not in wide.columns:
        counts = long.groupby("tag")["step"].nunique()
        sparse = long[long["tag"].isin(counts[counts == counts.min()].index)]
        ref = np.sort(sparse["step"].unique())
        consecutive = np.array_equal(ref, np.arange(ref[0], ref[0] + len(ref)))
        epochs = ref if consecutive else np.arange(len(ref))
        wide["epoch"] = wide["step"].map(dict(zip(ref.tolist(), epochs.tolist(), strict=True)))
    return _fold_lightning(wide.astype(float), "epoch")


def _beside(directory: Path) -> list[Path]:
    """Folders that may hold the run's config / summary: the log's own folder, and the
    run directory above it when the log sits in a logger's folder (`csv/`, ...)."""
    logger_dir = directory.name in LOGGER_DIRS or re.fullmatch(r"version_\d+", directory.name)
    return [directory, directory.parent] if logger_dir else [directory]


def _load_config(directory: Path) -> tuple[dict[str, Any], Path] | None:
    """The first config file beside the log (see `_beside`)."""
    for candidate in (folder / name for folder in _beside(directory) for name in CONFIG_FILES):
        try:
            text = candidate.read_text(encoding="utf-8")
            data = json.loads(text) if candidate.suffix == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            return data, candidate
    return None


def _find(data: dict[str, Any], dotted: tuple[str, ...], names: tuple[str, ...]) -> Any:
    """A value by exact dotted path first, else the first key among `names` anywhere."""
    for path in dotted:
        node: Any = data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            return node
    queue: list[Any] = [data]
    while queue:
        node = queue.pop(0)
        for key, value in node.items():
            if key in names and value is not None and not isinstance(value, dict | list):
                return value
        queue.extend(v for v in node.values() if isinstance(v, dict))
    return None


def _number(value: Any, kind: type = float) -> Any:
    try:
        return kind(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def read_settings(directory: str | Path) -> RunSettings | None:
    """`RunSettings` from the config in `directory` (or the run dir above a logger's)."""
    found = _load_config(Path(directory))
    if found is None:
        return None
    data, source = found
    scheduler = _find(data, ("scheduler", "lr_scheduler"), ())
    if not isinstance(scheduler, dict):
        scheduler = _find(data, ("training.adaptive_lr_config", "adaptive_lr_config"), ())
    if isinstance(scheduler, dict):  # foreign names (seed 003) -> ours
        scheduler = dict(scheduler)
        kind = scheduler.get("scheduler_type", scheduler.get("type"))
        if kind is not None:
            scheduler.setdefault("name", kind)
        if "warmup" not in scheduler and scheduler.get("warmup_epochs"):
            scheduler["warmup"] = {"epochs": scheduler["warmup_epochs"]}
    monitor = _find(data, ("task.monitor", "callbacks.model_checkpoint.monitor", "monitor"), ())
    mode = _find(data, ("task.monitor_mode", "callbacks.model_checkpoint.mode"), ())
    epochs = _find(data, ("trainer.max_epochs",), ("max_epochs", "epochs", "num_epochs"))
    patience = _find(data, ("callbacks.early_stopping.patience",), ("early_stopping_patience",))
    return RunSettings(
        max_epochs=_number(epochs, int),
        lr=_number(_find(data, ("optimizer.lr",), ("lr", "learning_rate", "lr_first"))),
        scheduler=scheduler if isinstance(scheduler, dict) else None,
        early_stopping_patience=_number(patience, int),
        monitor=str(monitor) if monitor is not None else None,
        monitor_mode=str(mode) if mode in ("min", "max") else None,
        source=str(source),
        raw=data,
    )


def _wall_seconds(directory: Path) -> float | None:
    """`seconds` of the run's `summary.json` (written when the run ended)."""
    for summary in (folder / "summary.json" for folder in _beside(directory)):
        try:
            return _number(json.loads(summary.read_text(encoding="utf-8")).get("seconds"))
        except (OSError, ValueError, AttributeError):
            continue
    return None


def infer_mode(key: str) -> str:
    """`min` for losses and errors, `max` for scores."""
    return "min" if LOSS_WORDS.search(key) else "max"


def _auto_loss(keys: list[str], words: re.Pattern[str]) -> str | None:
    losses = [k for k in keys if "loss" in k.lower() and words.search(k)]
    if words is TRAIN_WORDS and not losses:
        losses = [k for k in keys if k.lower() == "loss"]
    # Prefer epoch-level over step-level names, then the shortest name.
    ranked = sorted(losses, key=lambda k: (k.endswith("_step"), not k.endswith("_epoch"), len(k)))
    return ranked[0] if ranked else None


def _auto_monitor(keys: list[str]) -> tuple[str, str] | None:
    scores = [k for k in keys if not LOSS_WORDS.search(k) and not LR_KEY.search(k)]
    val_scores = [k for k in scores if VAL_WORDS.search(k)]
    untagged = [k for k in scores if not TRAIN_WORDS.search(k)]  # `f1` in a foreign log
    for group, where in ((val_scores, ""), (untagged, ", no val prefix")):
        for pattern, why in SCORES:
            matches = [k for k in group if pattern.search(k)]
            if matches:
                return min(matches, key=len), f"auto: {why}{where}"
    val_loss = _auto_loss(keys, VAL_WORDS)
    if val_loss:
        return val_loss, "auto: no val score, val loss"
    train = _auto_loss(keys, TRAIN_WORDS)
    return (train, "auto: no val series, train loss") if train else None


def _assign_roles(history: History, given: dict[str, str | None], mode: str | None, log: Path):
    keys = list(history.series)
    for role, key in given.items():
        if key is not None and key not in keys:
            raise DataError(f"{log}: {role}={key!r} is not logged; logged keys: {', '.join(keys)}")
        if key is not None:
            history.roles[role], history.picked[role] = key, "given"
    settings = history.settings
    if given["monitor"] is None:
        if settings and settings.monitor in keys:
            key, why = settings.monitor, "config task.monitor"
        else:
            found = _auto_monitor(keys)
            if found is None:
                raise DataError(f"{log}: no metric to monitor; logged keys: {', '.join(keys)}")
            key, why = found
        history.roles["monitor"], history.picked["monitor"] = key, f"{key} ({why})"
    auto = {
        "train_loss": (_auto_loss(keys, TRAIN_WORDS), "train loss name"),
        "val_loss": (_auto_loss(keys, VAL_WORDS), "val loss name"),
        "lr": (_auto_lr(keys), "LR name"),
    }
    for role, (key, what) in auto.items():
        if given[role] is None:
            history.roles[role] = key
            history.picked[role] = f"{key} (auto: {what})" if key else f"none (auto: no {what})"
    if mode is not None:
        if mode not in ("min", "max"):
            raise DataError(f"{log}: mode={mode!r} is invalid; expected 'min' or 'max'")
        history.mode = mode
    elif settings and settings.monitor_mode and settings.monitor == history.monitor:
        history.mode = settings.monitor_mode
    else:
        history.mode = infer_mode(history.monitor)


def _auto_lr(keys: list[str]) -> str | None:
    """The first param group's LR (`lr-AdamW`, `lr-AdamW/pg1`, `lr`, `learning_rate`)."""
    lrs = [k for k in keys if LR_KEY.search(k) and not NOT_LR.search(k)]
    return min(lrs, key=lambda k: (len(k), k)) if lrs else None
