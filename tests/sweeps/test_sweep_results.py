"""The study summary and plots in the sweep directory, and the job-side SweepTrial
callback (metric check, objective, pruning), on in-memory studies: no training."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import torch
import yaml
from optuna.trial import TrialState

from ocec_lightning.errors import ConfigError
from ocec_lightning.sweeps.callback import SweepTrial
from ocec_lightning.sweeps.results import SUMMARY_FILE, write_plots, write_summary

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(n_complete: int, directions: tuple[str, ...] = ("maximize",)) -> optuna.Study:
    study = optuna.create_study(directions=list(directions))
    for i in range(n_complete):
        trial = study.ask()
        lr = trial.suggest_float("optimizer.lr", 1e-4, 1e-1, log=True)
        aug = trial.suggest_categorical("aug", ["保守", "平衡"])
        values = [0.5 + 0.1 * i + (aug == "保守") * 0.01, 1.0 - lr]
        study.tell(trial, values[: len(directions)])
    failed = study.ask()
    failed.set_user_attr("error", "ConfigError: optimizer.lr = -1")
    study.tell(failed, state=TrialState.FAIL)
    return study


def test_summary_lists_best_top_k_counts_and_errors(tmp_path: Path) -> None:
    study = _study(4)
    summary = yaml.safe_load(write_summary(study, tmp_path, n_trials=6, top_k=2).read_text())
    assert summary["best_trial"] == 3 and summary["best_params"] == study.best_params
    assert [t["number"] for t in summary["top_trials"]] == [3, 2]
    assert summary["counts"]["COMPLETE"] == 4 and summary["counts"]["FAIL"] == 1
    assert summary["failed_trials"][0]["error"].startswith("ConfigError")


def test_plots_are_written_or_skipped_with_a_note(tmp_path: Path) -> None:
    notes = write_plots(_study(3), tmp_path)
    assert set(notes.values()) == {"written"}
    assert all((tmp_path / name).stat().st_size > 0 for name in notes)
    few = tmp_path / "few"
    few.mkdir()
    notes = write_plots(_study(1), few)
    assert notes["param_importances.png"].startswith("skipped: needs 2 complete trials")
    assert (few / "optimization_history.png").is_file()
    assert yaml.safe_load((few / SUMMARY_FILE).read_text())["plots"] == notes


def test_multi_objective_summary_lists_the_pareto_front(tmp_path: Path) -> None:
    study = _study(3, ("maximize", "maximize"))
    summary = yaml.safe_load(write_summary(study, tmp_path, n_trials=3).read_text())
    assert summary["directions"] == ["maximize", "maximize"] and summary["best_trials"]


def _trainer(**metrics: float) -> SimpleNamespace:
    return SimpleNamespace(
        sanity_checking=False,
        is_global_zero=True,
        should_stop=False,
        callback_metrics={k.replace("_", "/", 1): torch.tensor(v) for k, v in metrics.items()},
    )


def test_missing_optimized_metric_names_the_logged_ones() -> None:
    callback = SweepTrial("val/f2")
    with pytest.raises(ConfigError, match=r"optimized_metric.*val/f1, val/loss"):
        callback.on_validation_end(_trainer(val_f1=0.5, val_loss=0.7), None)


def test_objective_is_the_best_epoch_and_a_pruned_trial_stops_training() -> None:
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(0.4))
    trial = study.ask()
    callback = SweepTrial(["val/f1", "val/loss"])
    callback.attach(trial)
    module = SimpleNamespace(current_epoch=0)
    for epoch, (f1, loss) in enumerate([(0.6, 0.9), (0.8, 0.5), (0.7, 0.4)]):
        module.current_epoch = epoch
        trainer = _trainer(val_f1=f1, val_loss=loss)
        callback.on_validation_end(trainer, module)
        assert not trainer.should_stop
    assert trial.user_attrs["objective"] == pytest.approx([0.8, 0.5])  # loss at the best f1
    module.current_epoch = 3
    trainer = _trainer(val_f1=0.1, val_loss=2.0)
    callback.on_validation_end(trainer, module)  # below the pruner's threshold
    assert trainer.should_stop and "pruned" in trial.user_attrs
