"""An Optuna sweep through the command line (`hparams_search=ocec_optuna`) on a SQLite
study, run once for the whole module (each process pays ~10 s of imports):

1. the first run tries four learning rates on a grid whose seed orders them 1e-3 (good),
   10 (diverges: pruned), -1 (invalid: the trial raises) and 3e-3, and is killed as
   soon as the fourth trial starts;
2. the same command again continues the study: the killed trial is failed through its
   heartbeat and re-run with its parameters; the finished ones are not repeated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import FrozenTrial, TrialState
from sweep_cli import TINY, start, sweep_dirs, train

pytestmark = [
    pytest.mark.slow,  # runs sweeps with real trials
    pytest.mark.skipif(os.name != "posix", reason="kills a process group"),
]

ARGS = [
    "hparams_search=ocec_optuna",
    *TINY,
    "trainer.max_epochs=2",
    "hydra.sweeper.study_name=lr_grid",
    "hydra.sweeper.n_trials=4",
    "hydra.sweeper.max_failure_rate=0.5",
    "hydra.sweeper.heartbeat_interval=1",
    "hydra.sweeper.grace_period=2",
    # Only the learning rate, on a grid (seed 5 runs the values in the order written).
    "hydra.sweeper.params=null",
    "optimizer.lr=choice(1e-3,10,-1,3e-3)",
    "hydra/sweeper/sampler=grid",
    "hydra.sweeper.sampler.seed=5",
    # Prune on the validation loss: the median of the trials before, from the first epoch.
    "optimized_metric=val/loss",
    "hydra.sweeper.direction=minimize",
    "hydra.sweeper.pruner.n_startup_trials=1",
    "hydra.sweeper.pruner.n_warmup_steps=0",
]


@dataclass
class Sweep:
    root: Path
    db: Path
    killed: list[FrozenTrial]  # the study right after the kill
    rerun: subprocess.CompletedProcess

    def trials(self) -> list[FrozenTrial]:
        return optuna.load_study(study_name="lr_grid", storage=f"sqlite:///{self.db}").trials

    def by_lr(self) -> dict[float, list[FrozenTrial]]:
        out: dict[float, list[FrozenTrial]] = {}
        for trial in self.trials():
            out.setdefault(trial.params["optimizer.lr"], []).append(trial)
        return out


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    root = tmp_path_factory.mktemp("optuna_sweep")
    db = root / "study.db"
    args = [*ARGS, f"hydra.sweeper.storage={db}"]
    proc = start(*args, root=root, log=root / "first.log")
    deadline = time.monotonic() + 240
    while proc.poll() is None and time.monotonic() < deadline:
        if any((d / "3").is_dir() for d in sweep_dirs(root)):
            break  # the fourth trial has started: kill the sweep as a crash would
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = optuna.load_study(study_name="lr_grid", storage=f"sqlite:///{db}").trials
    return Sweep(root, db, killed, train(*args, root=root))  # the same command again


def test_first_run_was_killed_during_the_fourth_trial(sweep: Sweep) -> None:
    states = [t.state for t in sweep.killed]
    log = (sweep.root / "first.log").read_text()[-3000:]
    assert len(states) == 4 and states[3] == TrialState.RUNNING, log


def test_a_diverging_trial_is_pruned_and_ends_cleanly(sweep: Sweep) -> None:
    assert sweep.rerun.returncode == 0, sweep.rerun.stderr[-3000:]
    lrs = sweep.by_lr()
    assert [t.state for t in lrs[0.001]] == [TrialState.COMPLETE]
    (pruned,) = lrs[10]
    assert pruned.state == TrialState.PRUNED and pruned.user_attrs["pruned"]
    job_dir = Path(pruned.user_attrs["job_dir"])
    assert (job_dir / "summary.json").is_file() and not (job_dir / "failure.json").exists()


def test_a_raising_trial_is_failed_with_its_error_and_the_study_goes_on(sweep: Sweep) -> None:
    (failed,) = sweep.by_lr()[-1]
    assert failed.state == TrialState.FAIL and "optimizer.lr" in failed.user_attrs["error"]
    assert sweep.killed[3].number > failed.number  # the sweep went on after it


def test_rerun_continues_the_study_and_retries_the_killed_trial(sweep: Sweep) -> None:
    assert sweep.rerun.returncode == 0, sweep.rerun.stderr[-3000:]
    trials = sweep.trials()
    assert [t.state for t in trials] == [
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.FAIL,
        TrialState.FAIL,  # killed: failed through its heartbeat ...
        TrialState.COMPLETE,  # ... and run again with its parameters
    ]
    assert trials[4].system_attrs["failed_trial"] == 3 and trials[4].params == trials[3].params
    # Finished trials were not repeated; the second run's job dirs are named by trial number.
    first, second = sweep_dirs(sweep.root)
    assert sorted(p.name for p in first.iterdir() if p.is_dir()) == ["0", "1", "2", "3"]
    assert sorted(p.name for p in second.iterdir() if p.is_dir()) == ["4"]


def test_summary_and_plots_in_the_sweep_dir(sweep: Sweep) -> None:
    _, second = sweep_dirs(sweep.root)
    result = yaml.safe_load((second / "optimization_results.yaml").read_text(encoding="utf-8"))
    assert result["counts"] == {"RUNNING": 0, "COMPLETE": 2, "PRUNED": 1, "FAIL": 2, "WAITING": 0}
    assert result["best_params"] == {"optimizer.lr": 0.001} or result["best_params"] == {
        "optimizer.lr": 0.003
    }
    assert any("optimizer.lr" in t.get("error", "") for t in result["failed_trials"])
    assert result["plots"]["optimization_history.png"] == "written"
    assert (second / "optimization_history.png").is_file()
