"""Logs other tools really wrote, copied byte for byte from public repositories
(`data/SOURCES.md` names each file's repository, path and commit): each loads with the
right reader, and the best value and epoch are those the file holds, in its numbering."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocec_lightning.analysis.curves.analysis import analyze
from ocec_lightning.analysis.curves.diagnoses import diagnose
from ocec_lightning.analysis.curves.report import analyze_and_write
from ocec_lightning.analysis.history import load_history

DATA = Path(__file__).with_name("data")

# path under data/, reader, monitored key, best value, best epoch (the file's numbering),
# epochs (first, last)
REAL = [
    (
        "microsegformer/history.json",
        "JSON history",
        "val_f_score",
        0.6888605898545013,
        92,
        (1, 112),
    ),
    (
        "huggingface/trainer_state.json",
        "Hugging Face trainer_state.json",
        "eval_macro_f1",
        0.2460840305718579,
        8,
        (1, 10),
    ),
    ("keras_csv/training.log", "Keras CSVLogger", "val_accuracy", 0.7620708346366882, 93, (0, 99)),
    (
        "keras_json/history.json",
        "Keras history (history.history JSON)",
        "val_accuracy",
        0.9496680498123169,
        15,
        (1, 15),
    ),
    (
        "lightning_csv/metrics.csv",
        "Lightning CSVLogger metrics.csv",
        "val_accuracy",
        0.9868000149726868,
        4,
        (0, 4),
    ),
    (
        "mmengine/scalars.json",
        "MMEngine scalars.json",
        "accuracy/top1",
        94.71243286132812,
        58,
        (1, 59),
    ),
    ("mmcv/20230205_194128.log.json", "MMCV log.json", "accuracy_top-1", 95.24648, 10, (1, 10)),
    (
        "ultralytics/results.csv",
        "Ultralytics results.csv",
        "metrics/mAP50-95(B)",
        0.45929,
        24,
        (0, 24),
    ),
    ("ultralytics_new", "Ultralytics results.csv", "metrics/mAP50-95(B)", 0.53833, 2, (1, 102)),
]


@pytest.mark.parametrize(
    ("path", "fmt", "monitor", "best", "epoch", "span"),
    REAL,
    ids=[r[0].split("/")[0] for r in REAL],
)
def test_real_log(
    path: str, fmt: str, monitor: str, best: float, epoch: int, span: tuple[int, int]
) -> None:
    history = load_history(DATA / path)
    assert history.format == fmt and history.monitor == monitor and history.mode == "max"
    assert (int(history.epochs[0]), int(history.epochs[-1])) == span
    a = analyze(history)
    assert a.best_value == pytest.approx(best, rel=1e-12) and a.best_epoch == epoch
    assert a.divergence is None


def test_the_microsegformer_run_reproduces_its_own_post_mortem(tmp_path: Path) -> None:
    """The real run behind the 0.6889 post-mortem: a history saved with
    `json.dump(indent=2)` (no final newline) and the config beside it."""
    log = DATA / "microsegformer" / "history.json"
    assert not log.read_bytes().endswith(b"\n")
    history = load_history(log)
    s = history.settings
    assert s is not None and s.foreign and s.max_epochs == 300 and s.warmup_epochs == 5
    assert s.early_stopping is False and s.lr == pytest.approx(8e-4)  # YAML 1.1: "8e-4" text
    a = analyze(history)
    assert (round(a.best_value, 4), a.best_epoch, len(a.epochs)) == (0.6889, 92, 112)
    assert a.lr is not None and a.lr.at_best_pct == pytest.approx(80.0, abs=0.1)
    assert a.overfit is not None and a.overfit.detected and a.overfit.onset_epoch == 93
    found = {d.id: d for d in diagnose(a)}
    ended = found["ended_early"]
    assert ended.evidence["early_stopping"] == "none" and ended.evidence["max_epochs"] == 300
    assert "stopped by hand, a crash, or a time limit" in ended.explanation
    assert ended.overrides == ["training.epochs=120"]  # in the run's own config names
    assert "training.early_stopping_patience = null" in ended.settings
    schedule = found["schedule_longer_than_run"]
    assert (schedule.evidence["planned_epochs"], schedule.evidence["epochs_run"]) == (300, 112)
    assert schedule.evidence["warmup_epochs"] == 5
    assert "training.warmup_epochs = 5" in schedule.settings
    assert "give early stopping the patience" not in schedule.explanation
    assert "overfitting" in found and found["overfitting"].evidence["best_epoch"] == 92
    _, written = analyze_and_write(history, tmp_path, plot=False)
    report = written.markdown.read_text(encoding="utf-8")
    assert "**0.6889** at epoch 92" in report and "80.0% of the peak" in report
    assert "they are its rows, counted from 1" in report
    assert "`training.warmup_epochs = 5`" in report


def test_trainer_best_metric_and_state_settings() -> None:
    history = load_history(DATA / "huggingface")  # the output folder: its trainer_state.json
    assert history.picked["monitor"] == "eval_macro_f1 (the Trainer's best_metric)"
    assert history.settings is not None and history.settings.max_epochs == 10
    assert any("averaged per epoch" in note for note in history.notes)
    by_accuracy = analyze(load_history(DATA / "huggingface", monitor="eval_accuracy"))
    assert (by_accuracy.best_epoch, round(by_accuracy.best_value, 4)) == (1, 0.9021)


def test_ultralytics_patience_ended_the_run() -> None:
    """150 epochs planned, 102 run, best at 2 with patience 100: early stopping ended it,
    so the run is not reported as stopped from outside, and no equal patience is offered."""
    a = analyze(load_history(DATA / "ultralytics_new"))
    found = {d.id: d for d in diagnose(a)}
    assert a.settings is not None and a.settings.tool == "Ultralytics"
    assert (a.settings.max_epochs, a.settings.early_stopping_patience) == (150, 100)
    assert "ended_early" not in found and "early_stop_eager" not in found
    assert found["schedule_longer_than_run"].overrides == ["epochs=110"]


def test_lightning_post_fit_validation_is_not_an_epoch() -> None:
    history = load_history(DATA / "lightning_csv" / "metrics.csv")
    assert history.epochs.tolist() == [0, 1, 2, 3, 4]
    assert any("after training" in note for note in history.notes)
    # train_loss is logged on every step without an epoch aggregate: averaged per epoch
    assert any("`train_loss`" in note and "averaged" in note for note in history.notes)
