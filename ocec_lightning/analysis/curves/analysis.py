"""The numbers of a curve post-mortem: phases, best epoch, fluctuation, LR.

`analyze(history)` turns one run's per-epoch `History` into a `CurveAnalysis`: the best
epoch and the decline after it, a phase table (early / mid / late / overfitting) with
mean ± std of the monitored metric and of the train–val gap, the late-phase fluctuation,
the LR at the best epoch as a share of its peak, the last-N mean against the single best,
the schedule the config planned, and signs of divergence. Pure functions, no I/O;
`diagnoses.py` turns the numbers into findings and `report.py` writes them.
Hand-written because no library computes these: TensorBoard, W&B or Lightning plot
curves, but none splits a run into phases, relates the LR schedule to the best epoch or
compares the configured schedule with the epochs actually run.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from ocec_lightning.analysis.curves.signals import (
    Divergence,
    LRInfo,
    Schedule,
    Trend,
    find_divergence,
    fit_change,
    loss_trend,
    lr_info,
    planned_schedule,
)
from ocec_lightning.analysis.history.model import History, RunSettings

MIN_EPOCHS = 5  # fewer finite values of the monitored metric: too little to judge
EARLY_FRACTION = 0.2  # early phase: the first 20% of the epochs
LATE_FRACTION = 1 / 3  # late phase: the last third of the epochs before the overfitting phase
OVERFIT_MIN_EPOCHS = 3  # epochs after the best needed to call an overfitting phase
VAL_LOSS_RISE_PCT = 3.0  # val loss after the best this much (%) above its level at the best
GAP_GROWTH_POINTS = 2.0  # or the relative gap this many percentage points above the late one


@dataclass
class Phase:
    name: str  # early | mid | late | overfitting
    first: int  # first and last epoch (as logged)
    last: int
    epochs: int
    metric_mean: float
    metric_std: float
    change: float  # metric change over the phase (end - start of a least-squares line)
    gap_mean: float | None = None  # train-val gap (positive = validation worse)
    gap_std: float | None = None
    gap_pct: float | None = None  # mean gap in % of the validation value


@dataclass
class Fluctuation:
    """The monitored metric from the start of the late phase to the end of the run."""

    first: int
    last: int
    mean: float
    std: float
    min: float
    min_epoch: int
    max: float
    max_epoch: int
    range: float
    range_pct: float  # range in % of the mean
    noise: float  # epoch-to-epoch noise: std of the first differences / sqrt(2)


@dataclass
class Overfit:
    detected: bool
    onset_epoch: int | None  # the first epoch after the best
    epochs_after_best: int
    val_loss_rise_pct: float | None  # mean val loss after the best vs its level at the best
    val_loss_min_epoch: int | None
    gap_before_pct: float | None  # mean relative gap over the last third before the best
    gap_after_pct: float | None  # ... and after the best


@dataclass
class CurveAnalysis:
    history: History
    monitor: str
    mode: str  # max | min
    epochs: np.ndarray
    metric: np.ndarray
    n_valid: int  # epochs with a finite monitored value
    too_short: bool
    best_index: int | None = None
    best_epoch: int | None = None
    best_value: float | None = None
    final_epoch: int | None = None
    final_value: float | None = None
    decline: float | None = None  # final vs best, in the worse direction (>= 0)
    decline_pct: float | None = None
    after_best_mean: float | None = None
    last_n: int = 10
    last_n_mean: float | None = None
    last_n_std: float | None = None
    last_n_gap_pct: float | None = None  # best vs last-N mean, % of best (>= 0 = best higher)
    gap: np.ndarray | None = None
    gap_pct: np.ndarray | None = None
    gap_label: str | None = None  # e.g. "train/fscore − val/fscore"
    gap_kind: str | None = None  # metric | loss
    phases: list[Phase] = field(default_factory=list)
    overfit: Overfit | None = None
    fluctuation: Fluctuation | None = None
    lr: LRInfo | None = None
    schedule: Schedule | None = None
    divergence: Divergence | None = None
    trend: Trend | None = None
    gaps: dict[str, list[int]] = field(default_factory=dict)  # role key -> epochs without value

    @property
    def sign(self) -> float:
        return 1.0 if self.mode == "max" else -1.0

    @property
    def settings(self) -> RunSettings | None:
        return self.history.settings

    def index_of(self, epoch: int) -> int:
        return int(np.searchsorted(self.epochs, epoch))


def _finite_mean_std(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    return float(finite.mean()), float(finite.std())


def _opt(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def train_counterpart(history: History, key: str) -> str | None:
    """The train series of a validation metric (`val/fscore` -> `train/fscore[_epoch]`)."""
    if not re.search("val", key, re.IGNORECASE):
        return None
    for word in ("train", "Train", "TRAIN"):
        base = re.sub("val(idation)?", word, key, count=1, flags=re.IGNORECASE)
        for candidate in (base, f"{base}_epoch"):
            if candidate in history.series and candidate != key:
                return candidate
    return None


def train_val_gap(history: History) -> tuple[np.ndarray, np.ndarray, str, str] | None:
    """Gap (positive = validation worse), gap in % of the validation value, label, kind.

    A score monitor uses the train / val values of the same metric when both are logged,
    otherwise (and for losses) val loss - train loss."""
    monitor, sign = history.monitor, 1.0 if history.mode == "max" else -1.0
    train_key = train_counterpart(history, monitor)
    if train_key is not None:
        train, val = history.series[train_key], history.series[monitor]
        kind, label = "metric", f"{train_key} − {monitor}"
        if sign < 0:
            label = f"{monitor} − {train_key}"
    else:
        train, val = history.get("train_loss"), history.get("val_loss")
        if train is None or val is None:
            return None
        sign, kind = -1.0, "loss"
        label = f"{history.roles['val_loss']} − {history.roles['train_loss']}"
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = sign * (train - val)
        pct = np.where(np.abs(val) > 1e-12, 100.0 * gap / np.abs(val), np.nan)
    return gap, pct, label, kind


def _overfit(a: CurveAnalysis, val_loss: np.ndarray | None) -> Overfit:
    b = int(a.best_index or 0)
    after = slice(b + 1, None)
    n_after = int(np.isfinite(a.metric[after]).sum())
    rise = min_epoch = None
    if val_loss is not None and np.isfinite(val_loss[: b + 1]).any():
        window = val_loss[max(0, b - 4) : b + 1]
        ref = float(np.nanmedian(window)) if np.isfinite(window).any() else math.nan
        after_mean, _ = _finite_mean_std(val_loss[after])
        if math.isfinite(ref) and math.isfinite(after_mean) and abs(ref) > 1e-12:
            rise = 100 * (after_mean - ref) / abs(ref)
        min_epoch = int(a.epochs[int(np.nanargmin(val_loss))])
    before_pct = after_pct = None
    if a.gap_pct is not None:
        late = max(1, round((b + 1) * LATE_FRACTION))
        before_pct = _opt(_finite_mean_std(a.gap_pct[b + 1 - late : b + 1])[0])
        after_pct = _opt(_finite_mean_std(a.gap_pct[after])[0])
    growth = after_pct - before_pct if after_pct is not None and before_pct is not None else None
    val_loss_falls = rise is not None and rise <= -VAL_LOSS_RISE_PCT  # still generalising
    detected = n_after >= OVERFIT_MIN_EPOCHS and (
        (rise is not None and rise >= VAL_LOSS_RISE_PCT)
        or (
            growth is not None
            and growth >= GAP_GROWTH_POINTS
            and after_pct > 0
            and not val_loss_falls
        )
    )
    onset = int(a.epochs[b + 1]) if n_after else None
    return Overfit(detected, onset, n_after, rise, min_epoch, before_pct, after_pct)


def _phase(a: CurveAnalysis, name: str, lo: int, hi: int) -> Phase:
    values = a.metric[lo:hi]
    mean, std = _finite_mean_std(values)
    phase = Phase(name, int(a.epochs[lo]), int(a.epochs[hi - 1]), hi - lo, mean, std, 0.0)
    phase.change = fit_change(values)
    if a.gap is not None and a.gap_pct is not None:
        gap_mean, gap_std = _finite_mean_std(a.gap[lo:hi])
        phase.gap_mean, phase.gap_std = _opt(gap_mean), _opt(gap_std)
        phase.gap_pct = _opt(_finite_mean_std(a.gap_pct[lo:hi])[0])
    return phase


def split_phases(a: CurveAnalysis) -> list[Phase]:
    """Early = first 20% of the epochs; overfitting = the epochs after the best when the
    val loss rises or the gap grows there; late = the last third before that; mid = the
    rest. Empty phases are left out."""
    n = len(a.epochs)
    end = int(a.best_index) + 1 if a.overfit and a.overfit.detected else n
    late = max(1, round(end * LATE_FRACTION))
    early = min(max(1, round(n * EARLY_FRACTION)), end - late)
    bounds = [("early", 0, early), ("mid", early, end - late), ("late", end - late, end)]
    if end < n:
        bounds.append(("overfitting", end, n))
    return [_phase(a, name, lo, hi) for name, lo, hi in bounds if hi > lo]


def _fluctuation(a: CurveAnalysis) -> Fluctuation | None:
    late = next((p for p in a.phases if p.name == "late"), None)
    if late is None:
        return None
    lo = a.index_of(late.first)
    values, epochs = a.metric[lo:], a.epochs[lo:]
    keep = np.isfinite(values)
    values, epochs = values[keep], epochs[keep]
    if values.size < 3:
        return None
    mean = float(values.mean())
    spread = float(values.max() - values.min())
    return Fluctuation(
        first=int(epochs[0]),
        last=int(epochs[-1]),
        mean=mean,
        std=float(values.std()),
        min=float(values.min()),
        min_epoch=int(epochs[np.argmin(values)]),
        max=float(values.max()),
        max_epoch=int(epochs[np.argmax(values)]),
        range=spread,
        range_pct=100 * spread / abs(mean) if mean else math.nan,
        noise=float(np.std(np.diff(values)) / math.sqrt(2)),
    )


def analyze(history: History, last_n: int = 10) -> CurveAnalysis:
    """Every number of the curve report for one run (robust to short runs, NaN, no LR)."""
    metric = np.asarray(history.series[history.monitor], dtype=float)
    epochs = np.asarray(history.epochs, dtype=int)
    finite = np.flatnonzero(np.isfinite(metric))
    a = CurveAnalysis(
        history=history,
        monitor=history.monitor,
        mode=history.mode if history.mode in ("max", "min") else "max",
        epochs=epochs,
        metric=metric,
        n_valid=int(finite.size),
        too_short=finite.size < MIN_EPOCHS,
        last_n=max(1, int(last_n)),
    )
    for role in ("monitor", "train_loss", "val_loss", "lr"):
        key = history.roles.get(role)
        if key is not None:
            values = history.series[key]
            missing = np.isnan(values)
            if missing.any() and np.isfinite(values).any():
                a.gaps[key] = [int(e) for e in epochs[missing]]
    a.divergence = find_divergence(history)
    gap = train_val_gap(history)
    if gap is not None:
        a.gap, a.gap_pct, a.gap_label, a.gap_kind = gap
    if finite.size:
        b = int(finite[np.argmax(a.sign * metric[finite])])
        a.best_index, a.best_epoch, a.best_value = b, int(epochs[b]), float(metric[b])
        a.final_epoch, a.final_value = int(epochs[finite[-1]]), float(metric[finite[-1]])
        a.decline = a.sign * (a.best_value - a.final_value)
        a.decline_pct = 100 * a.decline / abs(a.best_value) if a.best_value else None
        a.after_best_mean = _opt(_finite_mean_std(metric[b + 1 :])[0])
        tail = metric[finite[-min(a.last_n, finite.size) :]]
        a.last_n_mean, a.last_n_std = float(tail.mean()), float(tail.std())
        if a.best_value:
            a.last_n_gap_pct = 100 * a.sign * (a.best_value - a.last_n_mean) / abs(a.best_value)
    a.lr = lr_info(history, a.best_index)
    a.schedule = planned_schedule(history.settings)
    a.trend = loss_trend(history)
    if a.divergence is not None:  # the epochs after it say nothing about training
        a.trend = None
    elif not a.too_short:
        a.overfit = _overfit(a, history.get("val_loss"))
        a.phases = split_phases(a)
        a.fluctuation = _fluctuation(a)
    return a
