"""`logger=wandb`: a short run, offline (nothing leaves the machine), keeps
`csv/metrics.csv` beside the W&B files, so the end-of-fit curve report is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ocec_lightning.training import run_training

wandb = pytest.importorskip("wandb", reason="the wandb extra is not installed")

SHORT = [
    "logger=wandb",
    "debug=limit",
    "trainer.max_epochs=2",
    "test=false",
    "~callbacks.classification_plots",
]


@pytest.fixture()
def offline_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """W&B offline with every file it writes (run, cache, settings) under tmp_path."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)  # -> logger.wandb.offline=true
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb_home" / var.lower()))
    yield tmp_path
    wandb.finish()  # Lightning leaves the run open until the process exits


def test_wandb_run_keeps_csv_metrics_and_the_curve_report(offline_wandb, make_cfg) -> None:
    cfg = make_cfg(SHORT)
    assert cfg.logger.wandb.offline is True
    result = run_training(cfg)
    run_dir = Path(result.run_dir)
    assert sorted((run_dir / "wandb").glob("offline-run-*")), "W&B wrote no offline run"
    metrics = run_dir / "csv" / "metrics.csv"
    assert metrics.is_file() and "val/f1" in metrics.read_text().splitlines()[0]
    assert (run_dir / "analysis.md").is_file(), "the curve report was skipped"
    assert result.diagnosis is not None
