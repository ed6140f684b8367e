"""Replay the configured warmup + scheduler to see what the LR will actually do.

The review does not re-derive schedules from formulas: it builds the very `LRSchedule`
training builds (`optim/lr_schedule.py` and the scheduler builders, so a change there,
e.g. cosine holding eta_min after T_max, shows up here) on a dummy parameter and steps it
through the run with the replay the LR preview uses (`common/lr_replay.py`). Two
scenarios:

- *steady*: the monitored metric improves every epoch. Time-driven schedules (cosine,
  warm restarts, step, ...) do not look at it, so this is their exact LR per epoch;
  metric-driven ones (plateau, adaptive_plateau) keep the base LR.
- *flat*: the metric improves until the first epoch after warmup and never again. It
  gives, for metric-driven schedules, the LR change after each epoch without improvement
  (`bad_epoch` 1, 2, ...), which the review compares with early-stopping patience and the
  run length.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from ocec_lightning.analysis.common.lr_replay import replay as step_through
from ocec_lightning.errors import OCECError
from ocec_lightning.optim.lr_schedule import LRSchedule, TrainingLength, build_lr_schedule

# Above this many optimizer steps the replay uses fewer steps per epoch (values in
# epochs and ratios are exact; `warmup.steps` is scaled with them).
MAX_REPLAY_STEPS = 1_500_000


@dataclass
class LREvent:
    """An LR change in the flat scenario, after `bad_epoch` epochs without improvement."""

    bad_epoch: int
    epoch: int  # 0-based epoch whose end changed the LR (the next one trains at `lr`)
    lr: float
    reason: str  # plateau_reduce, long_plateau_decay, stagnation_boost or "reduce"


@dataclass
class ScheduleReplay:
    """The replayed LR of a run: per epoch (steady) and the plateau events (flat)."""

    base_lr: float
    epoch_lrs: list[float]  # LR at the start of each epoch, 0-based
    warmup_steps: int
    warmup_epochs: int  # epochs that start inside the warmup
    metric_driven: bool
    flat_events: list[LREvent] = field(default_factory=list)
    approximate: bool = False
    error: str | None = None  # the builder rejected the config

    def lr_at(self, epoch: int) -> float:
        return self.epoch_lrs[min(max(epoch, 0), len(self.epoch_lrs) - 1)]

    def rises_after_warmup(self) -> list[int]:
        """Epochs (0-based) whose LR is higher than the previous epoch's, after warmup."""
        lrs = self.epoch_lrs
        return [
            e
            for e in range(max(self.warmup_epochs, 1) + 1, len(lrs))
            if lrs[e] > lrs[e - 1] * (1 + 1e-9) + 1e-15
        ]


def _dummy_optimizer(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _scaled_scheduler(sched: dict[str, Any], factor: float) -> dict[str, Any]:
    """The scheduler config with `warmup.steps` scaled for a shorter replay."""
    warmup = dict(sched.get("warmup") or {})
    if warmup.get("steps"):
        warmup["steps"] = max(1, round(int(warmup["steps"]) * factor))
    return {**sched, "warmup": warmup}


def _build(
    sched: Mapping[str, Any], lr: float, length: TrainingLength
) -> tuple[torch.optim.Optimizer, LRSchedule]:
    optimizer = _dummy_optimizer(lr)
    return optimizer, build_lr_schedule(dict(sched), optimizer, length)


def _metric(mode: str, epoch: int, flat_from: int | None) -> float:
    """A monitored value that improves 2% per epoch (until `flat_from`, then constant)."""
    e = epoch if flat_from is None else min(epoch, flat_from)
    value = 0.98**e
    return value if mode == "min" else 2.0 - value


def replay(
    sched_cfg: Mapping[str, Any] | None, lr: float, epochs: int, steps_per_epoch: int
) -> ScheduleReplay:
    """Replay `sched_cfg` (the resolved `scheduler` node, or None) for `epochs` epochs of
    `steps_per_epoch` optimizer steps at base LR `lr`."""
    epochs, per_epoch = max(1, int(epochs)), max(1, int(steps_per_epoch))
    approximate = False
    sched = dict(sched_cfg or {})
    if epochs * per_epoch > MAX_REPLAY_STEPS:
        shorter = max(1, MAX_REPLAY_STEPS // epochs)
        sched = _scaled_scheduler(sched, shorter / per_epoch)
        per_epoch, approximate = shorter, True
    length = TrainingLength(total_steps=epochs * per_epoch, steps_per_epoch=per_epoch)
    if not sched:
        return ScheduleReplay(lr, [lr] * epochs, 0, 0, False, approximate=approximate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "lr_scheduler.step() before optimizer.step()"
        try:
            optimizer, schedule = _build(sched, lr, length)
        except OCECError as err:
            return ScheduleReplay(lr, [lr] * epochs, 0, 0, False, approximate, error=str(err))
        warmup_epochs = math.ceil(schedule.warmup_steps / per_epoch)
        metric_driven = schedule.is_plateau
        mode = str(sched.get("mode", "min"))
        steady = step_through(
            optimizer, schedule, per_epoch, epochs, lambda e: _metric(mode, e, None)
        )
        lrs = [float(value) for value in steady.epoch_lrs]
        result = ScheduleReplay(
            lr, lrs, schedule.warmup_steps, warmup_epochs, metric_driven, approximate=approximate
        )
        if metric_driven:
            result.flat_events = _flat_events(sched, lr, length, warmup_epochs, mode)
    return result


def _flat_events(
    sched: Mapping[str, Any],
    lr: float,
    length: TrainingLength,
    warmup_epochs: int,
    mode: str,
) -> list[LREvent]:
    """LR changes when the metric stops improving right after warmup (to the run's end)."""
    optimizer, schedule = _build(sched, lr, length)
    flat = step_through(
        optimizer,
        schedule,
        length.steps_per_epoch,
        length.epochs,
        lambda e: _metric(mode, e, warmup_epochs),
    )
    events: list[LREvent] = []
    for change in flat.changes:
        if change.epoch > warmup_epochs and not math.isclose(
            change.after, change.before, rel_tol=1e-9
        ):
            reason = (
                change.reasons[-1]
                if change.reasons
                else ("reduce" if change.after < change.before else "raise")
            )
            events.append(LREvent(change.epoch - warmup_epochs, change.epoch, change.after, reason))
    return events
