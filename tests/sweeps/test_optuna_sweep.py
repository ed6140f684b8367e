"""Optuna sweeps through the command line (`hparams_search=ocec_optuna`) on a SQLite
study: a killed sweep resumes the same study, bad trials are pruned, a trial that
raises is recorded as failed and the study still finishes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState
from sweep_cli import TINY, start, sweep_dirs, train

pytestmark = pytest.mark.skipif(os.name != "posix", reason="kills a process group")


def load(db: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{db}")


def summary(sweep_dir: Path) -> dict:
    return yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text(encoding="utf-8"))


def test_killed_sweep_resumes_the_same_study(tmp_path: Path) -> None:
    db = tmp_path / "study.db"
    args = [
        "hparams_search=ocec_optuna",
        *TINY,
        f"hydra.sweeper.storage={db}",
        "hydra.sweeper.study_name=resume",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.heartbeat_interval=1",
        "hydra.sweeper.grace_period=2",
        "hydra.sweeper.plots=false",
    ]
    proc = start(*args, root=tmp_path, log=tmp_path / "first.log")
    deadline = time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline:
        if any((d / "1").is_dir() for d in sweep_dirs(tmp_path)):
            break  # trial 1 has started: kill the sweep as a crash would
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    trials = load(db, "resume").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.RUNNING], (
        tmp_path / "first.log"
    ).read_text()[-3000:]
    killed_params = trials[1].params

    proc2 = train(*args, root=tmp_path)  # the same command again
    assert proc2.returncode == 0, proc2.stderr[-3000:]
    trials = load(db, "resume").trials
    states = [t.state for t in trials]
    assert len(trials) == 4 and states[:2] == [TrialState.COMPLETE, TrialState.FAIL], states
    assert states.count(TrialState.COMPLETE) == 3  # n_trials over the whole study
    retry = next(t for t in trials if t.system_attrs.get("failed_trial") == 1)
    assert retry.state == TrialState.COMPLETE and retry.params == killed_params
    # The second run made job directories for its own trials only, named by trial number.
    first, second = sweep_dirs(tmp_path)
    assert sorted(p.name for p in second.iterdir() if p.is_dir()) == ["2", "3"]
    assert (first / "0" / "summary.json").is_file()
    counts = summary(second)["counts"]
    assert counts["COMPLETE"] == 3 and counts["FAIL"] == 1 and counts["RUNNING"] == 0


def test_sweep_prunes_a_bad_trial_and_records_a_failing_one(tmp_path: Path) -> None:
    db = tmp_path / "study.db"
    proc = train(
        "hparams_search=ocec_optuna",
        *TINY,
        "trainer.max_epochs=2",
        f"hydra.sweeper.storage={db}",
        "hydra.sweeper.study_name=prune",
        "hydra.sweeper.n_trials=3",
        # Only the learning rate, on a grid whose seed runs 1e-3 first, then the
        # diverging 10, then the invalid -1.
        "hydra.sweeper.params=null",
        "optimizer.lr=choice(1e-3,10,-1)",
        "hydra/sweeper/sampler=grid",
        "hydra.sweeper.sampler.seed=5",
        "optimized_metric=val/loss",
        "hydra.sweeper.direction=minimize",
        "hydra.sweeper.pruner.n_startup_trials=1",
        "hydra.sweeper.pruner.n_warmup_steps=0",
        root=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = {t.params["optimizer.lr"]: t for t in load(db, "prune").trials}
    assert trials[0.001].state == TrialState.COMPLETE
    assert trials[10].state == TrialState.PRUNED, [(k, t.state) for k, t in trials.items()]
    assert trials[-1].state == TrialState.FAIL and "optimizer.lr" in trials[-1].user_attrs["error"]
    # The pruned run ended cleanly: its run directory has a summary and no failure record.
    pruned_dir = Path(trials[10].user_attrs["job_dir"])
    assert (pruned_dir / "summary.json").is_file() and not (pruned_dir / "failure.json").exists()
    (sweep_dir,) = sweep_dirs(tmp_path)
    result = summary(sweep_dir)
    assert result["best_params"] == {"optimizer.lr": 0.001}
    assert result["counts"] == {
        "RUNNING": 0, "COMPLETE": 1, "PRUNED": 1, "FAIL": 1, "WAITING": 0
    }
    assert "optimizer.lr" in result["failed_trials"][0]["error"]
    assert (sweep_dir / "optimization_history.png").is_file()
    assert result["plots"]["param_importances.png"].startswith("skipped: needs 2")
