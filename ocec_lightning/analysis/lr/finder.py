"""`ocec-analyze lr --find` runs Lightning's LR range test (`Tuner.lr_find`) on the
composed config (one config, no `--vs`; seeded like a run; no validation epochs,
the search reads only the training loss; it runs all `--find-steps` whatever the
recipe's max_epochs), writes its plot and prints our suggested `optimizer.lr=` with a
confidence, then checks it against the recipe (below).

Why not Lightning's `LRFinder.suggestion()`: it takes the steepest slope of the loss
against the LR itself, not its log, so on our curves (flat for decades, then a fall
around 1e-3) the noise at tiny LRs, divided by tiny LR steps, wins: 5.8e-7 for the
default recipe (1.2e-6 with another init), whose 3e-3 reaches val F1 0.985. Its curve is
also hard to read: an EMA (beta 0.98) that lags ~50 steps, 4 decades of a 100-step
search, whose first points are biased low (its bias correction counts one step too many:
the first is half the loss).

Our rule (`suggest_lr`, constants named at the section): the per-batch losses are
recovered from Lightning's curve exactly (`lightning_raw_losses`) and smoothed without
lag: a centred running median (one wild batch or the blow-up moves nothing), then a
running mean, each SMOOTH_DECADES (0.5) wide. The initial level is the median loss of
the first window; the minimum is that of the smoothed curve (everything after it, the
blow-up included, is ignored). A clear descent falls >= MIN_FALL (10%) below the
initial level and >= NOISE_MULTIPLE (2)x the per-batch noise; it starts after the last
step still above START_SHARE (20%) of the fall (so the flat start, and its slow drift, is
left out) and ends at the minimum. The suggestion is halfway through that descent in log
LR (VALLEY_POSITION; fastai's default "valley" rule, fastai PR #3377: a level read off a
stretch of the curve, not a derivative of noise), and at most MAX_SHARE_OF_MIN (1/3) of
the LR at the minimum, where divergence starts. Without a clear descent it is
FALLBACK_SHARE (1/10) of the LR at the minimum, with low confidence. Confidence: high,
unless the descent holds < MIN_DESCENT_POINTS (4) finder steps (low: raise
--find-steps), spans < MIN_SPAN_DECADES (1) decade (medium: the reading is sensitive),
the minimum is at the end of the range (medium: raise --find-max-lr) or the loss already
fell at the first LRs at >= EARLY_SLOPE_SHARE (1/3) of its steepest rate (medium: lower
--find-min-lr). An early stop (Lightning: loss > 4x its best) lowers nothing by itself:
it marks where the useful range ends; what counts is the steps inside the descent.

The check (default; `--no-check` skips it) trains `--check-epochs` (3) epochs at the
recipe's `optimizer.lr` and at the suggestion through `run_training`: same seed, data
and callbacks that change training (EMA, early stopping, checkpointing, NaN guard), no
test, csv logger only, output-only callbacks off, in a temporary directory; the monitored
metric is read back from each run directory. Its verdict compares the best values (what
a run's checkpoint keeps): switch only when the suggestion's is better by more than
CHECK_MARGIN (1%, relative), else keep the recipe's LR; a run stopped by a NaN loss did
not train. A suggestion within SAME_LR (5%) of the recipe's LR is not checked.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ocec_lightning.errors import ConfigError

if TYPE_CHECKING:  # torch-heavy imports wait until a tool runs (`ocec-analyze -h` stays fast)
    pass

from ocec_lightning.analysis.lr.preview import NO_VALIDATION, _quiet

# Lightning's `_LRCallback` smoothing (its `beta` default; `Tuner.lr_find` passes none). The
# per-batch losses are recovered from its curve with it (`lightning_raw_losses`).
LIGHTNING_BETA = 0.98
SMOOTH_DECADES = 0.5  # our smoothing: running median, then running mean, each this wide
MIN_SMOOTH_POINTS = 3  # ... and at least this many finder steps wide
START_SHARE = 0.2  # the descent starts once the loss has done 20% of its whole fall
MIN_FALL = 0.10  # a clear descent: the loss falls by >= 10% of its initial level ...
NOISE_MULTIPLE = 2.0  # ... and by >= 2x the per-batch noise (robust std of loss - smoothed)
VALLEY_POSITION = 0.5  # the suggestion: this far (in log LR) from the descent's start to its end
MAX_SHARE_OF_MIN = 1 / 3  # ... and at most 1/3 of the LR at the minimum loss
FALLBACK_SHARE = 0.1  # no clear descent: 1/10 of the LR at the minimum loss
MIN_SPAN_DECADES = 1.0  # a narrower descent: medium confidence
MIN_DESCENT_POINTS = 4  # fewer finder steps inside the descent: low confidence
EARLY_SLOPE_SHARE = 1 / 3  # falling at >= 1/3 of the steepest rate at the first LRs: medium
CHECK_EPOCHS = 3  # --check-epochs default
CHECK_MARGIN = 0.01  # switch when the suggestion's best beats the recipe's by > 1% (relative)
SAME_LR = 0.05  # a suggestion within 5% of the recipe's LR needs no check
# Callbacks that only print or write files: off during the check (EMA, early stopping,
# checkpointing and the NaN guard stay: they change what a run keeps or how it ends).
CHECK_SILENT = (
    "progress_bar",
    "model_summary",
    "curve_report",
    "lr_monitor",
    "classification_plots",
    "prediction_overlays",
    "per_class_metrics",
)


@dataclass
class Suggestion:
    """Our reading of one LR range test (the rule is in the module docstring)."""

    lr: float | None  # the optimizer LR to use (None: too few points)
    rule: str  # which branch of the rule gave `lr`
    confidence: str  # high | medium | low
    reasons: list[str]  # why that confidence, in words
    smoothed: np.ndarray  # our smoothed loss, one value per finite step
    lrs: np.ndarray  # the LR of those steps
    lr_at_min: float | None = None  # LR at the minimum of the smoothed loss
    loss_at_min: float | None = None
    initial_loss: float | None = None  # the median loss of the first smoothing window
    fall: float = 0.0  # (initial - minimum) / |initial|
    region: tuple[float, float] | None = None  # LRs of the descent: start, minimum


def smoothing_width(log_lrs: np.ndarray) -> int:
    """Odd window of SMOOTH_DECADES (at least MIN_SMOOTH_POINTS steps, at most a third of
    the curve) for steps spaced evenly in log LR, as Lightning's exponential mode spaces them."""
    n = len(log_lrs)
    decades = float(log_lrs[-1] - log_lrs[0]) if n > 1 else 0.0
    per_decade = (n - 1) / decades if decades > 0 else float(n)
    width = max(MIN_SMOOTH_POINTS, min(round(SMOOTH_DECADES * per_decade), n // 3))
    return width | 1


def _running(values: np.ndarray, width: int, stat: Any) -> np.ndarray:
    """`stat` over a centred window (shrinking at the ends: no padding, no lag)."""
    half = width // 2
    return np.array([stat(values[max(0, i - half) : i + half + 1]) for i in range(len(values))])


def smooth_losses(losses: np.ndarray, width: int) -> np.ndarray:
    """Running median (a single bad batch or the blow-up spike moves nothing), then a
    running mean (the median's steps would give spiky slopes); both centred."""
    return _running(_running(losses, width, np.median), width, np.mean)


def suggest_lr(lrs: Sequence[float], losses: Sequence[float]) -> Suggestion:
    """Suggested LR from a range test's per-batch losses (`losses[k]` after a step at
    `lrs[k]`), with its confidence; see the module docstring for the rule."""
    lr = np.asarray(lrs, dtype=float)
    loss = np.asarray(losses, dtype=float)
    keep = np.isfinite(loss) & (lr > 0)
    lr, loss = lr[keep], loss[keep]
    if len(lr) < 2 * MIN_SMOOTH_POINTS:
        reason = f"only {len(lr)} finite losses: raise --find-steps"
        return Suggestion(None, "too few points", "low", [reason], loss, lr)
    x = np.log10(lr)
    width = smoothing_width(x)
    smooth = smooth_losses(loss, width)
    initial = float(np.median(loss[:width]))
    i_min = int(np.argmin(smooth))
    fall = initial - float(smooth[i_min])
    share = fall / max(abs(initial), 1e-12)
    noise = 1.4826 * float(np.median(np.abs(loss[: i_min + 1] - smooth[: i_min + 1])))
    found = Suggestion(
        None,
        "",
        "high",
        [],
        smooth,
        lr,
        lr_at_min=float(lr[i_min]),
        loss_at_min=float(smooth[i_min]),
        initial_loss=initial,
        fall=share,
    )
    if share < MIN_FALL or fall < NOISE_MULTIPLE * noise:
        found.lr = float(lr[i_min]) * FALLBACK_SHARE
        found.rule = f"{FALLBACK_SHARE:g} × the LR at the minimum loss (no clear descent)"
        found.confidence = "low"
        found.reasons.append(
            f"the loss never fell clearly: {share:.1%} below its start (a clear descent is "
            f">= {MIN_FALL:.0%} and >= {NOISE_MULTIPLE:g}× the batch noise {noise:.3g})"
        )
        return found
    # The fall into the minimum: from the last step still above START_SHARE of the fall.
    above = np.flatnonzero(smooth[: i_min + 1] > initial - START_SHARE * fall)
    start = int(above[-1]) + 1 if len(above) else 0
    found.region = (float(lr[start]), float(lr[i_min]))
    valley = float(10 ** (x[start] + VALLEY_POSITION * (x[i_min] - x[start])))
    cap = float(lr[i_min]) * MAX_SHARE_OF_MIN
    if valley <= cap:
        found.lr, found.rule = valley, "halfway through the descent, in log LR"
    else:
        found.lr = cap
        found.rule = (
            f"halfway through the descent, {valley:.2g}, capped at {MAX_SHARE_OF_MIN:.2g} × "
            "the LR at the minimum loss"
        )
    span, points = float(x[i_min] - x[start]), i_min - start + 1
    found.reasons.append(f"the loss fell {share:.0%} over {span:.1f} decades ({points} steps)")
    low, medium = [], []
    if points < MIN_DESCENT_POINTS:
        low.append(f"only {points} finder steps inside the descent: raise --find-steps")
    if span < MIN_SPAN_DECADES:
        medium.append(f"the descent spans < {MIN_SPAN_DECADES:g} decade: a narrow window")
    if i_min >= len(lr) - 1 - width // 2:
        medium.append("the loss still fell at the end of the range: raise --find-max-lr")
    slopes = np.gradient(smooth, x)  # loss per decade of LR
    steepest = float(slopes[start : i_min + 1].min())
    if float(slopes[: width // 2 + 1].mean()) < EARLY_SLOPE_SHARE * steepest < 0:
        medium.append("the loss already fell at the first LRs: lower --find-min-lr")
    found.confidence = "low" if low else "medium" if medium else "high"
    found.reasons += low + medium
    return found


def lightning_raw_losses(smoothed: Sequence[float], beta: float = LIGHTNING_BETA) -> np.ndarray:
    """The per-batch losses behind Lightning's LR-finder curve (`finder.results["loss"]`).

    `_LRCallback` keeps `avg = beta * avg + (1 - beta) * loss` and records
    `avg / (1 - beta ** (global_step + 1))`, read after the optimizer step (global_step is
    then k + 1 at the k-th finite step): the first points are biased low (the first is
    about half the loss) and the curve lags ~1/(1 - beta) = 50 steps behind the LR, 4
    decades of a 100-step search. Inverting that is exact; NaN entries (no loss) stay NaN."""
    out = np.full(len(smoothed), np.nan)
    avg_before, k = 0.0, 0
    for i, value in enumerate(smoothed):
        if not math.isfinite(value):
            continue
        k += 1
        avg = value * (1 - beta ** (k + 1))
        out[i] = (avg - beta * avg_before) / (1 - beta)
        avg_before = avg
    return out


@dataclass
class RangeTest:
    """One LR range test as it ran: Lightning's curve, the losses behind it, our reading."""

    label: str
    lrs: np.ndarray  # the optimizer LR of every step
    lightning_losses: np.ndarray  # Lightning's smoothed curve (finder.results["loss"])
    losses: np.ndarray  # per-batch losses recovered from it
    requested_steps: int
    lightning_suggestion: float | None  # LRFinder.suggestion(): steepest d loss / d lr
    suggestion: Suggestion
    recipe_lr: float  # the config's optimizer.lr
    lr_scale: float  # optimizer LR / optimizer.lr (linear batch-size scaling, else 1)
    monitor: str
    monitor_mode: str

    @property
    def steps(self) -> int:
        return len(self.lrs)

    @property
    def stopped_early(self) -> bool:
        """Lightning stops when its smoothed loss exceeds 4× its best (diverged)."""
        return self.steps < self.requested_steps

    def override(self, lr: float) -> float:
        """The `optimizer.lr=` value that gives the optimizer LR `lr`."""
        return lr / self.lr_scale


def find_lr(
    overrides: Sequence[str],
    num_training: int = 100,
    min_lr: float = 1e-8,
    max_lr: float = 1.0,
) -> RangeTest:
    """Lightning's LR range test on the composed config (seeded as `ocec-train` seeds a
    run), read with `suggest_lr`."""
    import lightning.pytorch as pl
    from lightning.pytorch.tuner import Tuner

    from ocec_lightning.config.compose import compose_config
    from ocec_lightning.optim.optimizer import scaled_lr
    from ocec_lightning.training import build_run

    with tempfile.TemporaryDirectory() as tmp, _quiet():
        cfg = compose_config(list(overrides), output_dir=tmp)
        pl.seed_everything(int(cfg.seed), workers=True)
        # Only the training loss is read: no validation epochs in between; and the search
        # ends after num_training steps, not at the recipe's max_epochs (small data).
        search = {
            "check_val_every_n_epoch": NO_VALIDATION,
            "num_sanity_val_steps": 0,
            "max_epochs": max(1, num_training),
        }
        run = build_run(cfg, search)
        trainer = run.trainer
        batch = int(run.datamodule.batch_size) * trainer.world_size
        batch *= int(trainer.accumulate_grad_batches)
        finder = Tuner(trainer).lr_find(
            run.task,
            datamodule=run.datamodule,
            num_training=num_training,
            min_lr=min_lr,
            max_lr=max_lr,
            update_attr=False,
        )
        if finder is None:  # fast_dev_run: Lightning skips the search
            raise ConfigError("trainer.fast_dev_run", True, "false for the LR finder")
        lightning = finder.suggestion()
    lrs = np.asarray(finder.results["lr"], dtype=float)
    smoothed = np.asarray(finder.results["loss"], dtype=float)
    losses = lightning_raw_losses(smoothed)
    return RangeTest(
        label=" ".join(overrides) or "defaults",
        lrs=lrs,
        lightning_losses=smoothed,
        losses=losses,
        requested_steps=num_training,
        lightning_suggestion=None if lightning is None else float(lightning),
        suggestion=suggest_lr(lrs, losses),
        recipe_lr=float(cfg.optimizer.lr),
        lr_scale=scaled_lr(1.0, batch, cfg.optimizer.get("base_batch_size")),
        monitor=str(cfg.task.monitor),
        monitor_mode=str(cfg.task.monitor_mode),
    )


@dataclass
class CheckRun:
    """A short training at one `optimizer.lr`, read back from its run directory."""

    name: str  # recipe | suggestion
    lr: float  # optimizer.lr
    status: str  # summary.json status: completed, stopped_nonfinite_loss, ...
    last: float | None  # the monitored value at the last validated epoch
    best: float | None  # ... and the best one (what the run's checkpoint keeps)
    best_epoch: int | None
    epochs: int  # validated epochs
    seconds: float


def check_lr(overrides: Sequence[str], lr: float, name: str, epochs: int, out: Path) -> CheckRun:
    """Train `epochs` epochs with `optimizer.lr=lr` through `run_training` (the recipe's
    seed, data, callbacks that change training; output-only callbacks off, csv logger only,
    no test) into `out`, quietly, and read the monitored metric back from the run dir."""
    from omegaconf import open_dict

    from ocec_lightning.analysis.history import load_history
    from ocec_lightning.callbacks.finite_guard import NonFiniteError
    from ocec_lightning.config.compose import compose_config
    from ocec_lightning.training import run_training
    from ocec_lightning.utils.console import console

    short = [f"optimizer.lr={lr:.6g}", f"trainer.max_epochs={epochs}", "test=false", "logger=csv"]
    cfg = compose_config([*overrides, *short], output_dir=out)
    with open_dict(cfg):
        callbacks = cfg.get("callbacks") or {}
        for key in CHECK_SILENT:
            if key in callbacks:
                callbacks[key] = None
        # ... and not Lightning's default (rich) progress bar and model summary instead.
        cfg.trainer.enable_progress_bar = False
        cfg.trainer.enable_model_summary = False
    started, status = time.time(), "completed"
    with console.capture(), _quiet():
        try:
            run_training(cfg)
        except NonFiniteError as err:  # a diverging LR is an answer, not a failure
            status = err.status
    history = load_history(out, monitor=str(cfg.task.monitor), mode=str(cfg.task.monitor_mode))
    values = history.get("monitor")
    finite = np.isfinite(values) if values is not None else np.zeros(0, dtype=bool)
    last = best = best_epoch = None
    if values is not None and finite.any():
        last = float(values[finite][-1])
        pick = np.nanargmax if history.mode == "max" else np.nanargmin
        at = int(pick(np.where(finite, values, np.nan)))
        best, best_epoch = float(values[at]), int(history.epochs[at])
    return CheckRun(
        name, lr, status, last, best, best_epoch, int(finite.sum()), time.time() - started
    )


def check_verdict(recipe: CheckRun, suggested: CheckRun, mode: str) -> tuple[str, str]:
    """("keep" | "switch", why), by the best monitored value of each short run."""
    if suggested.best is None:
        return "keep", f"the suggestion did not train ({suggested.status})"
    if recipe.best is None:
        return "switch", f"the recipe's LR did not train ({recipe.status})"
    gain = (suggested.best - recipe.best) * (1 if mode == "max" else -1)
    margin = CHECK_MARGIN * max(abs(recipe.best), 1e-12)
    if gain > margin:
        return "switch", f"its best is better by {abs(gain):.3g}"
    if gain < -margin:
        return "keep", f"the recipe's best is better by {abs(gain):.3g}"
    return "keep", f"the same within {CHECK_MARGIN:.0%}: nothing to gain from switching"


@dataclass
class FindReport:
    """What `--find` found: the range test, and the check's runs with its verdict."""

    test: RangeTest
    runs: list[CheckRun] = field(default_factory=list)  # recipe, suggestion (when checked)
    decision: str | None = None  # keep | switch
    why: str = ""


def find(args: argparse.Namespace) -> FindReport:
    """`--find`: range test, suggestion + confidence, plot, and (unless --no-check) the
    check, printed as they come."""
    from ocec_lightning.analysis.lr.plot import print_check, print_find, save_find_plot
    from ocec_lightning.utils.console import console

    out = args.out or Path("lr_find.png")
    test = find_lr(args.overrides, args.find_steps, args.find_min_lr, args.find_max_lr)
    save_find_plot(test, out)
    print_find(test, console)
    console.print(f"LR finder plot: {out}", soft_wrap=True, highlight=False)
    report = FindReport(test)
    if test.suggestion.lr is None or not args.check:
        return report
    suggested = float(f"{test.override(test.suggestion.lr):.2g}")  # the value printed
    if math.isclose(suggested, test.recipe_lr, rel_tol=SAME_LR):
        console.print("check: the suggestion is the recipe's optimizer.lr, nothing to compare")
        return report
    console.print(
        f"check: {args.check_epochs} epoch(s) at optimizer.lr={test.recipe_lr:.2g} (recipe) "
        f"and {suggested:.2g} (suggestion), same seed and data …",
        highlight=False,
        soft_wrap=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        report.runs = [
            check_lr(args.overrides, lr, name, args.check_epochs, Path(tmp) / name)
            for name, lr in (("recipe", test.recipe_lr), ("suggestion", suggested))
        ]
    report.decision, report.why = check_verdict(*report.runs, test.monitor_mode)
    print_check(report.runs, test, report.decision, report.why, console)
    return report
