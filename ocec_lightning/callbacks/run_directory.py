"""`RunDirectory`: claim the run directory at the start of the run and write its config.

Modelled on Lightning's `SaveConfigCallback` (lightning/pytorch/cli.py): in `setup`,
rank zero decides whether the directory may be written (`run_dir.refusal`: it must not
hold an earlier run's checkpoints unless this run resumes from them), the answer is
broadcast so every rank stops together, and then rank zero prints the composed config and
writes `config.yaml` and, when `data.on_bad_sample=skip` dropped rows,
`skipped_samples.csv`. A refused directory is left exactly as it was: the refusal is a
`RunDirectoryRefused` error, which `RunSummary` does not record there either.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

from ocec_lightning import run_dir
from ocec_lightning.config.printing import print_config
from ocec_lightning.errors import ConfigError
from ocec_lightning.utils.console import console


class RunDirectoryRefused(ConfigError):
    """The run directory holds an earlier run's checkpoints (`paths.output_dir`)."""


class RunDirectory(Callback):
    """Refuse an earlier run's directory, then write `config.yaml` (rank zero, once)."""

    def __init__(self, config: DictConfig) -> None:
        self.config = config
        self.output_dir = Path(str(config.paths.output_dir))
        # A model_checkpoint may write elsewhere (`dirpath`): those folders count too.
        self.checkpoint_dirs = [
            str(entry.dirpath)
            for entry in (config.get("callbacks") or {}).values()
            if isinstance(entry, DictConfig) and entry.get("dirpath")
        ]
        self.already_written = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.already_written:  # a test stage after fit
            return
        why = None
        if trainer.is_global_zero:
            why = run_dir.refusal(
                self.output_dir, self.checkpoint_dirs, self.config.get("ckpt_path")
            )
        why = trainer.strategy.broadcast(why)  # every rank stops, none waits for the others
        if why:
            raise RunDirectoryRefused("paths.output_dir", str(self.output_dir), why, scoped=True)
        if trainer.is_global_zero:
            print_config(self.config, console)
            run_dir.write_config(self.output_dir, self.config)
            skipped = getattr(trainer.datamodule, "skipped_samples", None)
            if skipped:
                run_dir.write_skipped_samples(self.output_dir, skipped)
        self.already_written = True
