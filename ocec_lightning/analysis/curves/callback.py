"""Write the curve post-mortem (`analysis.md` + `analysis.png`) into the run directory.

At the end of every fit, on rank zero, the callback flushes the loggers, reads the run
directory's own files (the CSV logger's `metrics.csv` and `config.yaml`) through
`analysis.history.load_history` — exactly what `ocec-analyze curves <run dir>` reads, never the
trainer's in-memory state — and writes the report beside them. `top_diagnosis` holds the
first finding ("warning: Overfitting after epoch 92") for the run summary (`RunSummary`
reads it from every `ReportsFinding` callback). A report that
cannot be made (no CSV log, a metric never logged) is a warning, not a failed training.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_warn

from ocec_lightning.analysis.curves.text import LANGS
from ocec_lightning.callbacks.run_summary import ReportsFinding
from ocec_lightning.errors import ConfigError


class CurveReport(ReportsFinding, Callback):
    """End-of-fit curve analysis of the run directory."""

    def __init__(
        self,
        lang: str = "en",
        last_n: int = 10,
        enabled: bool = True,
        plot: bool = True,
        dirname: str = ".",
    ) -> None:
        if lang not in LANGS:
            raise ConfigError("lang", lang, f"one of {', '.join(LANGS)}")
        if isinstance(last_n, bool) or not isinstance(last_n, int) or last_n < 1:
            raise ConfigError("last_n", last_n, "an integer >= 1 (epochs averaged)")
        self.lang, self.last_n, self.enabled, self.plot = lang, last_n, bool(enabled), plot
        self.dirname = dirname
        self.top_diagnosis: str | None = None
        self.written: list[Path] = []

    @staticmethod
    def source(trainer: pl.Trainer) -> Path:
        """What to read: the run dir when it holds the CSV log (its config is found beside
        it), else the CSV logger's metrics.csv, else the run dir (TensorBoard)."""
        root = Path(trainer.default_root_dir or ".")
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger):
                metrics = Path(logger.log_dir) / "metrics.csv"
                return (
                    root
                    if metrics.resolve() == (root / "csv" / "metrics.csv").resolve()
                    else metrics
                )
        return root

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.enabled or trainer.fast_dev_run or not trainer.is_global_zero:
            return
        for logger in trainer.loggers:
            logger.save()  # the CSV logger buffers rows until save()
        from ocec_lightning.analysis.curves.report import analyze_and_write
        from ocec_lightning.analysis.history import load_history

        checkpoint = trainer.checkpoint_callback
        monitor = getattr(checkpoint, "monitor", None)
        mode = getattr(checkpoint, "mode", None) if monitor else None
        source = self.source(trainer)
        try:
            history = load_history(source, monitor=monitor, mode=mode)
            out = Path(trainer.default_root_dir or ".") / self.dirname
            found, written = analyze_and_write(
                history, out, lang=self.lang, last_n=self.last_n, plot=self.plot
            )
        except Exception as err:  # a report must never fail a finished training
            rank_zero_warn(f"curve report skipped ({source}): {type(err).__name__}: {err}")
            return
        self.top_diagnosis = f"{found[0].severity}: {found[0].title}" if found else None
        self.written = [p for p in (written.markdown, written.figure) if p is not None]
