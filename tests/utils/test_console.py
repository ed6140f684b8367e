"""The run summary prints whole paths, whatever the console width."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ocec_lightning.training import TrainResult
from ocec_lightning.utils.console import print_summary

LONG = "/data/experiments/ocec/outputs/classification/runs/2026-12-02_04-37-34-884467"


@pytest.mark.parametrize("width", [40, 80, 200])
def test_summary_paths_are_never_cut(width: int) -> None:
    result = TrainResult(
        run_dir=LONG,
        monitor="val/f1",
        best_score=0.98312,
        best_checkpoint=f"{LONG}/checkpoints/epoch011-val_f1_0.9831.ckpt",
        last_checkpoint=f"{LONG}/checkpoints/last.ckpt",
        epochs=12,
        seconds=127.0,
        test_metrics={"test/f1": 0.96712},
        diagnosis="warning: Overfitting after epoch 92",
    )
    out = io.StringIO()
    print_summary(result, Console(file=out, width=width, color_system=None))
    text = out.getvalue()
    assert "…" not in text
    lines = text.splitlines()
    assert f"best checkpoint: {result.best_checkpoint}" in lines
    assert f"last checkpoint: {result.last_checkpoint}" in lines
    assert f"run dir: {LONG}" in lines
    assert "0.9831" in text and "0.9671" in text
    assert "top diagnosis: warning: Overfitting after epoch 92 (analysis.md)" in lines


def test_summary_says_how_the_run_ended() -> None:
    result = TrainResult(
        run_dir=LONG,
        monitor="val/f1",
        best_score=None,
        best_checkpoint=None,
        last_checkpoint=None,
        epochs=1,
        seconds=3.0,
        status="stopped_nonfinite_loss",
        error="NonFiniteError: training loss is nan at epoch 1, global step 3 [batch 0]",
        test_skipped="no test rows (train=8, val=2, test=0): testing is skipped after fit",
    )
    out = io.StringIO()
    print_summary(result, Console(file=out, width=80, color_system=None))
    lines = out.getvalue().splitlines()
    assert any("status" in ln and "stopped_nonfinite_loss" in ln for ln in lines)
    assert f"ended by: {result.error}" in lines  # markup-like text printed as is
    assert f"test skipped: {result.test_skipped}" in lines
