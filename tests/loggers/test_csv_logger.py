"""ResumableCSVLogger keeps the metrics of a run resumed into its own directory."""

from __future__ import annotations

import csv
from pathlib import Path

from ocec_lightning.utils.csv_logger import ResumableCSVLogger


def _log(save_dir: Path, rows: list[tuple[int, int | None, float]]) -> None:
    logger = ResumableCSVLogger(save_dir=str(save_dir), name="csv", version="")
    for step, epoch, value in rows:
        metrics = {"train/loss": value} if epoch is not None else {"lr": value}
        if epoch is not None:
            metrics["epoch"] = epoch
        logger.log_metrics(metrics, step=step)
    logger.save()


def _read(save_dir: Path) -> list[dict[str, str]]:
    with open(save_dir / "csv" / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_resumed_run_replaces_only_the_replayed_epoch(tmp_path: Path) -> None:
    # First attempt: epoch 0 (steps 0-1) and half of epoch 1 (step 2), then a kill.
    _log(tmp_path, [(0, 0, 1.0), (0, None, 0.1), (1, 0, 0.9), (2, 1, 0.8), (2, None, 0.1)])
    # The resumed run replays epoch 1 from step 2 on.
    _log(tmp_path, [(2, None, 0.05), (2, 1, 0.7), (3, 1, 0.6)])
    rows = _read(tmp_path)
    assert [(r["step"], r["epoch"], r["train/loss"], r["lr"]) for r in rows] == [
        ("0", "0", "1.0", ""),
        ("0", "", "", "0.1"),
        ("1", "0", "0.9", ""),
        ("2", "", "", "0.05"),
        ("2", "1", "0.7", ""),
        ("3", "1", "0.6", ""),
    ]


def test_fresh_directory_is_written_as_by_lightning(tmp_path: Path) -> None:
    _log(tmp_path, [(0, 0, 1.0), (1, 0, 0.5)])
    assert [r["train/loss"] for r in _read(tmp_path)] == ["1.0", "0.5"]
