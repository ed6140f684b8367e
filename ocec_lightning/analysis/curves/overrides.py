"""Runnable Hydra overrides for this package's config, built from a run's own config.

The diagnoses suggest changes as complete override lines; this module makes sure they
run: a key is suggested only when the run's config has it (`has`), values are printed
so Hydra parses them (`num`), a split change keeps the three ratios summing to 1, and a
scheduler switch deletes (`~scheduler.<key>`) the keys an experiment or preset of the run
set that the new scheduler does not take (`preset=seg_slow_decay` sets scheduler.T_max,
which `scheduler=cosine_warm_restarts` would otherwise receive and reject). The run's
experiment / preset come from Hydra's `.hydra/overrides.yaml` beside its config.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from ocec_lightning.analysis.curves.analysis import CurveAnalysis

GROUPS_WITH_SCHEDULER_KEYS = ("experiment", "preset")


def num(value: float) -> str:
    """A Hydra-parsable number with two significant digits (8e-05, 0.0002, 0.2)."""
    return f"{value:.2g}"


_MISSING = object()


def _lookup(a: CurveAnalysis, dotted: str) -> Any:
    node: Any = a.settings.raw if a.settings else {}
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def raw(a: CurveAnalysis, dotted: str) -> Any:
    """The run's config value at `dotted` (None when absent)."""
    value = _lookup(a, dotted)
    return None if value is _MISSING else value


def has(a: CurveAnalysis, dotted: str) -> bool:
    """The key is in the run's config (or no config was found: suggest it anyway)."""
    return not (a.settings and a.settings.raw) or _lookup(a, dotted) is not _MISSING


# Our override key -> the `RunSettings` field read from a foreign config: a suggestion
# for a run configured by another tool names the key that tool's config uses.
SETTING_OF_KEY = {
    "trainer.max_epochs": "max_epochs",
    "optimizer.lr": "lr",
    "scheduler.warmup.epochs": "warmup_epochs",
    "callbacks.early_stopping.patience": "early_stopping_patience",
}


def key_for(a: CurveAnalysis, ours: str) -> str:
    """`ours` (e.g. `trainer.max_epochs`), or the key the run's foreign config used for
    the same setting (`training.epochs`)."""
    s = a.settings
    setting = SETTING_OF_KEY.get(ours)
    if s is None or not s.foreign or setting is None or setting not in s.keys:
        return ours
    return s.keys[setting].split(" = ", 1)[0]


def in_run_names(a: CurveAnalysis, line: str) -> str:
    """An override line in the run's own config's names when every key of it has a
    counterpart there (`trainer.max_epochs=120` -> `training.epochs=120`); otherwise the
    line stays in ours, whole (a half-translated line would run nowhere)."""
    tokens = [token.partition("=") for token in line.split(" ")]
    renamed = [key_for(a, key) for key, _, _ in tokens]
    if any(new == key for new, (key, _, _) in zip(renamed, tokens, strict=True)):
        return line
    return " ".join(f"{new}={value}" for new, (_, _, value) in zip(renamed, tokens, strict=True))


def ceil(value: float, step: int = 10) -> int:
    return int(math.ceil(value / step) * step)


def base_lr(a: CurveAnalysis) -> float | None:
    return (a.settings.lr if a.settings else None) or (a.lr.peak if a.lr else None)


def stopped_early(a: CurveAnalysis) -> bool:
    s, n = a.schedule, len(a.epochs)
    if not s or not s.patience or not s.max_epochs or n >= s.max_epochs or not a.overfit:
        return False
    if s.early_stopping is False:
        return False
    return a.overfit.epochs_after_best >= max(1, s.patience - 1)


def longer_patience(a: CurveAnalysis) -> int:
    s = a.schedule
    patience = int(s.patience or 10) if s else 10
    target = max(2 * patience, ceil(((a.best_index or 0) + 1) / 2))
    if s and s.plateau_patience:
        target = max(target, 2 * int(s.plateau_patience) + 1)
    if s and s.restart_period:
        target = max(target, 2 * int(s.restart_period))
    return min(100, target)


def patience_can_grow(a: CurveAnalysis) -> bool:
    """A longer early-stopping patience is something to suggest (below the cap)."""
    s = a.schedule
    return not (s and s.patience) or longer_patience(a) > int(s.patience)


def regularise(a: CurveAnalysis, factor: float) -> list[str]:
    """Stronger (factor > 1) or weaker (< 1) dropout and weight decay."""
    out = []
    for key in ("model.dropout", "model.drop_rate"):  # our models | timm
        if has(a, key) and (key == "model.dropout" or raw(a, key) is not None):
            value = raw(a, key)
            now = 0.1 if value is None else float(value)
            if factor > 1:
                out.append(f"{key}={num(min(0.5, now + 0.05))}")
            elif now > 0:
                out.append(f"{key}={num(now / 2)}")
            break
    if has(a, "optimizer.weight_decay"):
        now = float(raw(a, "optimizer.weight_decay") or 0.0)
        if now > 0 or factor > 1:
            out.append(f"optimizer.weight_decay={num(now * factor if now > 0 else 5e-4)}")
    return out


def warm_restarts(a: CurveAnalysis) -> str:
    t0 = max(5, int(round(((a.best_index or 0) + 1) / 3 / 5) * 5))
    line = f"{switch_scheduler(a, 'cosine_warm_restarts')} scheduler.T_0={t0} scheduler.T_mult=2"
    if a.schedule and a.schedule.warmup_epochs:
        line += f" scheduler.warmup.epochs={a.schedule.warmup_epochs}"
    if a.schedule and a.schedule.patience and a.schedule.patience < 2 * t0:
        line += f" callbacks.early_stopping.patience={2 * t0}"
    return line


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, yaml.YAMLError):
        return None


def carried_scheduler_keys(a: CurveAnalysis) -> dict[str, Any]:
    """Scheduler keys (and values) set by the run's experiment / preset: Hydra merges them
    into whichever scheduler the command line picks."""
    from ocec_lightning.config import conf_dir

    source = a.settings.source if a.settings else None
    overrides = _yaml(Path(source).parent / ".hydra" / "overrides.yaml") if source else None
    keys: dict[str, Any] = {}
    for item in overrides if isinstance(overrides, list) else []:
        group, _, option = str(item).lstrip("+").partition("=")
        if group in GROUPS_WITH_SCHEDULER_KEYS and option:
            node = _yaml(Path(conf_dir()) / group / f"{option}.yaml")
            scheduler = node.get("scheduler") if isinstance(node, dict) else None
            keys.update(scheduler if isinstance(scheduler, dict) else {})
    return keys


def switch_scheduler(a: CurveAnalysis, name: str) -> str:
    """`scheduler=<name>` plus the deletions that keep it valid after an experiment (Hydra
    cannot delete a null value, so a null one is set to 0 first)."""
    from ocec_lightning.config import conf_dir

    own = set(_yaml(Path(conf_dir()) / "scheduler" / f"{name}.yaml") or {}) | {"warmup"}
    parts = [f"scheduler={name}"]
    for key, value in sorted(carried_scheduler_keys(a).items()):
        if key not in own:
            parts += [f"scheduler.{key}=0"] if value is None else []
            parts.append(f"~scheduler.{key}")
    return " ".join(parts)


def val_split(a: CurveAnalysis) -> str | None:
    """Double the validation share (taking it from train, which keeps >= 0.5)."""
    splits = raw(a, "data.splits")
    if not isinstance(splits, dict) or not {"train", "val", "test"} <= set(splits):
        return None
    train, val, test = (float(splits[k]) for k in ("train", "val", "test"))
    new_val = min(2 * val, val + train - 0.5)
    if new_val - val <= 0.01:
        return None
    new_train = round(train + val - new_val, 4)
    new_val = round(1.0 - new_train - test, 4)
    return f"data.splits.train={new_train:g} data.splits.val={new_val:g} data.splits.test={test:g}"
