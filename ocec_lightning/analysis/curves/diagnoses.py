"""Ranked findings from a `CurveAnalysis`: what went wrong and which overrides to try.

Each rule reads the numbers of `curves.analyze` and, when its threshold is crossed,
returns a `Diagnosis` with its evidence (the numbers behind it) and alternative runnable
Hydra overrides for this package's config (each string is one complete alternative to
append to the run's command line; keys absent from the run's config are not suggested).
Findings are ranked by severity (error, warning, info) and then by the order of `RULES`.
The thresholds are module constants. Overrides holding braces are single-quoted so that
a shell passes them to Hydra unchanged. Titles and explanations come from `text.py`
in English or Chinese. Hand-written because no library diagnoses training curves: these
are the rules an engineer applies reading them (the MicroSegFormer post-mortem, the
adaptive-LR monitor's stagnation rule).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ocec_lightning.analysis.curves.analysis import CurveAnalysis
from ocec_lightning.analysis.curves.overrides import (
    base_lr,
    ceil,
    has,
    in_run_names,
    longer_patience,
    num,
    patience_can_grow,
    raw,
    regularise,
    stopped_early,
    switch_scheduler,
    val_split,
    warm_restarts,
)
from ocec_lightning.analysis.curves.signals import ANNEALING
from ocec_lightning.analysis.curves.text import diagnosis_text

SEVERITIES = ("error", "warning", "info")
MISMATCH_FRACTION = 0.8  # run shorter than 80% of the planned schedule ...
LR_STILL_HIGH_PCT = 30.0  # ... while the LR is still >= 30% of its peak at the end
LR_HIGH_AT_BEST_PCT = 50.0  # best epoch reached with the LR >= 50% of its peak
NOISE_PCT = 1.0  # epoch-to-epoch noise of the late metric >= 1% of its mean ...
NOISE_OF_GAIN_PCT = 2.0  # ... and >= 2% of what the run gained (first value -> best)
STALL_CHANGE_PCT = -1.0  # loss fell by less than 1% over the last quarter ...
STALL_STD_PCT = 1.0  # ... and moved by less than 1% (std)
NO_GAIN_PCT = 0.5  # the monitored metric improved by less than 0.5% (of the best)
UNDERFIT_GAP_PCT = 1.0  # late validation within 1% of train ...
STILL_IMPROVING_TAIL = 0.1  # ... and the best inside the last 10% of the run
LATE_DECAY_SHARE = 0.25  # LR <= 10% of peak with >= 25% of the run left


@dataclass
class Diagnosis:
    id: str
    severity: str  # error | warning | info
    title: str
    evidence: dict[str, Any]  # name -> number (or short text) behind the finding
    overrides: list[str] = field(default_factory=list)  # alternatives, each runnable
    explanation: str = ""
    settings: list[str] = field(default_factory=list)  # "key = value" read from the config


Found = tuple[str, dict[str, Any], list[str]] | None  # severity, evidence, overrides


Rule = Callable[[CurveAnalysis], Found]
# Every rule registers itself with `@curve_rule`; within a severity they rank in the
# order they are written here: causes before symptoms.
RULES: list[Rule] = []


def curve_rule(rule: Rule) -> Rule:
    """Register a diagnosis rule (timm's `register_model` pattern): the function's name
    is the diagnosis id and the key of its text in `text.yaml`."""
    RULES.append(rule)
    return rule


@curve_rule
def divergence(a: CurveAnalysis) -> Found:
    """A loss or the monitor turned inf / NaN or the train loss exploded (error)."""
    d = a.divergence
    if d is None:
        return None
    evidence = {"series": d.series, "epoch": d.epoch, "kind": d.kind}
    evidence.update(last_finite=d.last_finite, min_value=d.min_value)
    lr, fixes = base_lr(a), []
    if lr:
        evidence["lr"] = lr
        clip = raw(a, "trainer.gradient_clip_val")
        fixes.append(
            f"optimizer.lr={num(lr / 10)}" + ("" if clip else " trainer.gradient_clip_val=1.0")
        )
    if a.schedule is None or not a.schedule.warmup_epochs:
        fixes.append("scheduler.warmup.epochs=5")
    if "16" in str(raw(a, "trainer.precision") or ""):
        fixes.append("trainer.precision=32-true")
    return "error", evidence, fixes


@curve_rule
def ended_early(a: CurveAnalysis) -> Found:
    """The run ended before max_epochs while nothing in its config stops it early: no
    early stopping, or one whose patience had not run out (warning)."""
    s, n = a.schedule, len(a.epochs)
    if s is None or not s.max_epochs or n >= s.max_epochs or a.too_short:
        return None
    if a.divergence is not None or a.history.status == "stopped_nonfinite_loss":
        return None
    after_best = a.overfit.epochs_after_best if a.overfit else None
    if s.early_stopping is None or (s.early_stopping and stopped_early(a)):
        return None
    if s.early_stopping and a.history.status == "completed":
        return None  # our run dir says it finished: early stopping ended it
    evidence: dict[str, Any] = {"epochs_run": n, "max_epochs": s.max_epochs}
    evidence["run_share_pct"] = 100 * n / s.max_epochs
    evidence["early_stopping"] = "none" if s.early_stopping is False else "on"
    if s.early_stopping:
        evidence.update(patience=s.patience, epochs_after_best=after_best)
    status = a.history.status
    evidence["status"] = status if status in ("interrupted", "failed") else None
    if a.lr is not None:
        evidence["lr_final_pct"] = a.lr.final_pct
    return "warning", evidence, [f"trainer.max_epochs={ceil(n)}"]


@curve_rule
def schedule_longer_than_run(a: CurveAnalysis) -> Found:
    """The run ended before 80% of the planned (config) or implied (LR curve)
    schedule length, with the LR still >= 30% of its peak."""
    s, lr, n = a.schedule, a.lr, len(a.epochs)
    planned = s.planned_epochs if s else None
    implied = None
    # The cosine fit of the LR curve stands in for an unknown schedule only: a plateau or
    # step schedule also lowers the LR monotonically, but plans no length.
    unknown_or_annealing = s is None or s.name is None or s.name in ANNEALING
    if lr and lr.implied_cosine_epochs and unknown_or_annealing:
        implied = a.index_of(lr.peak_epoch) + 1 + lr.implied_cosine_epochs
    length = planned or implied
    if not length or n >= MISMATCH_FRACTION * length or (lr and lr.final_pct < LR_STILL_HIGH_PCT):
        return None
    evidence: dict[str, Any] = {"epochs_run": n, "planned_epochs": planned}
    evidence.update(implied_epochs=None if implied is None else round(implied))
    if s and s.early_stopping is False:
        evidence["early_stopping"] = "none"
    if s:
        evidence.update(scheduler=s.name, t_max=s.t_max, max_epochs=s.max_epochs)
        evidence.update(warmup_epochs=s.warmup_epochs)
        evidence["patience"] = s.patience if stopped_early(a) else None
    if lr:
        evidence.update(lr_final_pct=lr.final_pct, lr_at_best_pct=lr.at_best_pct)
    target = ceil(n)
    explicit = s is not None and s.t_max is not None and s.interval == "epoch"
    fixes = [
        f"scheduler.T_max={target - s.warmup_epochs}"
        if explicit and s
        else f"trainer.max_epochs={target}"
    ]
    if stopped_early(a) and patience_can_grow(a):
        fixes.append(f"callbacks.early_stopping.patience={longer_patience(a)}")
    return "warning", evidence, fixes


@curve_rule
def schedule_shorter_than_run(a: CurveAnalysis) -> Found:
    """A cosine whose T_max ends before 90% of the epochs run."""
    s, n = a.schedule, len(a.epochs)
    if not s or s.name != "cosine" or not s.planned_epochs or s.planned_epochs >= 0.9 * n:
        return None
    evidence = {"epochs_run": n, "planned_epochs": s.planned_epochs, "t_max": s.t_max}
    return "warning", evidence, ["scheduler.T_max=null"]


@curve_rule
def overfitting(a: CurveAnalysis) -> Found:
    """After the best: val loss >= 3% above its level at the best, or the relative
    gap >= 2 points above the late phase (curves.split_phases)."""
    o = a.overfit
    if o is None or not o.detected:
        return None
    evidence = {"best_epoch": a.best_epoch, "onset_epoch": o.onset_epoch}
    evidence.update(epochs_after_best=o.epochs_after_best, decline_pct=a.decline_pct)
    evidence.update(val_loss_rise_pct=o.val_loss_rise_pct, val_loss_min_epoch=o.val_loss_min_epoch)
    evidence.update(gap_before_pct=o.gap_before_pct, gap_after_pct=o.gap_after_pct)
    fixes = regularise(a, 2.0)
    if has(a, "aug.name") and raw(a, "aug.name") != "aggressive":
        fixes.append("aug=aggressive")
    if raw(a, "loss.label_smoothing") == 0:
        fixes.append("loss.label_smoothing=0.1")
    return "warning", evidence, fixes


@curve_rule
def lr_high_at_best(a: CurveAnalysis) -> Found:
    """The best epoch came with the LR still >= 50% of its peak (not a constant LR)."""
    lr = a.lr
    if a.too_short or lr is None or lr.constant or (lr.at_best_pct or 0) < LR_HIGH_AT_BEST_PCT:
        return None
    if a.schedule and a.schedule.name == "cosine_warm_restarts":
        return None
    evidence = {"lr_at_best": lr.at_best, "lr_at_best_pct": lr.at_best_pct, "lr_peak": lr.peak}
    evidence.update(lr_final_pct=lr.final_pct, best_epoch=a.best_epoch)
    return "warning", evidence, [warm_restarts(a)]


@curve_rule
def early_stop_eager(a: CurveAnalysis) -> Found:
    """Early stopping ended the run (best + patience) while the LR was >= 30% of its
    peak, a plateau scheduler waited as long, or a restart cycle was longer."""
    s, lr = a.schedule, a.lr
    if s is None or not stopped_early(a):
        return None
    reasons = []
    if lr and lr.final_pct >= LR_STILL_HIGH_PCT:
        reasons.append("lr_high")
    if s.plateau_patience and s.plateau_patience >= (s.patience or 0):
        reasons.append("plateau")
    if s.restart_period and (s.patience or 0) < s.restart_period:
        reasons.append("restart")
    if not reasons or not patience_can_grow(a):
        return None
    evidence = {"patience": s.patience, "stopped_epoch": a.final_epoch, "best_epoch": a.best_epoch}
    evidence.update(max_epochs=s.max_epochs, lr_final_pct=lr.final_pct if lr else None)
    evidence.update(plateau_patience=s.plateau_patience, restart_period=s.restart_period)
    evidence["reasons"] = ", ".join(reasons)
    return "warning", evidence, [f"callbacks.early_stopping.patience={longer_patience(a)}"]


@curve_rule
def noisy_validation(a: CurveAnalysis) -> Found:
    """Epoch-to-epoch noise of the late metric >= 1% of its mean and >= 2% of the gain."""
    f = a.fluctuation
    first = a.metric[np.isfinite(a.metric)][0] if a.n_valid else math.nan
    gain = abs(a.best_value - first) if a.best_value is not None else math.nan
    if f is None or not f.mean or not gain or 100 * f.noise / abs(f.mean) < NOISE_PCT:
        return None
    if 100 * f.noise / gain < NOISE_OF_GAIN_PCT:
        return None
    evidence = {"first": f.first, "last": f.last, "mean": f.mean, "std": f.std}
    evidence.update(noise=f.noise, noise_pct=100 * f.noise / abs(f.mean), range_pct=f.range_pct)
    evidence["noise_of_gain_pct"] = 100 * f.noise / gain
    if a.best_value is not None and a.last_n_mean is not None and f.noise > 0:
        evidence["best_vs_last_n_noise"] = a.sign * (a.best_value - a.last_n_mean) / f.noise
    fixes = []
    if raw(a, "callbacks.ema") is None:
        fixes.append("'callbacks.ema={_target_:ocec_lightning.callbacks.ema.EMA,decay:0.999}'")
    split = val_split(a)
    if split:
        fixes.append(split)
    if a.schedule and a.schedule.patience and patience_can_grow(a):
        fixes.append(f"callbacks.early_stopping.patience={longer_patience(a)}")
    return "warning", evidence, fixes


@curve_rule
def lr_too_early(a: CurveAnalysis) -> Found:
    """The LR fell to <= 10% of its peak with >= 25% of the run left, and the metric
    gained < 0.5% after that."""
    lr, n = a.lr, len(a.epochs)
    if a.too_short or lr is None or lr.low_epoch is None or a.best_value is None:
        return None
    low = a.index_of(lr.low_epoch)
    if n - low < LATE_DECAY_SHARE * n:
        return None
    before, after = a.metric[: low + 1], a.metric[low + 1 :]
    if not (np.isfinite(before).any() and np.isfinite(after).any()):
        return None
    best_before = float(np.nanmax(a.sign * before)) * a.sign
    gain = a.sign * (float(np.nanmax(a.sign * after)) * a.sign - best_before)
    gain_pct = 100 * gain / abs(best_before) if best_before else 0.0
    if gain_pct >= NO_GAIN_PCT:
        return None
    evidence = {"low_epoch": lr.low_epoch, "run_share_pct": 100 * (low + 1) / n}
    evidence.update(gain_after_pct=gain_pct, lr_final_pct=lr.final_pct)
    s, fixes = a.schedule, []
    if s and s.name in ("plateau", "adaptive_plateau") and s.plateau_patience:
        p = int(s.plateau_patience)
        fixes.append(f"scheduler.patience={max(2 * p, p + 5)} scheduler.factor=0.7")
    elif s and s.name == "cosine" and s.t_max is not None:
        fixes.append("scheduler.T_max=null")
    else:
        fixes.append(switch_scheduler(a, "cosine"))
    fixes.append(warm_restarts(a))
    return "warning", evidence, fixes


@curve_rule
def stagnation(a: CurveAnalysis) -> Found:
    """The loss moved < 1% (fit and std) over the last quarter and the metric gained
    < 0.5% there (the adaptive-LR monitor's stagnation rule)."""
    t = a.trend
    if a.too_short or t is None or t.change_pct <= STALL_CHANGE_PCT or t.std_pct >= STALL_STD_PCT:
        return None
    lo = a.index_of(t.first)
    before, window = a.metric[:lo], a.metric[lo:]
    if np.isfinite(before).any() and np.isfinite(window).any():
        best_before = float(np.nanmax(a.sign * before))
        gain_pct = 100 * (float(np.nanmax(a.sign * window)) - best_before) / (abs(best_before) or 1)
        if gain_pct >= NO_GAIN_PCT:
            return None
    evidence = {"series": t.key, "first": t.first, "last": t.last}
    evidence.update(change_pct=t.change_pct, std_pct=t.std_pct)
    evidence["lr_final_pct"] = a.lr.final_pct if a.lr else None
    fixes = [switch_scheduler(a, "adaptive_plateau")]
    lr = base_lr(a)
    if lr:
        fixes.append(f"optimizer.lr={num(3 * lr)} scheduler.warmup.epochs=5")
    return "warning", evidence, fixes


def _late_gap(a: CurveAnalysis) -> float | None:
    late = next((p for p in a.phases if p.name == "late"), None)
    return late.gap_pct if late else None


def _still_improving(a: CurveAnalysis) -> bool:
    n = len(a.epochs)
    return a.best_index is not None and a.best_index >= (1 - STILL_IMPROVING_TAIL) * (n - 1)


def _more_epochs(a: CurveAnalysis) -> list[str]:
    s, n = a.schedule, len(a.epochs)
    if s and s.max_epochs and n >= s.max_epochs:
        return [f"trainer.max_epochs={2 * n}"]
    if stopped_early(a) and patience_can_grow(a):
        return [f"callbacks.early_stopping.patience={longer_patience(a)}"]
    return [] if s else [f"trainer.max_epochs={2 * n}"]


@curve_rule
def underfitting(a: CurveAnalysis) -> Found:
    """Late validation within 1% of train and the best in the last 10% of the run."""
    gap = _late_gap(a)
    if a.too_short or gap is None or gap > UNDERFIT_GAP_PCT or not _still_improving(a):
        return None
    evidence = {"late_gap_pct": gap, "best_epoch": a.best_epoch, "epochs_run": len(a.epochs)}
    fixes = _more_epochs(a) + regularise(a, 0.5)
    if has(a, "aug.name") and raw(a, "aug.name") not in ("conservative", "none"):
        fixes.append("aug=conservative")
    return "warning", evidence, fixes


@curve_rule
def lr_never_decayed(a: CurveAnalysis) -> Found:
    """The LR stayed >= 90% of its peak for the whole run (10+ epochs)."""
    lr = a.lr
    if a.too_short or lr is None or not lr.constant or a.n_valid < 2 * 5:
        return None
    severity = "info" if _still_improving(a) else "warning"
    fixes = [switch_scheduler(a, "cosine")]
    s = a.schedule
    if s and s.plateau_patience:  # a plateau scheduler that never fired
        fixes.append(f"scheduler.patience={max(1, int(s.plateau_patience) // 2)}")
    else:
        plateau = switch_scheduler(a, "plateau")
        fixes.append(f"{plateau} scheduler.monitor={a.monitor} scheduler.mode={a.mode}")
    return severity, {"lr_peak": lr.peak, "lr_final_pct": lr.final_pct}, fixes


@curve_rule
def still_improving(a: CurveAnalysis) -> Found:
    """The best in the last 10% of the run, validation clearly below train (info)."""
    gap = _late_gap(a)
    if a.too_short or not _still_improving(a) or (gap is not None and gap <= UNDERFIT_GAP_PCT):
        return None
    evidence = {"best_epoch": a.best_epoch, "epochs_run": len(a.epochs)}
    return "info", evidence, _more_epochs(a)


@curve_rule
def too_short(a: CurveAnalysis) -> Found:
    """Fewer than 5 epochs with a value of the monitor: nothing to judge (info)."""
    if not a.too_short:
        return None
    s, n = a.schedule, len(a.epochs)
    fixes = (
        [f"trainer.max_epochs={max(30, 10 * n)}"]
        if s and s.max_epochs and n >= s.max_epochs
        else []
    )
    return "info", {"epochs_with_value": a.n_valid, "epochs_logged": n}, fixes


@curve_rule
def no_lr(a: CurveAnalysis) -> Found:
    """No LR series in the log: the LR rules were skipped (info)."""
    if a.lr is not None:
        return None
    fix = "'callbacks.lr_monitor={_target_:lightning.pytorch.callbacks.LearningRateMonitor}'"
    return "info", {}, [fix]


AFTER_DIVERGENCE = (divergence, too_short, no_lr)


# Evidence key -> the `RunSettings` field it comes from (shown with its config key).
EVIDENCE_SETTINGS = {
    "max_epochs": ("max_epochs",),
    "planned_epochs": ("max_epochs", "scheduler", "t_max", "warmup_epochs"),
    "t_max": ("t_max",),
    "warmup_epochs": ("warmup_epochs",),
    "patience": ("early_stopping_patience",),
    "early_stopping": ("early_stopping_patience",),
    "plateau_patience": ("scheduler",),
    "restart_period": ("scheduler",),
    "scheduler": ("scheduler",),
    "lr": ("lr",),
}


def settings_read(a: CurveAnalysis, evidence: dict[str, Any]) -> list[str]:
    """The config entries a finding used, as `key = value` (the file is in the report)."""
    s = a.settings
    if s is None:
        return []
    names = [n for key in evidence for n in EVIDENCE_SETTINGS.get(key, ())]
    return list(dict.fromkeys(s.keys[n] for n in names if n in s.keys))


def diagnose(analysis: CurveAnalysis, lang: str = "en") -> list[Diagnosis]:
    """Every rule that fires, ranked: errors first, then warnings, then infos."""
    found = []
    for order, rule in enumerate(RULES):
        if analysis.divergence is not None and rule not in AFTER_DIVERGENCE:
            continue  # the numbers after a divergence say nothing about the training
        result = rule(analysis)
        if result is None:
            continue
        severity, evidence, overrides = result
        evidence = {k: v for k, v in evidence.items() if v is not None}
        title, explanation = diagnosis_text(rule.__name__, lang, analysis, evidence)
        overrides = [in_run_names(analysis, line) for line in overrides]
        item = Diagnosis(rule.__name__, severity, title, evidence, overrides, explanation)
        item.settings = settings_read(analysis, evidence)
        found.append((SEVERITIES.index(severity), order, item))
    return [item for *_, item in sorted(found, key=lambda x: x[:2])]
