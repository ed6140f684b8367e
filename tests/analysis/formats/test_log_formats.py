"""Every log format `load_history` reads, on one known curve written as each tool
writes it (`known_curve.py`): the best value, the best epoch in the file's own
numbering, the overfitting finding and the schedule finding come out the same."""

from __future__ import annotations

from pathlib import Path

import pytest
from known_curve import BEST, BEST_INDEX, EPOCHS, PLANNED, WRITERS, log_like_lightning

from ocec_lightning.analysis.curves.analysis import analyze
from ocec_lightning.analysis.curves.diagnoses import diagnose
from ocec_lightning.analysis.history import load_history


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_known_curve_in_every_format(
    tmp_path: Path, writer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3: file store opt-in
    written = WRITERS[writer](tmp_path / writer)
    history = load_history(written.path)
    assert history.format == written.fmt
    assert history.monitor == written.monitor and history.mode == "max"
    first = written.first_epoch
    assert history.epochs.tolist() == list(range(first, first + EPOCHS))
    a = analyze(history)
    scale = 100 if a.best_value > 1 else 1  # tools that log accuracy in percent
    assert a.best_value == pytest.approx(BEST * scale, abs=1e-4 * scale)
    assert a.best_epoch == first + BEST_INDEX  # the number the user sees in that log
    found = {d.id: d for d in diagnose(a)}
    assert a.overfit is not None and a.overfit.onset_epoch == first + BEST_INDEX + 1
    if written.overfit_visible:
        assert a.overfit.detected and found["overfitting"].evidence["best_epoch"] == a.best_epoch
    else:  # validation metrics only (OpenMMLab): the decline is reported, not a cause
        assert "overfitting" not in found and a.decline_pct == pytest.approx(5.7, abs=0.5)
    assert "divergence" not in found
    schedule = found["schedule_longer_than_run"].evidence
    assert schedule["epochs_run"] == EPOCHS
    length = schedule.get("planned_epochs") or schedule["implied_epochs"]
    assert length == pytest.approx(PLANNED, abs=2)


def test_mlflow_params_are_the_run_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hyper-parameters an MLflow run logged (Lightning flattens them with `/`) give the
    planned length, so the run is read as ended early."""
    from lightning.pytorch.loggers import MLFlowLogger

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    logger = MLFlowLogger(experiment_name="known", tracking_uri=f"file:{tmp_path / 'mlruns'}")
    logger.log_hyperparams({"trainer": {"max_epochs": PLANNED}, "optimizer": {"lr": 1e-3}})
    log_like_lightning(logger)
    history = load_history(tmp_path / "mlruns")
    assert history.settings is not None and history.settings.max_epochs == PLANNED
    assert history.settings.lr == pytest.approx(1e-3)
    assert history.settings.keys["max_epochs"] == f"trainer.max_epochs = {PLANNED}"
