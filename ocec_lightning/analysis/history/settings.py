"""`RunSettings` from the config file beside a log, under the names each tool uses.

Ours (a resolved Hydra `config.yaml`: `trainer.max_epochs`, `scheduler.*`,
`callbacks.early_stopping`), Ultralytics `args.yaml` (`epochs`, `lr0`, `lrf`, `cos_lr`,
`warmup_epochs`, `patience`), Hugging Face `TrainingArguments` dumps (`num_train_epochs`,
`learning_rate`, `lr_scheduler_type`, `warmup_ratio`/`warmup_steps`,
`metric_for_best_model`), Lightning's `hparams.yaml`, and any other training script's
YAML/JSON (`training.epochs`, `training.warmup_epochs`, `scheduler: CosineAnnealingLR`,
`early_stopping_patience: null`). Scheduler names are mapped to ours (`cosine`, `step`,
`plateau`, ...); each setting keeps the key and value it came from (`RunSettings.keys`)
so a diagnosis can say what it read and where. A key written as null
(`early_stopping_patience: null`) says "none", which is not the same as a silent config.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from ocec_lightning.analysis.history.model import RunSettings

CONFIG_FILES = (
    "config.yaml",
    "config.yml",
    "config.json",
    ".hydra/config.yaml",
    "args.yaml",
    "hparams.yaml",
    "training_args.json",
    "train_config.yaml",
    "opt.yaml",
    "args.json",
)
LOGGER_DIRS = ("csv", "tensorboard", "logs", "lightning_logs", "vis_data", "metrics")
EPOCH_NAMES = ("epochs", "num_epochs", "max_epochs", "n_epochs", "total_epochs", "num_train_epochs")
LR_NAMES = ("lr", "learning_rate", "base_lr", "lr0", "init_lr", "lr_first")
SCHEDULER_NAMES = ("scheduler", "lr_scheduler", "lr_scheduler_type", "scheduler_type", "lr_policy")
SCHEDULER_SECTIONS = ("scheduler", "lr_scheduler", "adaptive_lr_config", "scheduler_config")
PATIENCE_NAMES = ("early_stopping_patience", "es_patience", "patience_early_stopping")
# Lower-cased, non-letters removed -> our scheduler name.
SCHEDULERS = {
    "cosine": "cosine",
    "cosineannealing": "cosine",
    "cosineannealinglr": "cosine",
    "cosinewithrestarts": "cosine_warm_restarts",
    "cosineannealingwarmrestarts": "cosine_warm_restarts",
    "sgdr": "cosine_warm_restarts",
    "reducelronplateau": "plateau",
    "plateau": "plateau",
    "step": "step",
    "steplr": "step",
    "multistep": "multistep",
    "multisteplr": "multistep",
    "exponential": "exponential",
    "exponentiallr": "exponential",
    "onecycle": "onecycle",
    "onecyclelr": "onecycle",
    "linear": "linear",
    "linearlr": "linear",
    "poly": "poly",
    "polynomial": "poly",
    "polynomiallr": "poly",
    "constant": "none",
    "constantwithwarmup": "none",
    "none": "none",
}
_ABSENT = object()


def _folders(directory: Path) -> list[Path]:
    """The log's folder and, when that is a logger's folder, the run folders above it."""
    folders = [directory]
    while folders[-1].name in LOGGER_DIRS or re.fullmatch(r"version_\d+", folders[-1].name):
        folders.append(folders[-1].parent)
    return folders


def config_beside(directory: Path) -> tuple[dict[str, Any], Path] | None:
    """The first config file beside the log (see `_folders`)."""
    for candidate in (f / name for f in _folders(directory) for name in CONFIG_FILES):
        if not candidate.is_file():
            continue
        try:
            text = candidate.read_text(encoding="utf-8")
            data = json.loads(text) if candidate.suffix == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            return data, candidate
    return None


def _at(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _anywhere(data: dict[str, Any], names: tuple[str, ...]) -> tuple[Any, str] | None:
    """The first key among `names` (breadth first, names in order), as (value, dotted
    path); a null value counts (it says "none"), a dict or list does not."""
    queue: list[tuple[dict[str, Any], str]] = [(data, "")]
    while queue:
        node, prefix = queue.pop(0)
        for name in names:
            if name in node and not isinstance(node[name], dict | list):
                return node[name], f"{prefix}{name}"
        queue += [(v, f"{prefix}{k}.") for k, v in node.items() if isinstance(v, dict)]
    return None


def shown(value: Any) -> str:
    """A config value as YAML writes it (null, true, 8e-4)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def number(value: Any, kind: type = float) -> Any:
    """`value` as `kind` (YAML 1.1 reads `8e-4` as text), or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        return None


def scheduler_name(value: Any) -> str | None:
    key = re.sub(r"[^a-z]", "", str(value).lower())
    return SCHEDULERS.get(key)


def _section(data: dict[str, Any], names: tuple[str, ...]) -> tuple[dict[str, Any], str] | None:
    """The first dict under one of `names` anywhere (breadth first), with its path."""
    queue: list[tuple[dict[str, Any], str]] = [(data, "")]
    while queue:
        node, prefix = queue.pop(0)
        for name in names:
            if isinstance(node.get(name), dict):
                return dict(node[name]), f"{prefix}{name}"
        queue += [(v, f"{prefix}{k}.") for k, v in node.items() if isinstance(v, dict)]
    return None


def _ours(data: dict[str, Any], source: Path) -> RunSettings:
    scheduler = _at(data, "scheduler")
    scheduler = dict(scheduler) if isinstance(scheduler, dict) else None
    stopper = _at(data, "callbacks.early_stopping")
    patience = stopper.get("patience") if isinstance(stopper, dict) else None
    callbacks = _at(data, "callbacks")
    monitor = next(
        (
            v
            for v in (_at(data, "task.monitor"), _at(data, "callbacks.model_checkpoint.monitor"))
            if isinstance(v, str)
        ),
        None,
    )
    mode = _at(data, "task.monitor_mode")
    if mode is _ABSENT:
        mode = _at(data, "callbacks.model_checkpoint.mode")
    keys = {"max_epochs": f"trainer.max_epochs = {_at(data, 'trainer.max_epochs')}"}
    if scheduler:
        keys["scheduler"] = f"scheduler.name = {scheduler.get('name')}"
        warmup = (scheduler.get("warmup") or {}).get("epochs")
        keys["warmup_epochs"] = f"scheduler.warmup.epochs = {warmup}"
    keys["early_stopping_patience"] = f"callbacks.early_stopping.patience = {patience}"
    return RunSettings(
        max_epochs=number(_at(data, "trainer.max_epochs"), int),
        lr=number(_at(data, "optimizer.lr")),
        scheduler=scheduler,
        early_stopping_patience=number(patience, int),
        early_stopping=isinstance(stopper, dict) if isinstance(callbacks, dict) else None,
        monitor=monitor,
        monitor_mode=mode if mode in ("min", "max") else None,
        source=str(source),
        keys=keys,
        raw=data,
    )


def _foreign(data: dict[str, Any], source: Path) -> RunSettings:
    """Any other tool's names, found anywhere in the file."""
    keys: dict[str, str] = {}
    tool = "Ultralytics" if {"lr0", "lrf", "cos_lr"} <= set(data) else "foreign"
    if "num_train_epochs" in data or "lr_scheduler_type" in data:
        tool = "Hugging Face TrainingArguments"

    def find(setting: str, names: tuple[str, ...]) -> Any:
        found = _anywhere(data, names)
        if found is None:
            return _ABSENT
        keys[setting] = f"{found[1]} = {shown(found[0])}"
        return found[0]

    epochs = find("max_epochs", EPOCH_NAMES)
    lr = find("lr", LR_NAMES)
    scheduler: dict[str, Any] = {"interval": "epoch"}
    if tool == "Ultralytics":
        keys["scheduler"] = f"cos_lr = {shown(data.get('cos_lr'))}"
        scheduler["name"] = "cosine" if data.get("cos_lr") else "linear"
        scheduler["final_factor"] = number(data.get("lrf"))
    else:
        section = _section(data, SCHEDULER_SECTIONS)
        if section is not None:
            scheduler.update(section[0])
            kind = next(
                (
                    section[0][k]
                    for k in ("scheduler_type", "type", "name", "policy")
                    if isinstance(section[0].get(k), str)
                ),
                None,
            )
            keys["scheduler"] = f"{section[1]} = {kind}"
            if "patience" not in scheduler and "plateau_patience" in scheduler:
                scheduler["patience"] = scheduler["plateau_patience"]
        else:
            kind = find("scheduler", SCHEDULER_NAMES)
        if kind is not _ABSENT and kind is not None:
            scheduler["name"] = scheduler_name(kind) or str(kind)
            scheduler["given_name"] = str(kind)
        t_max = _anywhere(data, ("T_max", "t_max"))
        if t_max is not None and t_max[0] is not None:
            scheduler["T_max"] = number(t_max[0], int)
            keys["t_max"] = f"{t_max[1]} = {shown(t_max[0])}"
    warmup = scheduler.get("warmup_epochs", _ABSENT)
    if warmup is _ABSENT:
        warmup = find("warmup_epochs", ("warmup_epochs", "warmup_epoch", "num_warmup_epochs"))
    else:
        section_key = keys["scheduler"].split(" = ")[0]
        keys["warmup_epochs"] = f"{section_key}.warmup_epochs = {shown(warmup)}"
    if number(warmup) is not None:
        scheduler["warmup"] = {"epochs": number(warmup)}
    ratio = find("warmup_ratio", ("warmup_ratio",))
    if number(ratio) and number(epochs):
        scheduler["warmup"] = {"epochs": number(ratio) * number(epochs)}
    patience_found = _anywhere(data, PATIENCE_NAMES)
    stopper = _at(data, "early_stopping")
    if patience_found is None and tool == "Ultralytics":
        patience_found = (data.get("patience"), "patience")
    if patience_found is None and isinstance(stopper, dict):
        found = _anywhere(stopper, ("patience",))
        patience_found = (found[0], f"early_stopping.{found[1]}") if found else None
    patience = None
    early_stopping = None
    if patience_found is not None:
        keys["early_stopping_patience"] = f"{patience_found[1]} = {shown(patience_found[0])}"
        patience = number(patience_found[0], int)
        early_stopping = bool(patience and patience > 0)
    elif stopper is False or stopper is None and "early_stopping" in data:
        keys["early_stopping_patience"] = f"early_stopping = {shown(stopper)}"
        early_stopping = False
    metric = data.get("metric_for_best_model")
    monitor = None
    if isinstance(metric, str):
        keys["monitor"] = f"metric_for_best_model = {metric}"
        monitor = metric if metric.startswith("eval_") else f"eval_{metric}"
    greater = data.get("greater_is_better")
    return RunSettings(
        max_epochs=number(epochs, int) if epochs is not _ABSENT else None,
        lr=number(lr) if lr is not _ABSENT else None,
        scheduler=scheduler if len(scheduler) > 1 else None,
        early_stopping_patience=patience,
        early_stopping=early_stopping,
        monitor=monitor,
        monitor_mode=None if greater is None else ("max" if greater else "min"),
        source=str(source),
        tool=tool,
        keys=keys,
        raw=data,
    )


def is_ours(data: dict[str, Any]) -> bool:
    return isinstance(data.get("trainer"), dict) and (
        isinstance(data.get("task"), dict) or isinstance(data.get("optimizer"), dict)
    )


def settings_from(data: dict[str, Any], source: Path) -> RunSettings:
    """`RunSettings` of a config mapping (ours or another tool's), read from `source`."""
    return _ours(data, source) if is_ours(data) else _foreign(data, source)


def read_settings(directory: str | Path) -> RunSettings | None:
    """`RunSettings` from the config beside a log in `directory` (None: no config)."""
    found = config_beside(Path(directory))
    return None if found is None else settings_from(*found)


def merge(primary: RunSettings | None, extra: RunSettings | None) -> RunSettings | None:
    """Settings of a config file, completed by what the log itself holds (HF state)."""
    if primary is None or extra is None:
        return primary or extra
    for name in ("max_epochs", "lr", "early_stopping_patience", "early_stopping", "monitor"):
        if getattr(primary, name) is None and getattr(extra, name) is not None:
            setattr(primary, name, getattr(extra, name))
            if name in extra.keys:
                primary.keys[name] = f"{extra.keys[name]} ({Path(extra.source or '').name})"
    return primary
