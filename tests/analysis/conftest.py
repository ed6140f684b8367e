"""Fixtures writing tiny training logs of every format `analysis.history` reads into tmp_path:
Lightning run directories (csv/metrics.csv laid out as CSVLogger writes it, config.yaml,
summary.json / failure.json), TensorBoard event dirs (torch's SummaryWriter), plain CSV
and JSON logs."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

Series = Sequence[float] | None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        is_dict = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if is_dict else value
    return out


def run_config(run_dir: Path, **extra: Any) -> dict[str, Any]:
    """A resolved config shaped like ours (the keys `RunSettings` reads, paths, mirrors)."""
    base = {
        "seed": 42,
        "data": {"batch_size": 32},
        "optimizer": {"lr": 1e-3, "weight_decay": 1e-4},
        "scheduler": {"name": "cosine", "interval": "epoch", "warmup": {"epochs": 2}},
        "callbacks": {
            "early_stopping": {"patience": 5, "monitor": "val/f1"},
            "model_checkpoint": {"dirpath": f"{run_dir}/checkpoints", "monitor": "val/f1"},
        },
        "trainer": {"max_epochs": 20, "default_root_dir": str(run_dir)},
        "paths": {"output_dir": str(run_dir)},
        "task": {"monitor": "val/f1", "monitor_mode": "max"},
    }
    config = _merge(base, extra)
    config["task"]["module"] = {"optimizer": dict(config["optimizer"])}  # as ours mirrors it
    return config


def write_lightning_csv(
    path: Path,
    *,
    val_f1: Series,
    val_loss: Series = None,
    train_loss: Series = None,
    lr: Series = None,
    steps: int = 3,
    test_row: bool = True,
) -> Path:
    """metrics.csv as Lightning's CSVLogger writes it: LR rows with only a step (from
    LearningRateMonitor), per-step train rows, then per epoch a val row and a train row."""
    rows: list[dict[str, Any]] = []
    n = len(val_f1 or [])
    for epoch in range(n):
        for batch in range(steps):
            step = epoch * steps + batch
            if lr is not None:
                rows.append({"lr-AdamW": lr[epoch], "step": step})
            if train_loss is not None:
                rows.append({"epoch": epoch, "step": step, "train/loss_step": train_loss[epoch]})
        end = epoch * steps + steps - 1
        val = {"val/f1": val_f1[epoch]} if val_f1 is not None else {}
        if val_loss is not None:
            val["val/loss"] = val_loss[epoch]
        rows.append({"epoch": epoch, "step": end, **val})
        if train_loss is not None:
            rows.append({"epoch": epoch, "step": end, "train/loss_epoch": train_loss[epoch]})
    if test_row:
        rows.append({"epoch": n, "step": n * steps, "test/f1": 0.5})
    keys = sorted({key for row in rows for key in row})  # only what was logged, sorted
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture()
def lightning_csv() -> Callable[..., Path]:
    """`write_lightning_csv` (test modules cannot import this conftest)."""
    return write_lightning_csv


@pytest.fixture()
def write_run() -> Callable[..., Path]:
    """write_run(run_dir, val_f1=[...], ..., config={...}, seconds=12.0, failed=False)."""

    def _write(
        run_dir: Path,
        *,
        val_f1: Series = (0.5, 0.6, 0.7),
        val_loss: Series = (0.9, 0.8, 0.7),
        train_loss: Series = (1.0, 0.8, 0.6),
        lr: Series = (1e-3, 1e-3, 5e-4),
        config: dict[str, Any] | None = None,
        seconds: float | None = 12.0,
        failed: bool = False,
        steps: int = 3,
    ) -> Path:
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg = run_config(run_dir, **(config or {}))
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
        if val_f1 is not None:
            write_lightning_csv(
                run_dir / "csv" / "metrics.csv",
                val_f1=val_f1,
                val_loss=val_loss,
                train_loss=train_loss,
                lr=lr,
                steps=steps,
                test_row=seconds is not None,
            )
        if failed:
            failure = {"error": "RuntimeError: boom", "overrides": [], "traceback": ""}
            (run_dir / "failure.json").write_text(json.dumps(failure), encoding="utf-8")
        elif seconds is not None:
            summary = {"monitor": "val/f1", "seconds": seconds, "epochs": len(val_f1 or [])}
            (run_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        return run_dir

    return _write


@pytest.fixture()
def write_tensorboard() -> Callable[..., Path]:
    """write_tensorboard(dir, {tag: values}, epoch_tag=False, steps_per_epoch=1): scalars
    logged once per epoch at step = epoch (or, with `epoch_tag`, at Lightning's global
    step with an `epoch` scalar beside them, and `per_step` tags at every step)."""
    from torch.utils.tensorboard import SummaryWriter

    def _write(
        folder: Path,
        scalars: dict[str, Sequence[float]],
        *,
        epoch_tag: bool = False,
        steps_per_epoch: int = 1,
        per_step: dict[str, Sequence[float]] | None = None,
    ) -> Path:
        writer = SummaryWriter(log_dir=str(folder))
        n = len(next(iter(scalars.values())))
        for epoch in range(n):
            for batch in range(steps_per_epoch):
                step = epoch * steps_per_epoch + batch
                for tag, values in (per_step or {}).items():
                    writer.add_scalar(tag, values[step], step)
            step = epoch * steps_per_epoch + steps_per_epoch - 1 if epoch_tag else epoch
            for tag, values in scalars.items():
                writer.add_scalar(tag, values[epoch], step)
            if epoch_tag:
                writer.add_scalar("epoch", float(epoch), step)
        writer.close()
        return folder

    return _write
