"""diagnoses.diagnose: each rule on a history built for it, the ranking, and overrides that
compose with this package's config (including after `experiment=microsegformer_300ep`)."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest
from curve_histories import cosine_lr, make_history, microsegformer_run

from ocec_lightning.analysis.curves.analysis import analyze
from ocec_lightning.analysis.curves.diagnoses import Diagnosis, diagnose
from ocec_lightning.analysis.history.model import History, RunSettings
from ocec_lightning.config import compose_config

E = np.arange(1, 61)


def _run(h: History, lang: str = "en") -> dict[str, Diagnosis]:
    return {d.id: d for d in diagnose(analyze(h), lang)}


def test_microsegformer_run_findings_and_overrides() -> None:
    found = diagnose(analyze(microsegformer_run()))
    ids = [d.id for d in found]
    assert ids == [
        "schedule_longer_than_run",
        "overfitting",
        "lr_high_at_best",
        "early_stop_eager",
        "noisy_validation",
    ]
    assert all(d.severity == "warning" for d in found)
    by = {d.id: d for d in found}
    mismatch = by["schedule_longer_than_run"].evidence
    assert (mismatch["epochs_run"], mismatch["planned_epochs"], mismatch["implied_epochs"]) == (
        112,
        300,
        300,
    )
    assert mismatch["lr_final_pct"] == pytest.approx(70.9, abs=0.1)
    assert "T_max = null: 300 − 5 = 295 epochs" in by["schedule_longer_than_run"].explanation
    assert by["schedule_longer_than_run"].overrides == [
        "trainer.max_epochs=120",
        "callbacks.early_stopping.patience=50",
    ]
    over = by["overfitting"].evidence
    assert over["onset_epoch"] == 93 and over["best_epoch"] == 92
    assert over["gap_before_pct"] == pytest.approx(4.0, abs=0.3)
    assert over["gap_after_pct"] == pytest.approx(9.3, abs=0.3)
    assert by["overfitting"].overrides == [
        "model.dropout=0.2",
        "optimizer.weight_decay=0.0002",
        "aug=aggressive",
        "loss.label_smoothing=0.1",
    ]
    assert by["lr_high_at_best"].evidence["lr_at_best_pct"] == pytest.approx(80.0, abs=0.1)
    assert by["lr_high_at_best"].overrides == [
        "scheduler=cosine_warm_restarts scheduler.T_0=30 scheduler.T_mult=2 "
        "scheduler.warmup.epochs=5 callbacks.early_stopping.patience=60"
    ]
    assert by["early_stop_eager"].overrides == ["callbacks.early_stopping.patience=50"]
    noisy = by["noisy_validation"]
    assert noisy.evidence["std"] == pytest.approx(0.019, abs=0.001)
    assert "data.splits.train=0.72 data.splits.val=0.16 data.splits.test=0.12" in noisy.overrides


def test_microsegformer_run_overrides_compose(tmp_path: Path) -> None:
    lines = {o for d in diagnose(analyze(microsegformer_run())) for o in d.overrides}
    for line in sorted(lines):
        cfg = compose_config(["task=segmentation", *shlex.split(line)], output_dir=tmp_path)
        assert cfg.task.name == "segmentation"


def test_scheduler_switch_after_an_experiment(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    # seg_slow_decay sets scheduler.T_max=150, which cosine_warm_restarts does not take.
    (run / ".hydra" / "overrides.yaml").write_text("- task=segmentation\n- preset=seg_slow_decay\n")
    h = microsegformer_run()
    assert h.settings is not None
    h.settings.source = str(run / "config.yaml")
    line = _run(h)["lr_high_at_best"].overrides[0]
    assert line.startswith("scheduler=cosine_warm_restarts ~scheduler.T_max scheduler.T_0=30")
    base = ["task=segmentation", "preset=seg_slow_decay"]
    cfg = compose_config([*base, *shlex.split(line)], output_dir=tmp_path)
    assert cfg.scheduler.name == "cosine_warm_restarts" and "T_max" not in cfg.scheduler


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_divergence_comes_first(lang: str) -> None:
    loss = np.concatenate([np.linspace(2.0, 1.0, 8), [np.nan]])
    score = np.concatenate([np.linspace(0.2, 0.5, 8), [np.nan]])
    h = make_history(
        {"train/loss": loss, "val/f1": score, "lr": np.full(9, 1e-2)},
        monitor="val/f1",
        train_loss="train/loss",
        lr="lr",
    )
    found = diagnose(analyze(h), lang)
    assert found[0].id == "divergence" and found[0].severity == "error"
    assert found[0].evidence["epoch"] == 9 and "optimizer.lr=0.001" in found[0].overrides[0]
    assert ("第 9 轮发散" if lang == "zh" else "diverged at epoch 9") in found[0].title


@pytest.mark.parametrize("n", [1, 2, 3])
def test_short_runs_are_too_short(n: int) -> None:
    settings = RunSettings(max_epochs=n, scheduler={"name": "cosine", "interval": "step"})
    h = make_history({"val/f1": np.linspace(0.3, 0.5, n)}, monitor="val/f1", settings=settings)
    found = _run(h)
    assert set(found) == {"too_short", "no_lr"}
    assert found["too_short"].overrides == ["trainer.max_epochs=30"]


def test_missing_lr_and_nan_entries() -> None:
    h = microsegformer_run()
    del h.series["lr-AdamW"]
    h.roles["lr"] = None
    h.series["val/fscore"][[20, 70]] = np.nan
    found = _run(h)
    assert "no_lr" in found and "lr_high_at_best" not in found and "overfitting" in found
    assert found["schedule_longer_than_run"].evidence["planned_epochs"] == 300  # config only


def test_minimised_metric_overfits() -> None:
    train = 1.0 + np.exp(-E / 8)
    val = train + 0.05 + np.where(E > 30, 0.01 * (E - 30), 0.0)
    h = make_history(
        {"train/loss": train, "val/loss": val},
        monitor="val/loss",
        mode="min",
        train_loss="train/loss",
    )
    h.roles["val_loss"] = "val/loss"
    found = _run(h)
    assert found["overfitting"].evidence["best_epoch"] == 30


def test_stalled_loss_with_constant_lr() -> None:  # the DECODE loss stuck at 4.25
    loss = 4.25 + 0.005 * np.sin(E)
    series = {"train/loss": loss, "val/f1": 0.5 + 0.002 * np.sin(1.3 * E), "lr": np.full(60, 1e-4)}
    h = make_history(series, monitor="val/f1", train_loss="train/loss", lr="lr")
    found = _run(h)
    assert {"stagnation", "lr_never_decayed"} <= set(found)
    assert found["stagnation"].overrides == [
        "scheduler=adaptive_plateau",
        "optimizer.lr=0.0003 scheduler.warmup.epochs=5",
    ]


def test_lr_decayed_too_early() -> None:
    f1 = np.minimum(0.7, 0.4 + 0.03 * E)
    f1[10:] = 0.7 - 0.001 * (np.arange(50) % 3)
    series = {"train/loss": 1 / E, "val/loss": 1 / E + 0.1, "val/f1": f1}
    series["lr"] = np.where(E < 10, 1e-3, 1e-5)
    settings = RunSettings(max_epochs=60, scheduler={"name": "step", "interval": "epoch"})
    h = make_history(
        series,
        monitor="val/f1",
        train_loss="train/loss",
        val_loss="val/loss",
        lr="lr",
        settings=settings,
    )
    found = _run(h)
    assert "overfitting" not in found  # the val loss keeps falling
    assert found["lr_too_early"].evidence["low_epoch"] == 10
    assert found["lr_too_early"].overrides[0] == "scheduler=cosine"


def test_underfitting_and_still_improving() -> None:
    f1 = 0.9 - 0.5 * np.exp(-E / 30)
    raw = {
        "model": {"dropout": 0.2},
        "optimizer": {"weight_decay": 1e-4},
        "aug": {"name": "balanced"},
    }  # noqa: E501
    sched = {"name": "cosine", "interval": "epoch", "T_max": None}
    settings = RunSettings(max_epochs=60, scheduler=sched, raw=raw)
    series = {"train/f1": f1 * 0.995, "val/f1": f1, "lr": cosine_lr(E, 1e-3, 0, 60)}
    found = _run(make_history(series, monitor="val/f1", lr="lr", settings=settings))
    assert found["underfitting"].overrides == [
        "trainer.max_epochs=120",
        "model.dropout=0.1",
        "optimizer.weight_decay=5e-05",
        "aug=conservative",
    ]
    series["train/f1"] = f1 * 1.05  # clearly above validation: not underfitting
    found = _run(make_history(series, monitor="val/f1", lr="lr", settings=settings))
    assert "underfitting" not in found and "still_improving" in found


def test_early_stopping_before_the_plateau_scheduler() -> None:
    f1 = np.minimum(0.8, 0.5 + 0.02 * E[:30])
    f1[20:] = 0.8 - 0.01 * (np.arange(10) % 2)
    settings = RunSettings(
        max_epochs=100,
        early_stopping_patience=8,
        scheduler={"name": "plateau", "patience": 10, "interval": "epoch"},
    )
    series = {"val/f1": f1, "lr": np.full(30, 1e-3)}
    found = _run(make_history(series, monitor="val/f1", lr="lr", settings=settings), "zh")
    eager = found["early_stop_eager"]
    assert (
        "plateau" in eager.evidence["reasons"] and "plateau 调度器要等 10 轮" in eager.explanation
    )
    assert eager.overrides == ["callbacks.early_stopping.patience=21"]
    assert found["lr_never_decayed"].overrides == ["scheduler=cosine", "scheduler.patience=5"]


def test_a_plateau_schedule_plans_no_length() -> None:
    """The default run: plateau halves the LR once in 12 epochs. A cosine fit of that LR
    curve would 'imply' a longer schedule; with plateau configured there is none."""
    n = 12
    lr = np.where(np.arange(n) < 9, 3e-3, 1.5e-3)
    f1 = 0.98 - 0.05 * np.exp(-np.arange(n) / 2)
    settings = RunSettings(
        max_epochs=n, lr=3e-3, scheduler={"name": "plateau", "interval": "epoch"}
    )
    h = make_history({"val/f1": f1, "lr-AdamW": lr}, monitor="val/f1", lr="lr-AdamW")
    h.settings = settings
    ids = [d.id for d in diagnose(analyze(h))]
    assert "schedule_longer_than_run" not in ids
    h.settings = None  # an unknown schedule: the LR curve is all there is to go on
    assert analyze(h).lr is not None
