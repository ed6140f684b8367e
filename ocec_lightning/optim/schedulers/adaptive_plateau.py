"""`scheduler=adaptive_plateau`: the adaptive-LR scheme of a DECODE rewrite — stagnation
boost, long-plateau decay and ReduceLROnPlateau in one metric-driven scheduler, every change
logged.

Once per validated epoch (after warmup; `LRSchedule` does not feed warmup epochs) it
looks at the monitored value:
- improvement (better than the best by `threshold`, relative, as ReduceLROnPlateau):
  reset every counter; the LR stays. A new plateau starts with the next bad epoch.
- otherwise, with a full window of the last `window` values, the epoch is *stagnant*
  when the population variance of the last min(10, window) values (the scheme's 10) is
  below `stagnation_threshold` (absolute, in metric units) and the least-squares slope
  over the whole window shows no progress (≥ 0 for mode min, ≤ 0 for max).
  `stagnation_patience` consecutive stagnant epochs → LR × boost_factor.
- more than `long_plateau_epochs` epochs without improvement → LR × decay_factor, once
  per plateau (the DECODE code decayed on every later epoch: a bug we do not copy).
- more than `patience` bad epochs → LR × factor, then `cooldown` epochs in which neither
  bad nor stagnant epochs are counted (ReduceLROnPlateau's logic).

Precedence, at most one change per epoch: plateau_reduce > long_plateau_decay >
stagnation_boost. Reductions answer "no improvement", the stronger signal, and a boost
in the same epoch would cancel them. A plateau_reduce in the epoch where the long-plateau
decay is due also counts as this plateau's decay. Any LR change restarts the stagnant
count, since the evidence was gathered at the old LR.

Bounds: every group's LR stays in [min_lr, max_lr]; max_lr null = 10 × that group's LR
when built (the DECODE code boosted without limit; 10× allows ~5 boosts of 1.5 and stops a
diverging, low-variance loss from boosting the LR forever). Each change is appended to
`events` (epoch = observed epochs after warmup, from 0; reason; old_lr/new_lr of the
first param group; detail) and logged at INFO on the "ocec_lightning.optim" logger.
"""

from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from typing import Any

from torch.optim import Optimizer

from ocec_lightning.checks import int_at_least, number_in, one_of
from ocec_lightning.errors import ConfigError

logger = logging.getLogger("ocec_lightning.optim")

VARIANCE_SPAN = 10  # the scheme takes the variance of the last 10 values of its window
# Tolerance on "slope ≥ 0": a flat series can give a slope of ±1e-17 from rounding.
SLOPE_TOLERANCE = 1e-12
STATE_KEYS = (
    "epoch",
    "best",
    "num_bad_epochs",
    "epochs_without_improvement",
    "cooldown_counter",
    "stagnant_epochs",
    "plateau_decayed",
    "history",
    "max_lrs",
    "events",
)


def least_squares_slope(values: list[float]) -> float:
    """Slope of the least-squares line through (0, v0), (1, v1), …."""
    n = len(values)
    x_mean, y_mean = (n - 1) / 2, sum(values) / n
    num = sum((i - x_mean) * (v - y_mean) for i, v in enumerate(values))
    den = sum((i - x_mean) ** 2 for i in range(n))
    return num / den


def population_variance(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


@dataclass(frozen=True)
class AdaptivePlateauSettings:
    """The YAML's keys (conf/scheduler/adaptive_plateau.yaml explains each)."""

    mode: str = "min"
    factor: float = 0.7
    patience: int = 50
    threshold: float = 1e-4
    cooldown: int = 0
    min_lr: float = 1e-6
    max_lr: float | None = None
    window: int = 20
    stagnation_threshold: float = 0.001
    stagnation_patience: int = 5
    boost_factor: float = 1.5
    long_plateau_epochs: int = 30
    decay_factor: float = 0.8

    def __post_init__(self) -> None:
        inf = math.inf  # no upper bound
        one_of("mode", self.mode, ("min", "max"))
        number_in("factor", self.factor, 0, 1, low_open=True, high_open=True, hint=", e.g. 0.7")
        int_at_least("patience", self.patience, 0)
        number_in("threshold", self.threshold, 0, inf, high_open=True, hint=", e.g. 1e-4")
        int_at_least("cooldown", self.cooldown, 0)
        number_in("min_lr", self.min_lr, 0, inf, high_open=True)
        if self.max_lr is not None:
            number_in("max_lr", self.max_lr, 0, inf, low_open=True, high_open=True, hint=" or null")
        int_at_least("window", self.window, 2)
        number_in("stagnation_threshold", self.stagnation_threshold, 0, inf, high_open=True)
        int_at_least("stagnation_patience", self.stagnation_patience, 1)
        number_in(
            "boost_factor",
            self.boost_factor,
            1,
            inf,
            low_open=True,
            high_open=True,
            hint=", e.g. 1.5",
        )
        int_at_least("long_plateau_epochs", self.long_plateau_epochs, 0)
        number_in(
            "decay_factor",
            self.decay_factor,
            0,
            1,
            low_open=True,
            high_open=True,
            hint=", e.g. 0.8",
        )


class AdaptivePlateau:
    """Metric-driven LR scheduler (see the module docstring); `step(metric)` per epoch."""

    needs_metric = True  # LRSchedule steps it with the monitored value

    def __init__(self, optimizer: Optimizer, settings: AdaptivePlateauSettings) -> None:
        self.optimizer = optimizer
        self.cfg = settings
        lrs = [float(group["lr"]) for group in optimizer.param_groups]
        top = settings.max_lr
        self.max_lrs = [float(top) if top is not None else 10 * lr for lr in lrs]
        if not all(settings.min_lr < m for m in self.max_lrs):
            expected = f"a value above min_lr={settings.min_lr:g} (null = 10 × the optimizer's LR)"
            raise ConfigError("max_lr", top, expected)
        self.epoch = 0  # epochs observed so far
        self.best = math.inf if settings.mode == "min" else -math.inf
        self.num_bad_epochs = 0  # ReduceLROnPlateau's count: reset by reductions
        self.epochs_without_improvement = 0  # length of the current plateau
        self.cooldown_counter = 0
        self.stagnant_epochs = 0  # consecutive stagnant epochs since the last LR change
        self.plateau_decayed = False  # the long-plateau decay fired in this plateau
        self.history: list[float] = []  # last `window` monitored values
        self.events: list[dict[str, Any]] = []

    # -- one epoch -----------------------------------------------------------------------
    def step(self, metric: float) -> None:
        """Observe one epoch's monitored value and adjust the LR if a rule fires."""
        current = float(metric)
        epoch = self.epoch
        self.epoch += 1
        self.history = [*self.history, current][-self.cfg.window :]
        improved = self._is_better(current)
        if improved:
            self.best = current
            self.num_bad_epochs = self.epochs_without_improvement = self.stagnant_epochs = 0
            self.plateau_decayed = False
        else:
            self.num_bad_epochs += 1
            self.epochs_without_improvement += 1
        if self.cooldown_counter > 0:  # after a reduction: wait before counting again
            self.cooldown_counter -= 1
            self.num_bad_epochs = self.stagnant_epochs = 0
            return
        if improved:
            return
        stagnant, variance, slope = self._stagnation()
        self.stagnant_epochs = self.stagnant_epochs + 1 if stagnant else 0
        self._adjust(epoch, variance, slope)

    def _is_better(self, value: float) -> bool:
        # ReduceLROnPlateau's relative threshold (best starts at ±inf, so epoch 0 improves).
        if self.cfg.mode == "min":
            return value < self.best * (1 - self.cfg.threshold)
        return value > self.best * (1 + self.cfg.threshold)

    def _stagnation(self) -> tuple[bool, float, float]:
        """(stagnant?, variance of the recent values, slope of the window)."""
        if len(self.history) < self.cfg.window:
            return False, math.nan, math.nan
        variance = population_variance(self.history[-min(VARIANCE_SPAN, self.cfg.window) :])
        slope = least_squares_slope(self.history)
        tolerance = SLOPE_TOLERANCE * max(1.0, abs(sum(self.history) / len(self.history)))
        no_progress = slope >= -tolerance if self.cfg.mode == "min" else slope <= tolerance
        return variance < self.cfg.stagnation_threshold and no_progress, variance, slope

    def _adjust(self, epoch: int, variance: float, slope: float) -> None:
        reduce_due = self.num_bad_epochs > self.cfg.patience
        decay_due = (
            self.epochs_without_improvement > self.cfg.long_plateau_epochs
            and not self.plateau_decayed
        )
        boost_due = self.stagnant_epochs >= self.cfg.stagnation_patience
        best = f"best {self.best:.6g}"
        if reduce_due:
            also = "; long-plateau decay also due, counted as done" if decay_due else ""
            self._scale(
                epoch,
                "plateau_reduce",
                self.cfg.factor,
                f"{self.num_bad_epochs} bad epochs > patience {self.cfg.patience}, {best}; "
                f"LR × {self.cfg.factor:g} (min_lr {self.cfg.min_lr:g}){also}",
            )
            self.num_bad_epochs = 0
            self.cooldown_counter = self.cfg.cooldown
            self.plateau_decayed = self.plateau_decayed or decay_due
        elif decay_due:
            self._scale(
                epoch,
                "long_plateau_decay",
                self.cfg.decay_factor,
                f"{self.epochs_without_improvement} epochs without improvement > "
                f"long_plateau_epochs {self.cfg.long_plateau_epochs}, {best}; "
                f"LR × {self.cfg.decay_factor:g} (once per plateau)",
            )
            self.plateau_decayed = True
        elif boost_due:
            span = min(VARIANCE_SPAN, self.cfg.window)
            window = self.cfg.window
            self._scale(
                epoch,
                "stagnation_boost",
                self.cfg.boost_factor,
                f"{self.stagnant_epochs} stagnant epochs: variance of last {span} = "
                f"{variance:.3g} < {self.cfg.stagnation_threshold:g}, slope of last {window} "
                f"= {slope:.3g}; LR × {self.cfg.boost_factor:g} (max_lr {self.max_lrs[0]:g})",
            )
        if reduce_due or decay_due or boost_due:
            self.stagnant_epochs = 0  # stagnation evidence belongs to the old LR

    def _scale(self, epoch: int, reason: str, factor: float, detail: str) -> None:
        """LR × factor in every group, clipped to [min_lr, max_lr]; record real changes."""
        groups = self.optimizer.param_groups
        old = [float(group["lr"]) for group in groups]
        new = [
            min(max(lr * factor, self.cfg.min_lr), top)
            for lr, top in zip(old, self.max_lrs, strict=True)
        ]
        if all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(old, new, strict=True)):
            return  # already at the bound: nothing to change or report
        for group, lr in zip(groups, new, strict=True):
            group["lr"] = lr
        event = {"epoch": epoch, "reason": reason, "old_lr": old[0], "new_lr": new[0]}
        self.events.append({**event, "detail": detail})
        logger.info("%s at epoch %d: LR %.4g -> %.4g (%s)", reason, epoch, old[0], new[0], detail)

    # -- scheduler protocol --------------------------------------------------------------
    def get_last_lr(self) -> list[float]:
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        # Plain Python values only, so checkpoints load with torch.load(weights_only=True).
        return {key: copy.deepcopy(getattr(self, key)) for key in STATE_KEYS}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in STATE_KEYS:
            setattr(self, key, copy.deepcopy(state[key]))


def build(optimizer: Optimizer, horizon: int, **params: Any) -> AdaptivePlateau:
    """AdaptivePlateau from the YAML's keys (AdaptivePlateauSettings' fields, same
    defaults); the run length (`horizon`) is not needed."""
    return AdaptivePlateau(optimizer, AdaptivePlateauSettings(**params))
