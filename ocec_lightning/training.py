"""The training run as one readable function: config -> build (every component checks
its arguments; cross-group rules) -> data -> fit -> test -> summary. The CLI, notebooks
and tests all call `run_training(cfg)` with a composed config; `build_run(cfg)` alone
builds and checks everything without reading data (used by tests and config tools).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import lightning.pytorch as pl
from omegaconf import DictConfig

from ocec_lightning import run_dir
from ocec_lightning.callbacks import build_callbacks
from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.config.printing import print_config
from ocec_lightning.config.validation import check_monitors, check_options_fit_task, check_run
from ocec_lightning.data import build_datamodule
from ocec_lightning.tasks.base import BaseTask
from ocec_lightning.utils.console import console, print_summary


@dataclass
class TrainResult:
    """What a finished run produced (also written to run_dir/summary.json)."""

    run_dir: str
    monitor: str
    best_score: float | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    epochs: int
    seconds: float  # wall time of the whole run, test included
    test_metrics: dict[str, float] = field(default_factory=dict)
    diagnosis: str | None = None  # the curve report's top finding (analysis.md)


@dataclass
class Run:
    """Everything a run needs, built and checked, with no data read yet."""

    cfg: DictConfig
    task: BaseTask
    datamodule: Any
    trainer: pl.Trainer


def build_loggers(cfg: DictConfig) -> list[Any]:
    """Instantiate every logger of the `logger` group (none when it is null)."""
    return [
        instantiate(entry, f"logger.{name}")
        for name, entry in (cfg.get("logger") or {}).items()
        if entry is not None
    ]


def build_task(cfg: DictConfig) -> BaseTask:
    """The task's LightningModule from `task.module` (model and loss built inside, once)."""
    check_options_fit_task(cfg)
    return instantiate(cfg.task.module, "task.module")


def build_run(cfg: DictConfig, trainer_overrides: dict[str, Any] | None = None) -> Run:
    """Build trainer, task and datamodule from the config and check the rules between
    them; raises ConfigError naming the key of the first bad value. Reads no data."""
    datamodule = build_datamodule(cfg)
    task = build_task(cfg)
    check_monitors(cfg, task)  # before the checkpoint/early-stopping callbacks read them
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        "trainer",
        callbacks=build_callbacks(cfg.get("callbacks")),
        logger=build_loggers(cfg) or False,
        **(trainer_overrides or {}),
    )
    check_run(cfg, task, trainer)
    return Run(cfg, task, datamodule, trainer)


def run_training(cfg: DictConfig) -> TrainResult:
    """Train (and test) as configured; returns the summary of the run."""
    started = time.time()
    pl.seed_everything(cfg.seed, workers=True)
    run = build_run(cfg)
    trainer, task, datamodule = run.trainer, run.task, run.datamodule
    datamodule.setup("fit")  # loads and checks all data before anything trains
    if trainer.is_global_zero:
        print_config(cfg, console)
        run_dir.write_config(cfg.paths.output_dir, cfg)
    if cfg.get("train", True):
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    # Read the checkpoint paths now: testing on the best checkpoint restores the
    # callback's state as it was when that checkpoint was written.
    result = _summarize(cfg, trainer)
    if cfg.get("test", True):
        best = result.best_checkpoint
        results = trainer.test(task, datamodule=datamodule, ckpt_path=best, weights_only=False)
        result.test_metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
    result.seconds = round(time.time() - started, 2)
    if trainer.is_global_zero:
        run_dir.write_summary(cfg.paths.output_dir, asdict(result))
        print_summary(result)
    return result


def _summarize(cfg: DictConfig, trainer: pl.Trainer) -> TrainResult:
    checkpoint = trainer.checkpoint_callback
    best_score = None
    if checkpoint is not None and checkpoint.best_model_score is not None:
        best_score = float(checkpoint.best_model_score)
        best_score = None if math.isnan(best_score) else best_score
    reports = [c for c in trainer.callbacks if hasattr(c, "top_diagnosis")]  # CurveReport
    return TrainResult(
        diagnosis=reports[0].top_diagnosis if reports else None,
        run_dir=str(cfg.paths.output_dir),
        monitor=str(cfg.task.monitor),
        best_score=best_score,
        best_checkpoint=(checkpoint.best_model_path or None) if checkpoint else None,
        last_checkpoint=(checkpoint.last_model_path or None) if checkpoint else None,
        epochs=int(trainer.current_epoch),
        seconds=0.0,
    )
