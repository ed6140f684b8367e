"""What the LR curve, the config and the losses say about a whole run.

Three signals the curve report needs beside the monitored metric: the LR at its peak, at
the best epoch and at the end, and the cosine length the LR curve implies (`LRInfo`);
the length the config planned for its schedule (`Schedule`); divergence (a loss turning
inf / NaN or exploding, `Divergence`) and whether the loss still moves at the end
(`Trend`). Pure functions of a `History`, used by `curves.analyze`. Hand-written because
no library relates a logged LR curve to the configured schedule and the epochs run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ocec_lightning.analysis.history.model import History, RunSettings

MIN_WINDOW = 5  # epochs in the smallest trend window
LOW_LR_FRACTION = 0.1  # "the LR has decayed": at or below 10% of its peak
EXPLOSION_FACTOR = 3.0  # train loss above 3x its minimum (and its first value): diverging
# Schedulers whose length is planned from the run (T_max / total_iters / the cycle).
ANNEALING = ("cosine", "poly", "onecycle", "step", "linear")
NONFINITE_STATUS = "stopped_nonfinite_loss"  # summary.json of a run the finite guard stopped


@dataclass
class LRInfo:
    key: str
    peak: float  # the highest LR of the run (the base LR once warmup is over)
    peak_epoch: int
    at_best: float | None
    at_best_pct: float | None
    final: float
    final_pct: float
    low_epoch: int | None  # first epoch after the peak with LR <= 10% of it
    constant: bool  # never below 90% of the peak after it
    implied_cosine_epochs: float | None  # cosine length (after the peak) the LR curve implies


@dataclass
class Schedule:
    """What the config planned (None where it is silent)."""

    name: str | None
    interval: str | None
    warmup_epochs: int
    max_epochs: int | None
    t_max: Any  # scheduler.T_max / total_iters as configured (None = the rest of the run)
    planned_epochs: int | None  # epochs until an annealing schedule reaches its end
    patience: int | None  # early stopping
    plateau_patience: int | None
    restart_period: int | None  # cosine_warm_restarts T_0 (epochs)
    early_stopping: bool | None = None  # False: the config says there is none


@dataclass
class Divergence:
    series: str
    epoch: int
    kind: str  # inf | nan | explosion
    last_finite: float | None
    min_value: float | None


@dataclass
class Trend:
    """The last quarter of a series (at least 5 epochs): is it still moving?"""

    key: str
    first: int
    last: int
    change_pct: float  # fitted change over the window in % of its mean (negative = falling)
    std_pct: float  # std over the window in % of its mean


def fit_change(values: np.ndarray) -> float:
    """End minus start of the least-squares line through the finite values."""
    x = np.flatnonzero(np.isfinite(values))
    if x.size < 2:
        return math.nan
    slope = np.polyfit(x, values[x], 1)[0]
    return float(slope * (x[-1] - x[0]))


def _divergence_signs(
    values: np.ndarray, finite: np.ndarray, written: np.ndarray, train: bool
) -> list[tuple[int, str]]:
    """(row, kind) of each sign of divergence in one series (`finite`: its finite rows,
    `written`: the rows where the log holds a value, NaN included)."""
    signs = [(int(np.flatnonzero(np.isinf(values))[0]), "inf")] if np.isinf(values).any() else []
    # Only NaN the log wrote count: an epoch without a value (another stage's row, a
    # run that stopped) is a gap, not a loss that became NaN.
    tail = np.flatnonzero(written[int(finite[-1]) + 1 :]) + int(finite[-1]) + 1
    logged_every_epoch = finite.size == finite[-1] - finite[0] + 1
    if logged_every_epoch and tail.size >= (1 if train else 2):
        signs.append((int(tail[0]), "nan"))
    kept = values[finite]
    if train and kept.size >= 3:
        lowest = int(np.argmin(kept))
        above = np.flatnonzero(kept[lowest:] > EXPLOSION_FACTOR * max(float(kept[lowest]), 1e-12))
        if above.size and kept[lowest + above[0] :].max() > kept[0]:
            signs.append((int(finite[lowest + above[0]]), "explosion"))
    return signs


def find_divergence(history: History) -> Divergence | None:
    """The earliest sign of divergence in the losses or the monitor: a value turning inf,
    a series logged every epoch that ends in NaN the log wrote (train loss: one epoch;
    others: two), a train loss climbing above 3x its minimum (and its first value), or a
    run directory whose summary says the run stopped on a non-finite loss."""
    found: list[tuple[int, Divergence]] = []
    for role in ("train_loss", "val_loss", "monitor"):
        key = history.roles.get(role)
        if key is None or not np.isfinite(history.series[key]).any():
            continue
        values = history.series[key]
        finite = np.flatnonzero(np.isfinite(values))
        low, last = float(values[finite].min()), float(values[finite[-1]])
        signs = _divergence_signs(values, finite, history.written(key), role == "train_loss")
        for row, kind in signs:
            found.append((row, Divergence(key, int(history.epochs[row]), kind, last, low)))
    if not found and history.status == NONFINITE_STATUS and len(history.epochs):
        key = history.roles.get("train_loss") or history.monitor
        values = history.series[key]
        finite = values[np.isfinite(values)]
        last = float(finite[-1]) if finite.size else None
        low = float(finite.min()) if finite.size else None
        return Divergence(key, int(history.epochs[-1]), "nan", last, low)
    return min(found, key=lambda item: item[0])[1] if found else None


def planned_schedule(settings: RunSettings | None) -> Schedule | None:
    if settings is None:
        return None
    sched = dict(settings.scheduler or {})
    name = sched.get("name")
    interval = sched.get("interval")
    warmup = settings.warmup_epochs
    ratio = float(((sched.get("warmup") or {}).get("ratio")) or 0.0)
    if not warmup and ratio and settings.max_epochs:
        warmup = int(round(ratio * settings.max_epochs))
    t_max = sched.get("T_max", sched.get("total_iters"))
    planned = None
    if name in ANNEALING and settings.max_epochs:
        planned = settings.max_epochs
        if name == "cosine" and t_max is not None:
            planned = warmup + int(t_max) if interval == "epoch" else None
    restart = sched.get("T_0") if name == "cosine_warm_restarts" and interval == "epoch" else None
    plateau_patience = sched.get("patience") if name in ("plateau", "adaptive_plateau") else None
    return Schedule(
        name=name,
        interval=interval,
        warmup_epochs=warmup,
        max_epochs=settings.max_epochs,
        t_max=t_max,
        planned_epochs=planned,
        patience=settings.early_stopping_patience,
        plateau_patience=plateau_patience,
        restart_period=restart,
        early_stopping=settings.early_stopping,
    )


def lr_info(history: History, best_index: int | None) -> LRInfo | None:
    key = history.roles.get("lr")
    values = history.get("lr")
    if key is None or values is None or not np.isfinite(values).any():
        return None
    finite = np.flatnonzero(np.isfinite(values))
    peak_index = int(finite[np.argmax(values[finite])])
    peak = float(values[peak_index])
    if peak <= 0:
        return None
    after = values[peak_index:]
    at_best = None
    if best_index is not None:
        before = finite[finite <= best_index]
        at_best = float(values[before[-1]]) if before.size else None
    final = float(values[finite[-1]])
    low = np.flatnonzero(after <= LOW_LR_FRACTION * peak)
    low_epoch = int(history.epochs[peak_index + low[0]]) if low.size else None
    constant = bool(np.nanmin(after) >= 0.9 * peak)
    implied = None
    ratio, elapsed = final / peak, finite[-1] - peak_index
    monotone = bool(np.all(np.diff(after[np.isfinite(after)]) <= 1e-12 * peak))
    if monotone and 0.02 < ratio < 0.98 and elapsed >= 2:
        implied = float(math.pi * elapsed / math.acos(2 * ratio - 1))
    return LRInfo(
        key=key,
        peak=peak,
        peak_epoch=int(history.epochs[peak_index]),
        at_best=at_best,
        at_best_pct=None if at_best is None else 100 * at_best / peak,
        final=final,
        final_pct=100 * final / peak,
        low_epoch=low_epoch,
        constant=constant,
        implied_cosine_epochs=implied,
    )


def loss_trend(history: History) -> Trend | None:
    key = history.roles.get("train_loss") or history.roles.get("val_loss")
    if key is None:
        return None
    values = history.series[key]
    finite = np.flatnonzero(np.isfinite(values))
    size = max(MIN_WINDOW, len(finite) // 4)
    if len(finite) < 2 * MIN_WINDOW:
        return None
    window = values[finite[-size:]]
    mean = float(abs(window.mean())) or 1e-12
    return Trend(
        key=key,
        first=int(history.epochs[finite[-size]]),
        last=int(history.epochs[finite[-1]]),
        change_pct=100 * fit_change(window) / mean,
        std_pct=100 * float(window.std()) / mean,
    )
