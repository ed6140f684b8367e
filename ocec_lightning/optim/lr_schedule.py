"""One object that owns the learning rate: warmup first, then the configured scheduler.

Chaining torch schedulers (SequentialLR, ChainedScheduler) breaks ReduceLROnPlateau and
makes it hard to say what the LR is at a given step. `LRSchedule` instead:
- counts optimizer steps; for the first `warmup_steps` it sets LR = base · f(k) with
  f rising from the start factor to 1 (linear or cosine), torch's LinearLR convention:
  step k uses f(k/W), so the base LR is reached exactly at step W, the end of warmup;
  with `warmup.interval: epoch` the factor changes only at epoch ends (a staircase held
  for each epoch, like a LambdaLR stepped per epoch: start_factor 0.2 over 4 epochs gives
  0.2, 0.4, 0.6, 0.8 and the base LR from epoch 4, preset=aggressive's (epoch+1)/5), and
  the warmup is rounded up to whole epochs;
- afterwards hands over to the inner scheduler, whose own counter starts at 0 there:
  interval `step` schedulers advance every optimizer step, interval `epoch` ones (and
  the plateau family, which gets the monitored metric) at every epoch end after warmup.
The task calls `step_optimizer()` after each optimizer step and `step_epoch(metrics)`
at each training-epoch end (after validation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from ocec_lightning.checks import int_at_least, number_in, one_of
from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.errors import ConfigError

# Keys of the scheduler config that describe how to drive it, not arguments of its builder.
DRIVER_KEYS = ("name", "interval", "monitor", "warmup")


@dataclass(frozen=True)
class TrainingLength:
    """How long the run is, in optimizer steps and epochs."""

    total_steps: int
    steps_per_epoch: int
    # False for the estimate made before the data is loaded (config checks): then only
    # the number of epochs is real, the steps per epoch are a placeholder.
    measured: bool = True

    @property
    def epochs(self) -> int:
        return max(1, math.ceil(self.total_steps / self.steps_per_epoch))


WARMUP_LENGTH_KEYS = ("epochs", "steps", "ratio")
# step: the warmup LR rises every optimizer step; epoch: it is held for each epoch.
WARMUP_INTERVALS = ("step", "epoch")


def check_warmup(warmup: Mapping[str, Any], base_lr: float) -> None:
    """The warmup block's own rules (keys relative to `scheduler`)."""
    given = {k: warmup.get(k) or 0 for k in WARMUP_LENGTH_KEYS}
    int_at_least("warmup.epochs", given["epochs"], 0)
    int_at_least("warmup.steps", given["steps"], 0)
    number_in("warmup.ratio", given["ratio"], 0, 1, high_open=True)
    if sum(1 for v in given.values() if v) > 1:
        raise ConfigError(
            "warmup",
            {k: v for k, v in given.items() if v},
            "only one of warmup.epochs, warmup.steps, warmup.ratio (set the others to 0)",
        )
    number_in("warmup.start_factor", warmup.get("start_factor", 0.1), 0, 1, low_open=True)
    one_of("warmup.mode", warmup.get("mode", "linear"), ("linear", "cosine"))
    one_of("warmup.interval", warmup.get("interval", "step"), WARMUP_INTERVALS)
    start_lr = warmup.get("start_lr")
    if start_lr is not None:
        number_in("warmup.start_lr", start_lr, 0, base_lr, low_open=True, hint=" (optimizer.lr)")


def warmup_steps_from(warmup: Mapping[str, Any], length: TrainingLength) -> int:
    """Warmup length in optimizer steps from `warmup.epochs | steps | ratio` (whole
    epochs, rounded up, for `warmup.interval: epoch`)."""
    if warmup.get("epochs"):
        steps = int(warmup["epochs"]) * length.steps_per_epoch
    elif warmup.get("steps"):
        steps = int(warmup["steps"])
    else:
        steps = int(round(float(warmup.get("ratio") or 0.0) * length.total_steps))
    if warmup.get("interval", "step") == "epoch":
        steps = -(-steps // length.steps_per_epoch) * length.steps_per_epoch
    return steps


def _warmup_too_long(warmup: Mapping[str, Any], steps: int, length: TrainingLength) -> ConfigError:
    """The one rule "warmup shorter than the run", named by the key the user set."""
    key = next((k for k in WARMUP_LENGTH_KEYS if warmup.get(k)), "steps")
    if length.measured:
        run = f"{length.total_steps} steps = {length.epochs} epochs × {length.steps_per_epoch}"
        expected = f"a warmup ({steps} steps) shorter than the run ({run})"
    else:  # estimated before the data is read: only the epoch count is real
        expected = f"a warmup shorter than the run (trainer.max_epochs={length.epochs})"
    suggestion = {
        "epochs": max(0, length.epochs // 10),
        "steps": max(0, length.total_steps // 10),
        "ratio": 0.1,
    }[key]
    return ConfigError(
        f"scheduler.warmup.{key}",
        warmup.get(key),
        f"{expected}, e.g. scheduler.warmup.{key}={suggestion}",
    )


class LRSchedule:
    """Warmup followed by an inner torch scheduler (or a constant LR when inner is None)."""

    def __init__(
        self,
        optimizer: Optimizer,
        inner: Any | None,
        *,
        warmup_steps: int = 0,
        start_factor: float = 0.1,
        start_lr: float | None = None,
        mode: str = "linear",
        interval: str = "epoch",
        monitor: str | None = None,
        warmup_interval: str = "step",
    ) -> None:
        self.optimizer = optimizer
        self.inner = inner
        self.interval = interval
        self.monitor = monitor
        self.mode = mode
        self.warmup_interval = warmup_interval  # step | epoch: when the warmup LR changes
        self.warmup_steps = int(warmup_steps)
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        # A start LR applies to every group in proportion to its base LR.
        top = max(self.base_lrs) if self.base_lrs else 1.0
        self.start_factor = float(start_lr) / top if start_lr is not None else float(start_factor)
        self.step_count = 0  # optimizer steps taken
        self.epoch_start_step = 0  # step_count when the current epoch began
        self.epochs_after_warmup = 0  # epochs the inner scheduler has seen
        self._events_seen = 0
        if self.warmup_steps > 0:
            self._set_lr_factor(self._warmup_factor(0))

    def _warmup_factor(self, k: int) -> float:
        progress = min(1.0, k / self.warmup_steps)
        if self.mode == "cosine":
            progress = 0.5 * (1 - math.cos(math.pi * progress))
        return self.start_factor + (1 - self.start_factor) * progress

    def _set_lr_factor(self, factor: float) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * factor

    def step_optimizer(self) -> None:
        """Advance by one optimizer step."""
        self.step_count += 1
        if self.step_count <= self.warmup_steps:
            if self.warmup_interval == "step":
                self._set_lr_factor(self._warmup_factor(self.step_count))
        elif self.inner is not None and self.interval == "step" and not self.is_plateau:
            self.inner.step()

    def step_epoch(self, metrics: dict[str, Any] | None = None) -> None:
        """Advance at the end of a training epoch; plateau schedulers read `monitor`.

        Only epochs that started after warmup count: an epoch trained (partly) during
        warmup neither steps an epoch scheduler nor feeds the plateau detector.
        """
        started_after_warmup = self.epoch_start_step >= self.warmup_steps
        self.epoch_start_step = self.step_count
        if self.warmup_interval == "epoch" and not started_after_warmup:
            # The staircase: the next epoch trains at the factor of its first step.
            self._set_lr_factor(self._warmup_factor(self.step_count))
        if not started_after_warmup or self.inner is None:
            return
        if self.is_plateau:
            value = (metrics or {}).get(self.monitor)
            if value is None:  # no validation this epoch: nothing to judge
                return
            self.inner.step(float(value))
        elif self.interval == "epoch":
            self.inner.step()
        self.epochs_after_warmup += 1

    @property
    def is_plateau(self) -> bool:
        # Metric-driven schedulers (ReduceLROnPlateau and anything declaring `needs_metric`)
        # are stepped with the monitored value once per validated epoch.
        return bool(getattr(self.inner, "needs_metric", isinstance(self.inner, ReduceLROnPlateau)))

    def drain_events(self) -> list[dict[str, Any]]:
        """LR adjustments the inner scheduler recorded since the last call (adaptive_plateau)."""
        events = list(getattr(self.inner, "events", []) or [])
        new = events[self._events_seen :]
        self._events_seen = len(events)
        return new

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {
            "step_count": self.step_count,
            "epochs_after_warmup": self.epochs_after_warmup,
            "epoch_start_step": self.epoch_start_step,
            "events_seen": self._events_seen,
            "warmup_steps": self.warmup_steps,
            "base_lrs": self.base_lrs,
            "inner": self.inner.state_dict() if self.inner is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step_count = state["step_count"]
        self.epochs_after_warmup = state["epochs_after_warmup"]
        self.epoch_start_step = state["epoch_start_step"]
        self._events_seen = state.get("events_seen", 0)
        self.warmup_steps = state["warmup_steps"]
        self.base_lrs = state["base_lrs"]
        if self.inner is not None and state["inner"] is not None:
            self.inner.load_state_dict(state["inner"])


def build_lr_schedule(
    sched_cfg: Mapping[str, Any], optimizer: Optimizer, length: TrainingLength, strict: bool = True
) -> LRSchedule:
    """Build the warmup + inner scheduler described by `sched_cfg` for a run of `length`.

    Every bad value raises ConfigError naming its `scheduler.*` key. `strict=False`
    (fast_dev_run and other debug runs of a few steps) shortens a warmup that does not
    fit instead of rejecting it.
    """
    base_lr = max(float(group["lr"]) for group in optimizer.param_groups)
    interval = sched_cfg.get("interval", "epoch")
    warmup = dict(sched_cfg.get("warmup") or {})
    try:
        one_of("interval", interval, ("step", "epoch"))
        if sched_cfg.get("monitor") is not None and interval == "step":
            raise ConfigError("interval", "step", "'epoch' for a metric-driven (plateau) scheduler")
        check_warmup(warmup, base_lr)
    except ConfigError as err:
        raise err.within("scheduler") from None
    warmup_steps = warmup_steps_from(warmup, length)
    if not strict:
        warmup_steps = min(warmup_steps, length.total_steps - 1)
    if warmup_steps >= length.total_steps:
        raise _warmup_too_long(warmup, warmup_steps, length)
    # The inner scheduler runs over what is left after warmup, in its own units.
    if interval == "step":
        horizon = length.total_steps - warmup_steps
    else:
        horizon = max(1, length.epochs - math.ceil(warmup_steps / length.steps_per_epoch))
    params = {k: v for k, v in sched_cfg.items() if k not in DRIVER_KEYS}
    inner = instantiate(params, "scheduler", optimizer=optimizer, horizon=horizon)
    return LRSchedule(
        optimizer,
        inner,
        warmup_steps=warmup_steps,
        start_factor=warmup.get("start_factor", 0.1),
        start_lr=warmup.get("start_lr"),
        mode=warmup.get("mode", "linear"),
        interval=interval,
        monitor=sched_cfg.get("monitor"),
        warmup_interval=warmup.get("interval", "step"),
    )
