"""Checkpoints for the export/predict tests: one short classification run with EMA
(a low decay, so the EMA weights differ clearly from the raw ones), trained once per
session (per xdist worker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocec_lightning.config import compose_config

SHORT = [
    "data.source.num_samples=240",
    "data.batch_size=32",
    "data.num_workers=0",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "~callbacks.curve_report",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.num_sanity_val_steps=0",
    "test=false",
    "logger=csv",
    "callbacks.ema.decay=0.5",
    "callbacks.ema.warmup=false",
    "model.base_channels=8",
    "model.num_blocks=4",
]


@pytest.fixture(scope="session")
def ema_checkpoint(tmp_path_factory: pytest.TempPathFactory, _isolated_cache: None) -> Path:
    """last.ckpt of a 3-step OCEC run with EMA (baseline backbone, avg head, 32×64)."""
    from ocec_lightning.training import run_training

    run_dir = tmp_path_factory.mktemp("ema_run")
    result = run_training(compose_config(SHORT, config_name="train", output_dir=run_dir))
    assert result.last_checkpoint
    return Path(result.last_checkpoint)
