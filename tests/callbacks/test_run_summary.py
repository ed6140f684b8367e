"""RunSummary: summary.json (and the console table) for every way a run ends, written at
the end of fit, or of the test when one is planned, or from `on_exception`. The hooks are
called directly with a stand-in trainer; tests/integration/test_nothing_lost.py runs
them inside real fits."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from ocec_lightning.callbacks.finite_guard import NonFiniteError
from ocec_lightning.callbacks.run_directory import RunDirectoryRefused
from ocec_lightning.callbacks.run_summary import ReportsFinding, RunSummary


class _Report(ReportsFinding):
    top_diagnosis = "warning: Overfitting after epoch 9"


def _trainer(rank_zero: bool = True, callbacks: Any = (), **extra: Any) -> Any:
    settings = {
        "is_global_zero": rank_zero,
        "checkpoint_callback": None,
        "current_epoch": 3,
        "callbacks": list(callbacks),
        "datamodule": SimpleNamespace(skipped_samples=[{"row": 1}], test_split="val"),
        "logged_metrics": {},
    }
    return SimpleNamespace(**{**settings, **extra})


def _read(run: Path) -> dict[str, Any]:
    return json.loads((run / "summary.json").read_text())


def test_completed_at_the_end_of_fit_without_a_test(tmp_path: Path) -> None:
    summary = RunSummary(tmp_path, "val/f1")
    summary.plan_test(None, "test=false")
    summary.setup(_trainer(), None, "fit")  # type: ignore[arg-type]
    summary.on_fit_end(_trainer(callbacks=[_Report()]), None)  # type: ignore[arg-type]
    written = _read(tmp_path)
    assert written["status"] == "completed" and written["error"] is None
    assert written["epochs"] == 3 and written["skipped_samples"] == 1
    assert written["diagnosis"] == "warning: Overfitting after epoch 9"
    assert written["test_skipped"] == "test=false" and written["monitor"] == "val/f1"
    assert written == json.loads(json.dumps(summary.result.__dict__))


def test_a_planned_test_is_waited_for(tmp_path: Path) -> None:
    summary = RunSummary(tmp_path, "val/f1")
    summary.plan_test("val", None)
    summary.on_fit_end(_trainer(), None)  # type: ignore[arg-type]
    assert not (tmp_path / "summary.json").exists()
    metrics = {"test/f1": torch.tensor(0.75)}
    summary.on_test_end(_trainer(logged_metrics=metrics), None)  # type: ignore[arg-type]
    written = _read(tmp_path)
    assert written["test_metrics"] == {"test/f1": 0.75} and written["test_split"] == "val"
    assert written["epochs"] == 3  # read at the end of fit


@pytest.mark.parametrize(
    ("error", "status", "line"),
    [
        (
            NonFiniteError("loss is nan", "stopped_nonfinite_loss"),
            "stopped_nonfinite_loss",
            "NonFiniteError: loss is nan",
        ),
        (
            NonFiniteError("weights", "stopped_nonfinite_weights"),
            "stopped_nonfinite_weights",
            "NonFiniteError: weights",
        ),
        (KeyboardInterrupt(), "interrupted", "KeyboardInterrupt"),
        (SystemExit("SIGTERM"), "interrupted", "SystemExit: SIGTERM"),
        (RuntimeError("disk on fire\nsecond line"), "failed", "RuntimeError: disk on fire"),
    ],
)
def test_every_exception_is_recorded_with_its_status(
    error: BaseException, status: str, line: str, tmp_path: Path
) -> None:
    summary = RunSummary(tmp_path, "val/f1")
    summary.on_exception(_trainer(), None, error)  # type: ignore[arg-type]
    written = _read(tmp_path)
    assert (written["status"], written["error"]) == (status, line)
    assert written["epochs"] == 3


def test_only_rank_zero_writes(tmp_path: Path) -> None:
    summary = RunSummary(tmp_path, "val/f1")
    summary.on_exception(_trainer(rank_zero=False), None, RuntimeError("x"))  # type: ignore[arg-type]
    summary.on_fit_end(_trainer(rank_zero=False), None)  # type: ignore[arg-type]
    assert not (tmp_path / "summary.json").exists()


def test_a_refused_directory_gets_no_summary(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text('{"status": "completed"}')
    refused = RunDirectoryRefused("paths.output_dir", str(tmp_path), "a new run directory")
    RunSummary(tmp_path, "val/f1").on_exception(_trainer(), None, refused)  # type: ignore[arg-type]
    assert (tmp_path / "summary.json").read_text() == '{"status": "completed"}'


def test_a_failure_before_the_trainer_is_recorded_unless_a_summary_exists(
    tmp_path: Path,
) -> None:
    RunSummary(tmp_path / "new", "val/f1").record_failure(ValueError("bad optimizer.lr"))
    written = _read(tmp_path / "new")
    assert written["status"] == "failed" and written["error"] == "ValueError: bad optimizer.lr"
    assert written["best_checkpoint"] is None and written["epochs"] == 0
    (tmp_path / "summary.json").write_text('{"status": "completed"}')
    RunSummary(tmp_path, "val/f1").record_failure(ValueError("bad optimizer.lr"))
    assert _read(tmp_path) == {"status": "completed"}  # the run that did happen there
