"""The exact per-step LR of composed configs, several plans on one plot (`ocec-analyze lr`).

Each plan (the positional overrides, then every `--vs "overrides"`) is composed as
`ocec-train` would compose it and built with `build_run` (all config checks run); the
LR comes from stepping the objects the trainer itself uses —
`task.build_optimization(TrainingLength(...))`, then `schedule.step_optimizer()` after
every optimizer step and `schedule.step_epoch(metrics)` at every epoch end — so warmup,
scheduler, per-group scales and hand-over rules are never re-implemented here.

Steps per epoch: `--steps-per-epoch`, else the train split of a synthetic source
computed from its table (nothing drawn), else a datamodule setup (reads the data); then
Lightning's rules (drop_last, world size, `limit_train_batches`, `overfit_batches`,
`accumulate_grad_batches`, `max_steps`). Metric-driven schedulers (plateau,
adaptive_plateau) are fed a monitored value that never improves after the first epoch:
the worst case, every reduction (and, for adaptive_plateau, every stagnation boost)
fires as soon as it is due.

Epochs are Lightning's zero-based epoch indices; "LR at epoch e" is the LR of the first
optimizer step of epoch e, as % of the optimizer's LR (`optimizer.lr` after batch-size
scaling, the largest param group). With 5 warmup epochs and an epoch-interval cosine
(T_max = the rest of the run), epoch 92 is at 58.4% of a 200-epoch run and 80.0% of a
300-epoch one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ocec_lightning.errors import ConfigError

if TYPE_CHECKING:  # torch-heavy imports wait until a tool runs (`ocec-analyze -h` stays fast)
    from ocec_lightning.optim.lr_schedule import TrainingLength

# Value fed to metric-driven schedulers: constant, so it improves once (from ±inf) and never again.
NEVER_IMPROVING = 1.0
NO_VALIDATION = 10**9  # check_val_every_n_epoch for the LR finder's training-only search


@dataclass
class Plan:
    """One composed config's LR over its whole run."""

    label: str
    overrides: list[str]
    steps_per_epoch: int  # optimizer steps per epoch, as simulated
    steps_source: str  # where the steps per epoch came from
    epochs: int
    total_steps: int
    base_lr: float  # the 100% of every percentage
    warmup_steps: int
    step_lrs: np.ndarray  # LR used by optimizer step k (largest param group)
    epoch_lrs: np.ndarray  # LR of the first step of each epoch
    scheduler: str
    notes: list[str] = field(default_factory=list)

    @property
    def warmup_epochs(self) -> float:
        return self.warmup_steps / self.steps_per_epoch

    @property
    def step_epochs(self) -> np.ndarray:
        """Fractional epoch of every optimizer step (the x axis of the plot)."""
        return np.arange(len(self.step_lrs)) / self.steps_per_epoch

    def percent_at(self, epoch: int) -> float | None:
        """LR of epoch `epoch`'s first step as % of base_lr (None past the run)."""
        if not 0 <= epoch < len(self.epoch_lrs):
            return None
        return 100.0 * float(self.epoch_lrs[epoch]) / self.base_lr


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence Lightning's "GPU available…" banners and torch's "scheduler.step() before
    optimizer.step()" warning (no optimizer step is taken in a preview)."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*optimizer.step")
            warnings.filterwarnings("ignore", message=".*litlogger.*")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def train_samples(run: Any, world_size: int) -> tuple[int, str]:
    """(train samples, how they were counted) without decoding images when possible."""
    from ocec_lightning.data.sources.synthetic_base import SyntheticSourceBase
    from ocec_lightning.data.splitting import resolve_splits

    datamodule = run.datamodule
    source = datamodule.source
    if isinstance(source, SyntheticSourceBase):
        table = source.load()  # labels and subjects only: synthetic sources draw lazily
        n = int((resolve_splits(table.frame, datamodule.splits, datamodule.seed) == "train").sum())
        how = f"{type(source).__name__}: {n} of {source.num_samples} samples in train (no decoding)"
    else:
        datamodule.setup("fit")
        n = datamodule.num_samples("train")
        how = f"read from the data (datamodule setup): {n} train samples"
    return n, how + (f", {world_size} processes" if world_size > 1 else "")


def batches_to_steps(n_train: int, batch: int, trainer: Any) -> int:
    """Optimizer steps per epoch from train samples, as Lightning counts them."""
    world = int(trainer.world_size)
    per_rank = math.ceil(n_train / world)
    # OCECDataModule drops a last partial batch only when a full one exists.
    batches = per_rank // batch if n_train > batch else math.ceil(per_rank / batch)
    limit = trainer.limit_train_batches
    if trainer.overfit_batches:
        limit = trainer.overfit_batches
    if isinstance(limit, int) and not isinstance(limit, bool):
        batches = min(batches, limit)
    elif limit is not None:
        batches = int(batches * float(limit))
    accumulate = int(trainer.accumulate_grad_batches)
    return max(1, math.ceil(max(1, batches) / accumulate))


def simulate(overrides: Sequence[str], steps_per_epoch: int | None = None, label: str = "") -> Plan:
    """Compose and build one plan, then step its real optimizer + schedule over the run."""
    from ocec_lightning.config.compose import compose_config
    from ocec_lightning.optim.optimizer import scaled_lr
    from ocec_lightning.training import build_run

    with tempfile.TemporaryDirectory() as tmp, _quiet():
        cfg = compose_config(list(overrides), output_dir=tmp)
        run = build_run(cfg)
        trainer, task = run.trainer, run.task
        world = int(trainer.world_size)
        if steps_per_epoch is not None:
            spe, how = int(steps_per_epoch), "given (--steps-per-epoch)"
        else:
            n_train, how = train_samples(run, world)
            spe = batches_to_steps(n_train, int(run.datamodule.batch_size), trainer)
            how += f", batch {run.datamodule.batch_size}"
            if int(trainer.accumulate_grad_batches) > 1:
                how += f", accumulate {trainer.accumulate_grad_batches}"
        epochs, length = _run_length(trainer, spe)
        total = length.total_steps
        batch = int(run.datamodule.batch_size) * world * int(trainer.accumulate_grad_batches)
        optimizer, schedule = task.build_optimization(
            length, batch, strict=not trainer.fast_dev_run
        )
        opt_cfg = task.hparams.optimizer
        base = scaled_lr(float(opt_cfg["lr"]), batch, opt_cfg.get("base_batch_size"))
        step_lrs, epoch_lrs, notes = _step_through(optimizer, schedule, spe, epochs, total)
    name = str(cfg.scheduler.get("name", "?")) if cfg.get("scheduler") else "none"
    if schedule is not None and schedule.is_plateau:
        stagnant = " (constant, so also stagnant)" if name == "adaptive_plateau" else ""
        notes.insert(
            0, f"{name}: '{schedule.monitor}' never improves after epoch 0{stagnant}: worst case"
        )
    return Plan(
        label=label or " ".join(overrides) or "defaults",
        overrides=list(overrides),
        steps_per_epoch=spe,
        steps_source=how,
        epochs=epochs,
        total_steps=total,
        base_lr=base,
        warmup_steps=schedule.warmup_steps if schedule is not None else 0,
        step_lrs=step_lrs,
        epoch_lrs=epoch_lrs,
        scheduler=name,
        notes=notes,
    )


def _run_length(trainer: Any, spe: int) -> tuple[int, TrainingLength]:
    """(epochs run, the TrainingLength BaseTask.training_length() gives the scheduler):
    Lightning's estimated_stepping_batches, and the steps of one epoch."""
    from ocec_lightning.optim.lr_schedule import TrainingLength

    max_epochs = trainer.max_epochs or -1
    max_steps = int(trainer.max_steps)
    if max_epochs > 0:
        total = spe * max_epochs
        total = min(total, max_steps) if max_steps > 0 else total
    elif max_steps > 0:
        total = max_steps
    else:
        raise ConfigError("trainer.max_epochs", max_epochs, "a run length (or trainer.max_steps)")
    return math.ceil(total / spe), TrainingLength(total_steps=total, steps_per_epoch=spe)


def _step_through(
    optimizer: Any, schedule: Any, spe: int, epochs: int, total: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-step and per-epoch LR (largest group) and the LR changes metrics caused."""
    from ocec_lightning.analysis.common.lr_replay import replay

    plateau = schedule is not None and schedule.is_plateau
    metric = (lambda epoch: NEVER_IMPROVING) if plateau else None
    replayed = replay(optimizer, schedule, spe, epochs, metric, total_steps=total)
    changes: list[str] = []
    for change in replayed.changes:
        if change.reasons:
            changes += [f"{reason} after epoch {change.epoch}" for reason in change.reasons]
        elif plateau:
            changes.append(f"×{change.after / change.before:.3g} after epoch {change.epoch}")
    notes = []
    if changes:
        shown = ", ".join(changes[:6]) + (
            f", … ({len(changes)} in all)" if len(changes) > 6 else ""
        )
        notes.append(f"LR changes: {shown}")
    return replayed.step_lrs, replayed.epoch_lrs, notes


def default_epochs(plans: Sequence[Plan]) -> list[int]:
    """0, each plan's warmup end, 25/50/75% of the longest run and its last epoch."""
    epochs = max(p.epochs for p in plans)
    chosen = {0, epochs - 1, *(round(epochs * q) for q in (0.25, 0.5, 0.75))}
    chosen |= {math.ceil(p.warmup_epochs) for p in plans if p.warmup_steps}
    return sorted(e for e in chosen if 0 <= e < epochs)


def plan_labels(plans_overrides: Sequence[Sequence[str]]) -> list[str]:
    """Each plan's overrides minus those all plans share (all of them for a single plan)."""
    if len(plans_overrides) < 2:
        return [" ".join(o) or "defaults" for o in plans_overrides]
    common = set.intersection(*(set(o) for o in plans_overrides))
    return [" ".join(x for x in o if x not in common) or "defaults" for o in plans_overrides]


def chosen_epochs(text: str | None, plans: Sequence[Plan]) -> list[int]:
    if not text:
        return default_epochs(plans)
    try:
        epochs = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise ConfigError("--epochs-at", text, "comma-separated epochs, e.g. 25,60,92") from None
    if not epochs or min(epochs) < 0:
        raise ConfigError("--epochs-at", text, "epochs >= 0, e.g. 25,60,92")
    return epochs


def preview(
    all_overrides: Sequence[Sequence[str]],
    out: Path,
    epochs_at: str | None = None,
    steps_per_epoch: int | None = None,
    log: bool = False,
) -> list[Plan]:
    """Simulate every plan, print the report, write the PNG; returns the plans."""
    from ocec_lightning.analysis.lr.plot import print_report, save_plot
    from ocec_lightning.utils.console import console

    labels = plan_labels(all_overrides)
    plans = [
        simulate(o, steps_per_epoch, label) for o, label in zip(all_overrides, labels, strict=True)
    ]
    epochs = chosen_epochs(epochs_at, plans)
    print_report(plans, epochs, console)
    save_plot(plans, epochs, out, log=log)
    console.print(f"plot: {out}", soft_wrap=True, highlight=False)
    return plans
