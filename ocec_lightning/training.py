"""The training run as one readable function: config -> validate -> data -> model ->
task -> trainer -> fit -> test -> summary. The CLI, notebooks and tests all call
`run_training(cfg)` with a composed config."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from omegaconf import DictConfig

from ocec_lightning.callbacks import build_callbacks
from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.config.printing import print_and_save_config
from ocec_lightning.config.validation import validate_config
from ocec_lightning.data import build_datamodule
from ocec_lightning.losses import build_loss
from ocec_lightning.tasks import TASKS
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


def build_task(cfg: DictConfig, datamodule: Any) -> pl.LightningModule:
    """Instantiate model, loss and the task's LightningModule from the config."""
    model = instantiate(cfg.model, "model")
    loss = build_loss(cfg.loss, datamodule)  # fills data-derived values into cfg.loss
    return TASKS[cfg.task.name].from_config(cfg, model, loss)


def build_loggers(cfg: DictConfig) -> list[Any]:
    """Instantiate every logger of the `logger` group (none when it is null)."""
    return [
        instantiate(entry, f"logger.{name}")
        for name, entry in (cfg.get("logger") or {}).items()
        if entry is not None
    ]


def run_training(cfg: DictConfig) -> TrainResult:
    """Train (and test) as configured; returns the summary of the run."""
    started = time.time()
    validate_config(cfg)
    pl.seed_everything(cfg.seed, workers=True)
    run_dir = Path(cfg.paths.output_dir)
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")  # loads and checks all data before anything trains
    task = build_task(cfg, datamodule)  # resolves loss.pos_weight=auto into cfg
    if pl.utilities.rank_zero_only.rank == 0:
        print_and_save_config(cfg, run_dir, console)
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        "trainer",
        callbacks=build_callbacks(cfg.get("callbacks")),
        logger=build_loggers(cfg) or False,
    )
    if cfg.get("train", True):
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    # Read the checkpoint paths now: testing on the best checkpoint restores the
    # callback's state as it was when that checkpoint was written.
    result = _summarize(cfg, trainer, run_dir)
    if cfg.get("test", True):
        best = result.best_checkpoint
        results = trainer.test(task, datamodule=datamodule, ckpt_path=best, weights_only=False)
        result.test_metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
    result.seconds = round(time.time() - started, 2)
    if trainer.is_global_zero:
        (run_dir / "summary.json").write_text(
            json.dumps(asdict(result), indent=2), encoding="utf-8"
        )
        print_summary(result)
    return result


def _summarize(cfg: DictConfig, trainer: pl.Trainer, run_dir: Path) -> TrainResult:
    checkpoint = trainer.checkpoint_callback
    best_score = None
    if checkpoint is not None and checkpoint.best_model_score is not None:
        best_score = float(checkpoint.best_model_score)
        best_score = None if math.isnan(best_score) else best_score
    return TrainResult(
        run_dir=str(run_dir),
        monitor=str(cfg.task.monitor),
        best_score=best_score,
        best_checkpoint=(checkpoint.best_model_path or None) if checkpoint else None,
        last_checkpoint=(checkpoint.last_model_path or None) if checkpoint else None,
        epochs=int(trainer.current_epoch),
        seconds=0.0,
    )
