"""`ocec-analyze monitor`: statistics and warnings of one refresh, watching a fake run dir
that grows between refreshes (finished / failed / stale / waiting), the terminal view,
and a real short training watched while it runs."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from ocec_lightning.analysis.history import load_history
from ocec_lightning.analysis.runs import monitor
from ocec_lightning.errors import DataError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    monitor.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_snapshot_statistics(tmp_path, write_run):
    f1 = [0.1, 0.3, 0.5, 0.6, 0.65, 0.7, 0.72]
    run = write_run(tmp_path / "run", val_f1=f1, val_loss=None, train_loss=None, lr=None)
    snap = monitor.snapshot(load_history(run), last=5)
    assert (snap.epochs, snap.last_epoch, snap.max_epochs) == (7, 6, 20)
    assert snap.monitor == "val/f1" and snap.latest == 0.72 and snap.best == (6, 0.72)
    assert snap.window == 5 and snap.mean == pytest.approx(np.mean(f1[-5:]))
    assert snap.slope == pytest.approx(np.polyfit(range(5), f1[-5:], 1)[0])
    assert snap.lr_now is None and snap.losses == {} and snap.warnings == []
    assert snap.curve[0] == "▁" and snap.curve[-1] == "█" and len(snap.curve) == 7


def test_lr_now_vs_first(tmp_path, write_run):
    run = write_run(tmp_path / "run", lr=[1e-3, 5e-4, 2.5e-4])
    snap = monitor.snapshot(load_history(run))
    assert (snap.lr_now, snap.lr_initial) == (2.5e-4, 1e-3)
    text = _render_text(monitor.render(snap))
    assert "0.00025 now · 0.001 first (25%)" in text and "train/loss_epoch" in text


def _render_text(renderable) -> str:
    console = Console(file=io.StringIO(), width=120)
    console.print(renderable)
    return console.file.getvalue()


def test_decode_stagnation_is_warned(tmp_path, write_run):
    rng = np.random.default_rng(0)
    loss = list(
        4.255 + 0.003 * rng.standard_normal(25)
    )  # the DECODE loss the adaptive-LR scheme was written for: stuck at 4.25-4.26
    f1 = list(np.linspace(0.2, 0.6, 25))
    run = write_run(tmp_path / "run", val_f1=f1, train_loss=loss, val_loss=None, lr=None)
    warnings = monitor.snapshot(load_history(run), last=20).warnings
    assert len(warnings) == 1 and warnings[0].startswith("stagnation: train/loss_epoch")
    assert "last 20 epochs" in warnings[0] and "LR ×1.5" in warnings[0]


def test_val_loss_rising_nan_and_no_new_best(tmp_path, write_run):
    n = 12
    f1 = [0.5 + 0.02 * e for e in range(6)] + [0.55] * 6
    train = [1.0 - 0.05 * e for e in range(n)]
    val = [0.8 - 0.02 * e for e in range(6)] + [0.7 + 0.05 * e for e in range(6)]
    val[-1] = float("nan")
    run = write_run(tmp_path / "run", val_f1=f1, train_loss=train, val_loss=val, lr=None)
    warnings = monitor.warnings_for(load_history(run), last=6)
    assert warnings[0] == "val/loss is NaN/inf (first at epoch 11)"
    assert warnings[1].startswith("val loss rising") and "overfitting" in warnings[1]
    assert any("stagnation: val/f1" in w for w in warnings)
    assert warnings[-1] == "no new best val/f1 for 6 epochs (early-stopping patience 5)"


def test_sparkline_scales_and_marks_nan():
    line = monitor.sparkline(np.array([0.0, 1.0, np.nan, 0.5]))
    assert line == "▁█ ▅"
    assert monitor.sparkline(np.array([np.nan])) == ""
    assert len(monitor.sparkline(np.arange(100.0), width=30)) == 30


class GrowingRun:
    """A fake run that logs one more epoch at each `sleep` and finishes after `epochs`."""

    def __init__(self, write_csv, run: Path, epochs: int, finish: str = "summary") -> None:
        self.write_csv, self.run, self.epochs, self.finish = write_csv, run, epochs, finish
        self.logged = 0

    def sleep(self, seconds: float) -> None:
        self.logged += 1
        f1 = [0.5 + 0.01 * e for e in range(self.logged)]
        self.write_csv(self.run / "csv" / "metrics.csv", val_f1=f1, test_row=False)
        if self.logged == self.epochs:
            name = "summary.json" if self.finish == "summary" else "failure.json"
            (self.run / name).write_text('{"seconds": 1.0, "error": "boom"}')


def test_watch_refreshes_until_the_run_finishes(tmp_path, write_run, lightning_csv, capsys):
    run = write_run(tmp_path / "run", val_f1=None, seconds=None)  # started: config only
    fake = GrowingRun(lightning_csv, run, epochs=3)
    result = monitor.watch(run, interval=0.01, sleep=fake.sleep)
    assert result.reason == "finished" and result.refreshes == 4
    assert result.epoch_counts == [0, 1, 2, 3]
    out = capsys.readouterr().out
    assert "waiting for metrics" in out and "[monitor] epoch 2 (3 logged)" in out
    assert "finished" in out  # the final panel


def test_watch_failed_run_exits_1(tmp_path, write_run, lightning_csv, monkeypatch):
    run = write_run(tmp_path / "run", val_f1=None, seconds=None)
    fake = GrowingRun(lightning_csv, run, epochs=2, finish="failure")
    monkeypatch.setattr(monitor.time, "sleep", fake.sleep)
    assert monitor.run(_args(str(run), "--interval", "0")) == 1
    assert fake.logged == 2


def test_watch_stops_when_the_log_goes_stale(tmp_path, write_run):
    run = write_run(tmp_path / "run", seconds=None)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    result = monitor.watch(
        run, interval=10, stale_after=35, sleep=sleep, clock=lambda: now[0], console=Console()
    )
    assert result.reason == "stale" and result.refreshes == 4 and now[0] == 40


def test_live_view_in_a_terminal(tmp_path, write_run):
    run = write_run(tmp_path / "run")
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    result = monitor.watch(run, console=console)
    text = console.file.getvalue()
    assert result.reason == "finished" and "monitor —" in text and "val/f1 (max)" in text


def test_once_and_bad_input(tmp_path, write_run, capsys):
    run = write_run(tmp_path / "run", seconds=None)
    assert monitor.run(_args(str(run), "--once")) == 0
    out = capsys.readouterr().out
    assert "latest 0.7000 · best 0.7000 at epoch 2" in out and "[monitor]" not in out
    empty = write_run(tmp_path / "empty", val_f1=None, seconds=None)
    with pytest.raises(DataError, match="no metrics found"):
        monitor.run(_args(str(empty), "--once"))
    with pytest.raises(DataError, match="no such run directory"):
        monitor.watch(tmp_path / "missing")


@pytest.mark.slow
def test_monitor_a_real_training(tmp_path):
    """A tiny real training in a subprocess; monitor follows its run dir as it appears."""
    env = {**os.environ, "OCEC_ROOT": str(tmp_path), "OCEC_CACHE_DIR": str(tmp_path / "cache")}
    overrides = [
        "data.source.num_samples=240",
        "data.batch_size=32",
        "data.num_workers=0",
        "trainer.max_epochs=4",
        "trainer.limit_train_batches=3",
        "trainer.num_sanity_val_steps=0",
        "callbacks.progress_bar=null",
        "callbacks.model_summary=null",
        "callbacks=minimal",  # no EMA, curve report or per-epoch plots: seconds saved
        "callbacks.classification_plots=null",
        "test=false",
    ]
    train = Path(sys.executable).with_name("ocec-train")
    proc = subprocess.Popen(
        [str(train), *overrides],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.append(proc.stderr.read()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 180
        runs: list[Path] = []
        while not runs and proc.poll() is None and time.monotonic() < deadline:
            runs = list(tmp_path.glob("outputs/*/runs/*"))
            time.sleep(0.1)
        assert runs, f"no run dir appeared: {''.join(stderr)[-2000:]}"
        result = monitor.watch(runs[0], interval=0.2, stale_after=120)
        assert proc.wait(timeout=120) == 0, "".join(stderr)[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert result.reason == "finished"
    counts = [c for c in result.epoch_counts if c]
    assert len(set(counts)) >= 2 and counts == sorted(counts)  # refreshed as epochs grew
    assert counts[-1] == 4 and result.last.monitor == "val/f1"
