"""The training run, top to bottom: check the config, build the run, fit, test.

`run_training(cfg)` is what `ocec-train`, the notebooks and the tests call with a composed
config: `check_config` (every rule between config groups, one pass, on the task it
builds) → the datamodule (`data` has its `_target_`), callbacks, loggers and trainer →
read the data → fit → test the best checkpoint → return the `TrainResult`. `build_run(cfg)`
alone builds and checks everything without reading data (config tools, tests).

The run directory is written by callbacks added to every run: `RunDirectory` refuses a
directory holding an earlier run's checkpoints (unless resuming) and writes config.yaml;
`RunSummary` writes summary.json however the run ends (`status`, `error`). With no rows in
the split to test on, testing is skipped, said before training. Exceptions are re-raised:
the CLI turns a user error into one line and exit code 2 (`cli/hydra_app.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch import Callback
from omegaconf import DictConfig, OmegaConf

from ocec_lightning.callbacks import build_callbacks, build_loggers
from ocec_lightning.callbacks.run_directory import RunDirectory
from ocec_lightning.callbacks.run_summary import RunSummary, TrainResult
from ocec_lightning.checks import SPLIT_NAMES
from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.data import OCECDataModule, build_datamodule
from ocec_lightning.tasks.base import BaseTask
from ocec_lightning.validation import check_config

__all__ = ["Run", "TrainResult", "build_run", "run_training"]

log = logging.getLogger(__name__)


@dataclass
class Run:
    """Everything a run needs, built and checked, with no data read yet."""

    cfg: DictConfig
    task: BaseTask
    datamodule: OCECDataModule
    trainer: pl.Trainer


def build_run(
    cfg: DictConfig,
    trainer_overrides: dict[str, Any] | None = None,
    before: Sequence[Callback] = (),
    after: Sequence[Callback] = (),
) -> Run:
    """Check the config, then build datamodule, task, callbacks (the configured ones
    between `before` and `after`), loggers and trainer; raises ConfigError naming the key
    of the first bad value."""
    task = check_config(cfg)  # the rules between groups, on the task the run then uses
    datamodule = build_datamodule(cfg)
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        "trainer",
        callbacks=[*before, *build_callbacks(cfg.get("callbacks")), *after],
        logger=build_loggers(cfg.get("logger")) or False,
        **(trainer_overrides or {}),
    )
    return Run(cfg, task, datamodule, trainer)


def run_training(cfg: DictConfig) -> TrainResult:
    """Train (and test) as configured; returns the summary of the run (summary.json)."""
    summary = RunSummary(cfg.paths.output_dir, OmegaConf.select(cfg, "task.monitor", default=""))
    try:  # until the Trainer runs, a failure is recorded here; from then on by the callback
        pl.seed_everything(cfg.seed, workers=True)
        # The directory is claimed before any callback runs; the summary reads theirs last.
        run = build_run(cfg, before=[RunDirectory(cfg)], after=[summary])
        run.datamodule.setup("fit")  # every row read and checked before anything trains
    except Exception as err:
        summary.record_failure(err)
        raise
    summary.plan_test(*testing_plan(cfg, run.datamodule))
    if summary.result.test_skipped and cfg.get("test", True) and run.trainer.is_global_zero:
        log.warning(summary.result.test_skipped)  # said at the start, not after training
    ckpt_path = cfg.get("ckpt_path")
    if cfg.get("train", True):
        run.trainer.fit(run.task, datamodule=run.datamodule, ckpt_path=ckpt_path, weights_only=True)
        ckpt_path = summary.result.best_checkpoint  # test the best (None: these weights)
    if summary.result.test_split is not None:
        run.trainer.test(
            run.task, datamodule=run.datamodule, ckpt_path=ckpt_path, weights_only=True
        )
    return summary.result


def testing_plan(cfg: DictConfig, datamodule: OCECDataModule) -> tuple[str | None, str | None]:
    """(split to test on, None) or (None, why testing is skipped), decided before fit."""
    if not cfg.get("test", True):
        return None, "test=false"
    split = datamodule.test_split
    if datamodule.num_samples(split) > 0:
        return split, None
    sizes = ", ".join(f"{name}={datamodule.num_samples(name)}" for name in SPLIT_NAMES)
    return None, (
        f"no {split} rows ({sizes}): testing is skipped after fit; "
        "set test_split=val to test on val"
    )
