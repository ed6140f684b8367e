"""`ocec-analyze monitor RUN_DIR`: a live curve summary of a training run.

Every `--interval` seconds the run's log is read again (`history.load_history`, which
copes with a file still being written) and summarised: epochs so far, latest and best
monitored value, mean ± std and least-squares trend of the last N epochs, the LR now vs
its first value, a sparkline of the metric and the top warnings that are cheap to
compute (NaN / inf, stagnation as the adaptive-LR (DECODE rewrite) monitor defines it —
small variance and no downward trend over a window —, val loss rising, no new best for a
patience's worth of epochs). The full diagnosis of a finished run is `ocec-analyze
curves`.

The view is rich's `Live` in a terminal; elsewhere (logs, tests) one line per refresh.
It ends when the run does: `summary.json` (finished) or `failure.json` (failed) appears,
or the log has not changed for `--stale-after` seconds; `--once` refreshes once.
Hand-written: the statistics (numpy), the warning rules and the layout.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ocec_lightning.analysis.history import load_history, locate_log
from ocec_lightning.analysis.history.model import History
from ocec_lightning.analysis.runs.compare import best_of, last_finite
from ocec_lightning.errors import DataError
from ocec_lightning.run_dir import FAILURE_FILE, SUMMARY_FILE
from ocec_lightning.utils.console import console as default_console

BLOCKS = "▁▂▃▄▅▆▇█"
STAGNANT_REL_STD = 0.01  # std below 1% of the window's mean ...
STAGNANT_REL_GAIN = 0.01  # ... and less than 1% improvement over the window
RISING_REL = 0.02  # val loss up more than 2% over the window
MIN_WINDOW = 5  # trend and stagnation need this many finite epochs


@dataclass
class Snapshot:
    """What one refresh shows (None where the log has nothing yet)."""

    run: str
    epochs: int = 0
    last_epoch: int | None = None
    max_epochs: int | None = None
    monitor: str | None = None
    mode: str = "max"
    latest: float | None = None
    best: tuple[int, float] | None = None
    window: int = 0  # finite epochs in the last-N statistics
    mean: float | None = None
    std: float | None = None
    slope: float | None = None  # per epoch, least squares over the window
    lr_now: float | None = None
    lr_initial: float | None = None
    losses: dict[str, float] = field(default_factory=dict)  # role -> latest value
    curve: str = ""
    warnings: list[str] = field(default_factory=list)
    note: str | None = None  # e.g. "waiting for the first epoch"


@dataclass
class WatchResult:
    """How watching ended and what the refreshes saw."""

    reason: str  # finished | failed | stale | once
    refreshes: int = 0
    epoch_counts: list[int] = field(default_factory=list)
    last: Snapshot | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="the run directory (or its log)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between reads")
    parser.add_argument("--once", action="store_true", help="refresh once and exit")
    parser.add_argument(
        "--stale-after", type=float, default=1800.0, help="exit when the log is this old (s)"
    )
    parser.add_argument("--last", type=int, default=10, help="epochs of the window statistics")
    parser.add_argument("--monitor", help="metric to follow (default: the run's monitor)")


def run(args: argparse.Namespace) -> int:
    result = watch(
        args.run_dir,
        interval=args.interval,
        once=args.once,
        stale_after=args.stale_after,
        last=max(2, args.last),
        monitor=args.monitor,
    )
    messages = {
        "finished": "run finished (summary.json written)",
        "failed": "run failed (see failure.json)",
        "stale": f"no new rows for {args.stale_after:.0f} s; stopped watching",
        "once": "",
    }
    if messages[result.reason]:
        default_console.print(messages[result.reason], highlight=False)
    return 1 if result.reason == "failed" else 0


def _slope(values: np.ndarray) -> float | None:
    """Least-squares slope per epoch of the finite values (None below MIN_WINDOW)."""
    x = np.flatnonzero(np.isfinite(values))
    if x.size < MIN_WINDOW:
        return None
    return float(np.polyfit(x.astype(float), values[x], 1)[0])


def sparkline(values: np.ndarray, width: int = 60) -> str:
    """The last `width` values as blocks scaled min..max (NaN / inf: a space)."""
    tail = values[-width:]
    finite = tail[np.isfinite(tail)]
    if finite.size == 0:
        return ""
    low, span = float(finite.min()), float(finite.max() - finite.min()) or 1.0
    top = len(BLOCKS) - 1
    return "".join(
        BLOCKS[int(round((v - low) / span * top))] if math.isfinite(v) else " " for v in tail
    )


def _stagnation(key: str, values: np.ndarray, lower_is_better: bool, last: int) -> str | None:
    window = last_finite(values, last)
    if window.size < MIN_WINDOW:
        return None
    scale = max(abs(float(window.mean())), 1e-12)
    slope = _slope(window) or 0.0
    gain = (-slope if lower_is_better else slope) * (window.size - 1) / scale
    rel_std = float(window.std()) / scale
    if rel_std < STAGNANT_REL_STD and gain < STAGNANT_REL_GAIN:
        return (
            f"stagnation: {key} over the last {window.size} epochs varies {rel_std:.2%} of its "
            f"mean (var {window.var():.2g}) with no trend ({slope:+.3g}/epoch); "
            "the adaptive-LR monitor's rule: "
            "raise the LR ×1.5 or restart it"
        )
    return None


def warnings_for(history: History, last: int = 10) -> list[str]:
    """The cheap warnings, most serious first (NaN, val loss rising, stagnation, no best)."""
    found: list[str] = []
    for role in ("train_loss", "val_loss", "monitor"):
        key = history.roles.get(role)
        values = history.series[key] if key else None
        if values is None or np.isfinite(values).all():
            continue
        first = int(history.epochs[np.flatnonzero(~np.isfinite(values))[0]])
        state = "is" if not np.isfinite(values[-1]) else "was"
        found.append(f"{key} {state} NaN/inf (first at epoch {first})")
    val, train = history.get("val_loss"), history.get("train_loss")
    if val is not None:
        window = last_finite(val, last)
        slope = _slope(window)
        if slope is not None and slope * (window.size - 1) > RISING_REL * abs(window.mean()):
            rise = slope * (window.size - 1) / abs(window.mean())
            falling = train is not None and (_slope(last_finite(train, last)) or 0.0) < 0
            why = " while train loss falls: overfitting" if falling else ""
            found.append(f"val loss rising: +{rise:.1%} over the last {window.size} epochs{why}")
    checks = [(history.monitor, history.series[history.monitor], history.mode == "min")]
    if history.roles.get("train_loss") and history.roles["train_loss"] != history.monitor:
        checks.append((str(history.roles["train_loss"]), train, True))
    for key, values, lower in checks:
        message = _stagnation(key, values, lower, last)
        if message:
            found.append(message)
    best = best_of(history)
    patience = history.settings.early_stopping_patience if history.settings else None
    since = int(history.epochs[-1]) - best[0] if best else 0
    if best and since >= (patience or last):
        limit = f"early-stopping patience {patience}" if patience else f"--last {last}"
        found.append(f"no new best {history.monitor} for {since} epochs ({limit})")
    return found


def snapshot(history: History, last: int = 10) -> Snapshot:
    """The summary one refresh shows."""
    values = history.series[history.monitor]
    window = last_finite(values, last)
    finite = last_finite(values)
    lr = history.get("lr")
    lrs = last_finite(lr) if lr is not None else np.array([])
    losses = {}
    for role in ("train_loss", "val_loss"):
        series = history.get(role)
        if series is not None and len(series):
            losses[str(history.roles[role])] = float(series[-1])
    return Snapshot(
        run=history.source,
        epochs=len(history),
        last_epoch=int(history.epochs[-1]),
        max_epochs=history.settings.max_epochs if history.settings else None,
        monitor=history.monitor,
        mode=history.mode,
        latest=float(finite[-1]) if finite.size else None,
        best=best_of(history),
        window=int(window.size),
        mean=float(window.mean()) if window.size else None,
        std=float(window.std()) if window.size else None,
        slope=_slope(values[-last:]),
        lr_now=float(lrs[-1]) if lrs.size else None,
        lr_initial=float(lrs[0]) if lrs.size else None,
        losses=losses,
        curve=sparkline(values),
        warnings=warnings_for(history, last),
    )


def _num(value: float | None, spec: str = ".4f") -> str:
    return "—" if value is None else format(value, spec)


def summary_line(snap: Snapshot) -> str:
    """One line per refresh for logs (no terminal)."""
    if snap.note:
        return f"[monitor] {snap.note}"
    best = f"{_num(snap.best[1])} @ {snap.best[0]}" if snap.best else "—"
    trend = f", slope {_num(snap.slope, '+.3g')}/ep" if snap.slope is not None else ""
    return (
        f"[monitor] epoch {snap.last_epoch} ({snap.epochs} logged) {snap.monitor} "
        f"{_num(snap.latest)} best {best} mean(last {snap.window}) {_num(snap.mean)}{trend}"
        + "".join(f"\n  ! {w}" for w in snap.warnings[:3])
    )


def render(snap: Snapshot, status: str = "running") -> Panel:
    """The live panel."""
    if snap.note:
        return Panel(Text(snap.note), title=f"monitor — {snap.run}", subtitle=status)
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    of = f" of max_epochs {snap.max_epochs}" if snap.max_epochs else ""
    table.add_row("epoch", f"{snap.last_epoch} ({snap.epochs} logged{of})")
    best = f"{_num(snap.best[1])} at epoch {snap.best[0]}" if snap.best else "—"
    table.add_row(f"{snap.monitor} ({snap.mode})", f"latest {_num(snap.latest)} · best {best}")
    stats = f"mean {_num(snap.mean)} ± {_num(snap.std)}"
    trend = f" · trend {_num(snap.slope, '+.3g')}/epoch" if snap.slope is not None else ""
    table.add_row(f"last {snap.window}", stats + trend)
    for key, value in snap.losses.items():
        table.add_row(key, _num(value))
    if snap.lr_now is not None and snap.lr_initial:
        share = snap.lr_now / snap.lr_initial
        table.add_row("LR", f"{snap.lr_now:.3g} now · {snap.lr_initial:.3g} first ({share:.0%})")
    table.add_row("curve", Text(snap.curve, style="cyan"))
    warnings = [Text(f"⚠ {w}", style="yellow") for w in snap.warnings[:3]]
    return Panel(Group(table, *warnings), title=f"monitor — {snap.run}", subtitle=status)


def _fingerprint(path: Path) -> tuple[int, int] | None:
    """(mtime, size) of the log (an event dir: its newest file), None before it exists."""
    try:
        log = locate_log(path)
    except DataError:
        return None
    files = [p for p in log.iterdir() if p.is_file()] if log.is_dir() else [log]
    stats = [p.stat() for p in files]
    return (max(s.st_mtime_ns for s in stats), sum(s.st_size for s in stats)) if stats else None


def _ended(path: Path) -> str | None:
    folder = path if path.is_dir() else path.parent
    if (folder / FAILURE_FILE).is_file():
        return "failed"
    return "finished" if (folder / SUMMARY_FILE).is_file() else None


def watch(
    run_dir: str | Path,
    *,
    interval: float = 30.0,
    once: bool = False,
    stale_after: float = 1800.0,
    last: int = 10,
    monitor: str | None = None,
    console: Console | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> WatchResult:
    """Refresh the summary of `run_dir` until the run ends (see the module docstring).
    `sleep` / `clock` (default: `time.sleep` / `time.monotonic`) let tests drive time."""
    sleep, clock = sleep or time.sleep, clock or time.monotonic
    path = Path(run_dir)
    if not path.exists():
        raise DataError(f"{path}: no such run directory; expected the run dir of a training")
    out = console or default_console
    result = WatchResult(reason="once")
    print_plain = not out.is_terminal
    live = None if print_plain else Live(console=out, auto_refresh=False, transient=False)
    seen, changed_at = _fingerprint(path), clock()
    try:
        if live is not None:
            live.start()
        while True:
            ended = _ended(path)
            try:
                snap = snapshot(load_history(path, monitor=monitor), last)
            except DataError as err:  # nothing logged yet (or not yet the metric)
                if once:
                    raise
                snap = Snapshot(run=str(path), note=f"waiting for metrics: {err}")
            status = ended or "running"
            result.refreshes += 1
            result.epoch_counts.append(snap.epochs)
            result.last = snap
            if live is not None:
                live.update(render(snap, status), refresh=True)
            elif not once:
                out.print(summary_line(snap), soft_wrap=True, highlight=False, markup=False)
            if ended or once:
                result.reason = ended or "once"
                break
            sleep(interval)
            current = _fingerprint(path)
            if current != seen:
                seen, changed_at = current, clock()
            elif clock() - changed_at >= stale_after:
                result.reason = "stale"
                break
    finally:
        if live is not None:
            live.stop()
    if print_plain and result.last is not None and (once or not result.last.note):
        out.print(render(result.last, result.reason))
    return result
