"""`RunSummary`: how the run ended, in `summary.json` and on the console, whatever ended it.

A Lightning callback (the run's summary belongs in `on_fit_end` / `on_test_end`, a
failure in `on_exception`). Its `result` (a `TrainResult`) is what `run_training`
returns; rank zero writes it to `run_dir/summary.json` and prints it:

- at the end of fit, or of the test stage when one follows (`plan_test`);
- when a stage raises (`on_exception`), with `status` and the error's first line:
  `stopped_nonfinite_loss` / `stopped_nonfinite_weights` (FiniteGuard's `NonFiniteError`),
  `interrupted` (Ctrl+C; SIGTERM, which Lightning turns into a `SystemExit`) or `failed`;
- for a failure before the Trainer exists (a config error), through `record_failure`.
A refused run directory (`RunDirectoryRefused`) gets no summary: it belongs to an earlier
run. The curve report's top finding comes from any callback that is a `ReportsFinding`
(`CurveReport`), through its `top_diagnosis` attribute.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only

from ocec_lightning import run_dir
from ocec_lightning.callbacks.finite_guard import NonFiniteError
from ocec_lightning.callbacks.run_directory import RunDirectoryRefused
from ocec_lightning.utils.console import print_summary

log = logging.getLogger(__name__)

# How a run ended (summary.json `status`).
STATUSES = (
    "completed",
    "stopped_nonfinite_loss",  # FiniteGuard: a NaN/inf training loss
    "stopped_nonfinite_weights",  # FiniteGuard: a checkpoint of NaN/inf weights refused
    "interrupted",  # Ctrl+C / SIGTERM (Lightning's graceful shutdown)
    "failed",  # any other exception; `error` holds its first line
)


@dataclass
class TrainResult:
    """What a run produced and how it ended (also written to run_dir/summary.json)."""

    run_dir: str
    monitor: str
    best_score: float | None = None
    best_checkpoint: str | None = None
    last_checkpoint: str | None = None
    epochs: int = 0
    seconds: float = 0.0  # wall time of the whole run, test included
    test_metrics: dict[str, float] = field(default_factory=dict)
    diagnosis: str | None = None  # the curve report's top finding (analysis.md)
    status: str = "completed"  # one of STATUSES
    error: str | None = None  # the one-line error that ended the run, if any
    test_split: str | None = None  # the split trainer.test ran on
    test_skipped: str | None = None  # why testing did not run
    skipped_samples: int = 0  # rows dropped by data.on_bad_sample=skip (skipped_samples.csv)


class ReportsFinding:
    """A callback whose top finding belongs in the run summary sets `top_diagnosis`
    (e.g. "warning: Overfitting after epoch 92", None when it found nothing) by the end
    of fit. `CurveReport` is one."""

    top_diagnosis: str | None = None


class RunSummary(Callback):
    """Collect how the run went and write summary.json (rank zero) when it ends."""

    def __init__(self, run_dir: str | Path, monitor: str) -> None:
        self.result = TrainResult(run_dir=str(run_dir), monitor=str(monitor))
        self._started = time.time()
        self._fit_read = False  # checkpoint paths and epochs are read once fit has ended

    def plan_test(self, split: str | None, skipped: str | None) -> None:
        """Say before fit whether a test stage follows (on `split`) or why not (`skipped`):
        the summary is then written after the test instead of at the end of fit."""
        self.result.test_split, self.result.test_skipped = split, skipped

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # The datamodule is set up before the callbacks: its skipped rows are known now.
        skipped = getattr(trainer.datamodule, "skipped_samples", None)  # OCECDataModule's
        self.result.skipped_samples = len(skipped or [])

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Read now: testing on the best checkpoint restores the checkpoint callback's
        # state as it was when that checkpoint was written.
        self._read_fit(trainer)
        if self.result.test_split is None:
            self._finish(trainer)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Every metric logged in this stage (Lightning resets them when a stage starts).
        self.result.test_metrics = {k: float(v) for k, v in trainer.logged_metrics.items()}
        self.result.test_split = getattr(trainer.datamodule, "test_split", "test")
        self._finish(trainer)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, RunDirectoryRefused):
            return  # the directory is an earlier run's: nothing of this run goes there
        if not self._fit_read:
            self._read_fit(trainer)
        self._finish(trainer, exception)

    def record_failure(self, error: BaseException) -> None:
        """summary.json for a run that failed before its Trainer existed (rank zero). An
        earlier summary.json in the directory is kept: this run never started there."""
        if rank_zero_only.rank != 0:
            return
        if (Path(self.result.run_dir) / run_dir.SUMMARY_FILE).exists():
            log.warning("summary.json of an earlier run kept; this run failed: %s", error)
            return
        self._write(error)

    # ------------------------------------------------------------------ helpers
    def _read_fit(self, trainer: pl.Trainer) -> None:
        checkpoint = trainer.checkpoint_callback
        if isinstance(checkpoint, ModelCheckpoint):
            best, score = _best_on_disk(checkpoint)
            last = checkpoint.last_model_path
            self.result.best_checkpoint, self.result.best_score = best, score
            self.result.last_checkpoint = last if last and Path(last).is_file() else None
        self.result.epochs = int(trainer.current_epoch)
        reports = [c for c in trainer.callbacks if isinstance(c, ReportsFinding)]
        self.result.diagnosis = reports[0].top_diagnosis if reports else None
        self._fit_read = True

    def _finish(self, trainer: pl.Trainer, error: BaseException | None = None) -> None:
        if trainer.is_global_zero:
            self._write(error)

    def _write(self, error: BaseException | None) -> None:
        if error is not None:
            lines = str(error).strip().splitlines()
            self.result.status = _status(error)
            self.result.error = type(error).__name__ + (f": {lines[0]}" if lines else "")
        self.result.seconds = round(time.time() - self._started, 2)
        try:  # anything failing here is logged, not raised: the run's own error is raised
            run_dir.write_summary(self.result.run_dir, asdict(self.result))
            print_summary(self.result)
        except Exception as summary_err:
            log.error("could not write summary.json: %s", summary_err)


def _status(error: BaseException) -> str:
    if isinstance(error, NonFiniteError):
        return error.status
    # Lightning hands Ctrl+C over as KeyboardInterrupt; SIGTERM becomes its
    # SIGTERMException (a SystemExit) after its graceful shutdown.
    if isinstance(error, KeyboardInterrupt | SystemExit):
        return "interrupted"
    return "failed"


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
