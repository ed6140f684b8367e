"""Nothing already written is lost (issue 11): a data set without test rows,
a run directory that already holds checkpoints, a diverging run and any other ending
leave the run directory with finite checkpoints and a summary.json saying how it ended."""

from __future__ import annotations

import json
import logging
import math
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch

from ocec_lightning import training
from ocec_lightning.callbacks import build_callbacks
from ocec_lightning.callbacks.finite_guard import NonFiniteError
from ocec_lightning.cli.hydra_app import run_guarded
from ocec_lightning.errors import ConfigError
from ocec_lightning.run_dir import refusal

FAST = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.limit_test_batches=1",
    "trainer.num_sanity_val_steps=0",
    "~callbacks.curve_report",
    "~callbacks.classification_plots",
    "model.base_channels=8",  # a small model: each run takes seconds
    "model.num_blocks=4",
]
KEEP_ALL = ["callbacks.model_checkpoint.save_top_k=-1"]  # every epoch's checkpoint is written
NO_TEST_ROWS = ["data.splits={train: 0.75, val: 0.25, test: 0}"]


def _summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def _all_finite(path: str | Path) -> bool:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    weights = {**ckpt["state_dict"], **ckpt.get("current_model_state", {})}
    return all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def _with_callback(monkeypatch: pytest.MonkeyPatch, callback: pl.Callback) -> None:
    """Add a test callback to the run's callbacks (after the configured ones)."""
    monkeypatch.setattr(training, "build_callbacks", lambda cfg: [*build_callbacks(cfg), callback])


class _Hook(pl.Callback):
    """Calls `action(trainer, pl_module)` from one hook at one (epoch, batch)."""

    def __init__(self, hook: str, epoch: int, batch: int, action: Callable[..., None]) -> None:
        self.epoch, self.batch, self.action = epoch, batch, action
        setattr(self, hook, self._maybe)

    def _maybe(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        batch_idx = args[-1] if args and isinstance(args[-1], int) else 0
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            self.action(trainer, pl_module)


def _poison(trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
    with torch.no_grad():
        for param in pl_module.parameters():
            param.fill_(float("nan"))


# -- no test rows ------------------------------------------------------------------------
def test_no_test_rows_skips_testing_said_at_the_start(
    make_cfg, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ocec_lightning.training"):
        result = training.run_training(make_cfg([*FAST, *NO_TEST_ROWS]))
    said = [r.getMessage() for r in caplog.records if r.name == "ocec_lightning.training"]
    assert said and said[0].startswith("no test rows (train=")
    assert "test=0): testing is skipped after fit; set test_split=val to test on val" in said[0]
    summary = _summary(tmp_path / "run")
    assert summary["status"] == "completed" and summary["error"] is None
    assert summary["test_split"] is None and summary["test_skipped"] == said[0]
    assert summary["test_metrics"] == {} and result.test_metrics == {}
    assert Path(summary["best_checkpoint"]).is_file()


def test_test_split_val_tests_the_best_checkpoint_on_val(make_cfg, tmp_path: Path) -> None:
    result = training.run_training(make_cfg([*FAST, *NO_TEST_ROWS, "test_split=val"]))
    summary = _summary(tmp_path / "run")
    assert summary["status"] == "completed" and summary["test_split"] == "val"
    assert summary["test_skipped"] is None
    assert {"test/f1", "test/f1_tuned", "test/threshold"} <= set(result.test_metrics)
    assert summary["test_metrics"] == pytest.approx(result.test_metrics)


def test_test_split_accepts_only_test_or_val(make_cfg, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'test_split' = 'train' is invalid: one of test, val"):
        training.run_training(make_cfg(["test_split=train"]))
    assert not (tmp_path / "run" / "config.yaml").exists()


# -- an existing run directory -----------------------------------------------------------
def test_a_run_dir_with_checkpoints_is_refused_before_anything_is_written(
    make_cfg, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    earlier = run_dir / "checkpoints" / "last.ckpt"
    earlier.write_bytes(b"an earlier run's weights")
    (run_dir / "summary.json").write_text('{"status": "completed"}')
    with pytest.raises(ConfigError) as info:
        training.run_training(make_cfg(FAST))
    message = str(info.value)
    assert "\n" not in message and info.value.key == "paths.output_dir"
    assert f"'{run_dir}'" in message and "already holds 1 checkpoint(s)" in message
    assert f"ckpt_path={earlier}" in message and "another paths.output_dir" in message
    assert earlier.read_bytes() == b"an earlier run's weights"
    assert not (run_dir / "config.yaml").exists()
    assert (run_dir / "summary.json").read_text() == '{"status": "completed"}'


def test_resuming_from_the_run_dir_is_allowed(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    for ckpt in (run / "checkpoints" / "last.ckpt", "last"):
        assert refusal(run, [], str(ckpt)) is None
    why = refusal(run, [], str(tmp_path / "other" / "last.ckpt"))
    assert why is not None and "already holds 1 checkpoint(s)" in why
    # A model_checkpoint writing elsewhere: its folder counts too.
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "best.ckpt").write_bytes(b"weights")
    assert refusal(tmp_path / "new", [tmp_path / "elsewhere"], None) is not None


# -- a diverging run ---------------------------------------------------------------------
def test_nan_loss_stops_at_once_and_keeps_the_finite_checkpoints(
    make_cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # Weights turned NaN before the first batch of epoch 1: that batch's loss is NaN.
    _with_callback(monkeypatch, _Hook("on_train_batch_start", 1, 0, _poison))
    with pytest.raises(SystemExit) as info:  # as ocec-train runs it
        run_guarded(training.run_training, make_cfg(FAST))
    assert info.value.code == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1
    message = errors[0].removeprefix("error: ")
    assert message.startswith("training loss is nan at epoch 1, global step 3 (batch 0")
    summary = _summary(tmp_path / "run")
    assert summary["status"] == "stopped_nonfinite_loss"
    assert summary["error"] == f"NonFiniteError: {message}"
    assert summary["epochs"] == 1 and summary["test_metrics"] == {}
    files = sorted((tmp_path / "run" / "checkpoints").glob("*"))  # partial files too
    assert len(files) == 2 and files[0].name.startswith("epoch000-")
    assert files[1].name == "last.ckpt"
    assert all(_all_finite(f) for f in files)
    assert summary["best_checkpoint"] == str(files[0]) and summary["best_score"] is not None
    last = torch.load(files[1], map_location="cpu", weights_only=True)
    assert last["epoch"] == 0 and last["global_step"] == 2


def test_nonfinite_weights_are_never_saved_and_validation_still_gives_metrics(
    make_cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Weights turned NaN after the last training batch of epoch 1, so the loss check does
    # not see it: validation runs on NaN weights (every probability NaN) and the
    # checkpoint that would follow is refused. No EMA: validation sees the raw weights.
    _with_callback(monkeypatch, _Hook("on_validation_start", 1, 0, _poison))
    with pytest.raises(NonFiniteError) as info:
        training.run_training(
            make_cfg([*FAST, "callbacks.ema=null", "callbacks.model_checkpoint.save_top_k=-1"])
        )
    assert str(info.value).startswith("model weights are non-finite (")
    assert "at epoch 1, global step 4: checkpoint not written" in str(info.value)
    summary = _summary(tmp_path / "run")
    assert summary["status"] == "stopped_nonfinite_weights"
    files = sorted((tmp_path / "run" / "checkpoints").glob("*"))
    assert [f.name for f in files if not f.name.startswith("epoch000")] == ["last.ckpt"]
    assert all(_all_finite(f) for f in files)
    assert Path(summary["best_checkpoint"]).name.startswith("epoch000")
    metrics = (tmp_path / "run" / "csv" / "metrics.csv").read_text().splitlines()
    header, rows = metrics[0].split(","), [line.split(",") for line in metrics[1:]]
    column = header.index("val/threshold")
    thresholds = [float(r[column]) for r in rows if r[column]]
    assert len(thresholds) == 2 and all(0 <= t <= 1 for t in thresholds)


# -- any other ending --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "status", "raised"),
    [
        (KeyboardInterrupt(), "interrupted", SystemExit),  # Lightning: sys.exit(1)
        (RuntimeError("disk on fire\nsecond line"), "failed", RuntimeError),
    ],
)
def test_every_ending_writes_summary_and_reraises(
    error: BaseException,
    status: str,
    raised: type[BaseException],
    make_cfg,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def _raise(trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        raise error

    _with_callback(monkeypatch, _Hook("on_train_batch_end", 0, 1, _raise))
    sigint = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(raised):
            training.run_training(make_cfg(FAST))
    finally:
        signal.signal(signal.SIGINT, sigint)  # Lightning ignores Ctrl+C after the first
    summary = _summary(tmp_path / "run")
    assert summary["status"] == status
    expected = "KeyboardInterrupt" if status == "interrupted" else "RuntimeError: disk on fire"
    assert summary["error"] == expected
    assert summary["run_dir"] == str(tmp_path / "run") and summary["epochs"] == 0
    assert math.isfinite(summary["seconds"])


def test_a_config_error_while_building_is_recorded_too(make_cfg, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="optimizer.lr"):
        training.run_training(make_cfg(["optimizer.lr=100"]))
    summary = _summary(tmp_path / "run")
    assert summary["status"] == "failed" and "optimizer.lr" in summary["error"]
    assert summary["best_checkpoint"] is None
