"""The training run as one readable function: config -> build (every component checks
its arguments; cross-group rules) -> data -> fit -> test -> summary. The CLI, notebooks
and tests all call `run_training(cfg)` with a composed config; `build_run(cfg)` alone
builds and checks everything without reading data (used by tests and config tools).

Nothing already written is lost (SPEC §12): a run directory that holds checkpoints is
refused up front unless the run resumes from it; with no rows in the split to test on,
testing is skipped (said at the start, exit 0) instead of failing after training;
checkpoints are read back with `weights_only=True`; and whatever ends the run,
summary.json says how (`status`, `error`). The exception itself is re-raised: the CLI
turns a user error into one line and exit code 2 (`cli/hydra_app.py`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from ocec_lightning import run_dir
from ocec_lightning.callbacks import build_callbacks
from ocec_lightning.callbacks.finite_guard import NonFiniteError
from ocec_lightning.checks import SPLIT_NAMES, one_of
from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.config.printing import print_config
from ocec_lightning.config.validation import check_monitors, check_options_fit_task, check_run
from ocec_lightning.data import build_datamodule
from ocec_lightning.errors import ConfigError
from ocec_lightning.export.checkpoint import check_checkpoint_fits, read_checkpoint_file
from ocec_lightning.tasks.base import BaseTask
from ocec_lightning.utils.console import console, print_summary

log = logging.getLogger(__name__)


# How a run ended (summary.json `status`).
STATUSES = (
    "completed",
    "stopped_nonfinite_loss",  # FiniteGuard: a NaN/inf training loss
    "stopped_nonfinite_weights",  # FiniteGuard: a checkpoint of NaN/inf weights refused
    "interrupted",  # Ctrl+C / SIGTERM (Lightning's graceful shutdown)
    "failed",  # any other exception; `error` holds its first line
)
TEST_SPLITS = ("test", "val")
# Lightning's ckpt_path names for a checkpoint of the run itself (resume in place).
LIGHTNING_CKPT_NAMES = ("last", "hpc", "registry")


@dataclass
class TrainResult:
    """What a run produced and how it ended (also written to run_dir/summary.json)."""

    run_dir: str
    monitor: str
    best_score: float | None
    best_checkpoint: str | None
    last_checkpoint: str | None
    epochs: int
    seconds: float  # wall time of the whole run, test included
    test_metrics: dict[str, float] = field(default_factory=dict)
    diagnosis: str | None = None  # the curve report's top finding (analysis.md)
    status: str = "completed"  # one of STATUSES
    error: str | None = None  # the one-line error that ended the run, if any
    test_split: str | None = None  # the split trainer.test ran on
    test_skipped: str | None = None  # why testing did not run
    skipped_samples: int = 0  # rows dropped by data.on_bad_sample=skip (skipped_samples.csv)


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


def check_run_dir(cfg: DictConfig) -> None:
    """Refuse a run directory that already holds checkpoints, unless `ckpt_path` resumes
    from it: a new run would overwrite them (and its config.yaml and summary.json).
    Called before anything is written; Hydra's default run directory is new each time."""
    out = Path(str(cfg.paths.output_dir))
    folders = {out / "checkpoints"}
    for entry in (cfg.get("callbacks") or {}).values():  # a model_checkpoint dirpath
        if isinstance(entry, DictConfig) and entry.get("dirpath"):
            folders.add(Path(str(entry.dirpath)))
    found = sorted(p for folder in folders if folder.is_dir() for p in folder.glob("*.ckpt"))
    if not found:
        return
    ckpt = cfg.get("ckpt_path")
    if ckpt and (str(ckpt) in LIGHTNING_CKPT_NAMES or _inside(Path(str(ckpt)), out)):
        return
    shown = ", ".join(p.name for p in found[:3]) + (", ..." if len(found) > 3 else "")
    raise ConfigError(
        "paths.output_dir",
        str(out),
        f"a new run directory: {found[0].parent} already holds {len(found)} checkpoint(s) "
        f"of an earlier run ({shown}); leave hydra.run.dir at its timestamped default or "
        f"choose another paths.output_dir, or resume that run with "
        f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}",
        scoped=True,
    )


def check_ckpt_path(cfg: DictConfig, task: BaseTask) -> None:
    """The `ckpt_path` to resume (or, with train=false, test) from is a readable ocec-train
    checkpoint of this task and model: a one-line error naming the file otherwise, before
    any data is read. Read with weights_only=True, as Lightning then reads it."""
    ckpt = cfg.get("ckpt_path")
    if not ckpt or str(ckpt) in LIGHTNING_CKPT_NAMES:
        return
    check_checkpoint_fits(read_checkpoint_file(str(ckpt), "ckpt_path"), str(ckpt), task)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def run_training(cfg: DictConfig) -> TrainResult:
    """Train (and test) as configured; returns the summary of the run.

    Whatever ends the run, summary.json says how (`status`, `error`); an exception is
    re-raised after it is written."""
    started = time.time()
    check_run_dir(cfg)  # before anything is written into the run directory
    one_of("test_split", cfg.get("test_split", "test"), TEST_SPLITS)
    run: Run | None = None
    try:
        pl.seed_everything(cfg.seed, workers=True)
        run = build_run(cfg)
        check_ckpt_path(cfg, run.task)
        return _fit_and_test(run, started)
    except BaseException as err:
        _record_ending(cfg, run, err, started)
        raise


def _fit_and_test(run: Run, started: float) -> TrainResult:
    cfg, trainer, task, datamodule = run.cfg, run.trainer, run.task, run.datamodule
    datamodule.setup("fit")  # loads and checks all data before anything trains
    test_split, skipped = _test_plan(cfg, datamodule)
    if trainer.is_global_zero:
        print_config(cfg, console)
        run_dir.write_config(cfg.paths.output_dir, cfg)
        if datamodule.skipped_samples:
            run_dir.write_skipped_samples(cfg.paths.output_dir, datamodule.skipped_samples)
        if skipped and cfg.get("test", True):
            log.warning(skipped)  # said at the start, not discovered after training
    if cfg.get("train", True):
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
    # Read the checkpoint paths now: testing on the best checkpoint restores the
    # callback's state as it was when that checkpoint was written.
    result = _summarize(cfg, trainer)
    result.test_split, result.test_skipped = test_split, skipped
    result.skipped_samples = len(datamodule.skipped_samples)
    if test_split is not None:
        # Without fitting, test the checkpoint given to resume from (null: these weights).
        weights = result.best_checkpoint if cfg.get("train", True) else cfg.get("ckpt_path")
        result.test_metrics = _test(run, test_split, weights)
    result.seconds = round(time.time() - started, 2)
    if trainer.is_global_zero:
        run_dir.write_summary(cfg.paths.output_dir, asdict(result))
        print_summary(result)
    return result


def _test_plan(cfg: DictConfig, datamodule: Any) -> tuple[str | None, str | None]:
    """(split to test on, None) or (None, why testing is skipped), decided before fit."""
    if not cfg.get("test", True):
        return None, "test=false"
    split = str(cfg.get("test_split", "test"))
    if datamodule.num_samples(split) > 0:
        return split, None
    sizes = ", ".join(f"{name}={datamodule.num_samples(name)}" for name in SPLIT_NAMES)
    return None, (
        f"no {split} rows ({sizes}): testing is skipped after fit; "
        "set test_split=val to test on val"
    )


def _test(run: Run, split: str, ckpt_path: str | None) -> dict[str, float]:
    """`trainer.test` on `split` (metrics named `test/...` either way)."""
    run.datamodule.test_split = split
    results = run.trainer.test(
        run.task, datamodule=run.datamodule, ckpt_path=ckpt_path, weights_only=True
    )
    return {k: float(v) for k, v in (results[0] if results else {}).items()}


def _status(err: BaseException) -> str:
    if isinstance(err, NonFiniteError):
        return err.status
    # Lightning turns Ctrl+C into sys.exit(1) and SIGTERM into SIGTERMException (a
    # SystemExit) after its graceful shutdown.
    if isinstance(err, KeyboardInterrupt | SystemExit):
        return "interrupted"
    return "failed"


def _record_ending(cfg: DictConfig, run: Run | None, err: BaseException, started: float) -> None:
    """Write summary.json for a run that ended with `err` (rank zero only)."""
    if not (run.trainer.is_global_zero if run else rank_zero_only.rank == 0):
        return
    if isinstance(err, SystemExit) and isinstance(err.__context__, KeyboardInterrupt):
        err = err.__context__  # Lightning's sys.exit(1) after its Ctrl+C shutdown
    lines = str(err).strip().splitlines()
    try:  # anything failing here is logged, not raised: the run's own error is raised
        monitor = str(OmegaConf.select(cfg, "task.monitor", default=""))
        result = (
            _summarize(cfg, run.trainer)
            if run
            else TrainResult(str(cfg.paths.output_dir), monitor, None, None, None, 0, 0.0)
        )
        result.status = _status(err)
        result.error = type(err).__name__ + (f": {lines[0]}" if lines else "")
        result.seconds = round(time.time() - started, 2)
        run_dir.write_summary(cfg.paths.output_dir, asdict(result))
        print_summary(result)
    except Exception as summary_err:
        log.error("could not write summary.json for the failed run: %s", summary_err)


def _best_on_disk(checkpoint: ModelCheckpoint) -> tuple[str | None, float | None]:
    """The best checkpoint file that exists, with its score. ModelCheckpoint records a
    new best before writing it: a refused write (FiniteGuard) leaves a path with no file."""
    files = {p: s for p, s in checkpoint.best_k_models.items() if Path(p).is_file()}
    best = checkpoint.best_model_path
    if best and Path(best).is_file():
        score = checkpoint.best_model_score
    elif files:
        pick = max if checkpoint.mode == "max" else min
        best = pick(files, key=lambda p: float(files[p]))
        score = files[best]
    else:
        return None, None
    value = None if score is None else float(score)
    return best, None if value is None or math.isnan(value) else value


def _summarize(cfg: DictConfig, trainer: pl.Trainer) -> TrainResult:
    checkpoint = trainer.checkpoint_callback
    best_checkpoint, best_score = None, None
    last_checkpoint = None
    if isinstance(checkpoint, ModelCheckpoint):
        best_checkpoint, best_score = _best_on_disk(checkpoint)
        last = checkpoint.last_model_path
        last_checkpoint = last if last and Path(last).is_file() else None
    reports = [c for c in trainer.callbacks if hasattr(c, "top_diagnosis")]  # CurveReport
    return TrainResult(
        diagnosis=reports[0].top_diagnosis if reports else None,
        run_dir=str(cfg.paths.output_dir),
        monitor=str(cfg.task.monitor),
        best_score=best_score,
        best_checkpoint=best_checkpoint,
        last_checkpoint=last_checkpoint,
        epochs=int(trainer.current_epoch),
        seconds=0.0,
    )
