"""Step a built `LRSchedule` through a run the way the task does, recording the LR.

The LR preview (`ocec-analyze lr`) and the config review both need the LR a run will
really get; neither re-derives it from formulas. They build the optimizer and the
warmup + scheduler that training builds and hand them here: `step_optimizer()` after
every optimizer step, `step_epoch(metrics)` at every epoch end with the monitored value
the caller scripts per epoch (never improving, improving, improving then flat). What
each LR change was (the schedule's own events, e.g. a plateau reduction) is kept per
epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class LRChange:
    """The LR changed at the end of `epoch` (0-based): the next epoch trains at `after`."""

    epoch: int
    before: float
    after: float
    reasons: list[str]  # the schedule's events (plateau_reduce, stagnation_boost, ...)


@dataclass
class Replayed:
    step_lrs: np.ndarray  # LR of every optimizer step
    epoch_lrs: np.ndarray  # LR at the first step of each epoch
    changes: list[LRChange] = field(default_factory=list)  # epoch-end changes


def largest_lr(optimizer: Any) -> float:
    """The optimizer's LR (its largest param group, as the preview reports it)."""
    return max(float(group["lr"]) for group in optimizer.param_groups)


def replay(
    optimizer: Any,
    schedule: Any,
    steps_per_epoch: int,
    epochs: int,
    metric: Callable[[int], float] | None = None,
    total_steps: int | None = None,
) -> Replayed:
    """Step `schedule` (an `LRSchedule`, or None for a constant LR) for `epochs` epochs of
    `steps_per_epoch` steps (`total_steps` may end the last epoch early, as max_steps
    does); `metric(epoch)` is the monitored value fed at each epoch end."""
    total = epochs * steps_per_epoch if total_steps is None else total_steps
    monitor = getattr(schedule, "monitor", None) if schedule is not None else None
    step_lrs: list[float] = []
    epoch_lrs: list[float] = []
    changes: list[LRChange] = []
    for epoch in range(epochs):
        epoch_lrs.append(largest_lr(optimizer))
        for _ in range(min(steps_per_epoch, total - len(step_lrs))):
            step_lrs.append(largest_lr(optimizer))
            if schedule is not None:
                schedule.step_optimizer()
        if schedule is None:
            continue
        before = largest_lr(optimizer)
        metrics = {monitor: metric(epoch)} if monitor and metric is not None else {}
        schedule.step_epoch(metrics)
        reasons = [str(e["reason"]) for e in schedule.drain_events()]
        after = largest_lr(optimizer)
        if reasons or not math.isclose(before, after, rel_tol=1e-9):
            changes.append(LRChange(epoch, before, after, reasons))
    return Replayed(np.asarray(step_lrs), np.asarray(epoch_lrs), changes)
