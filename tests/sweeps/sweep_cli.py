"""Run `ocec-train` as a user does (a subprocess) on tiny data, for the sweep tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# One or two short epochs of two batches on 240 synthetic eye crops; no test pass.
TINY = [
    "data.source.num_samples=240",
    "data.batch_size=32",
    "data.num_workers=0",
    "callbacks=minimal",
    "~callbacks.classification_plots",  # matplotlib figures at every validation: slow
    "logger=csv",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.num_sanity_val_steps=0",
    "test=false",
]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ocec_lightning.cli.train", *args]


def env(root: Path) -> dict[str, str]:
    # OCEC_CACHE_DIR comes from tests/conftest.py (one cache for the whole session).
    return {**os.environ, "OCEC_ROOT": str(root), "PYTHONWARNINGS": "ignore"}


def train(*args: str, root: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(*args), cwd=root, env=env(root), capture_output=True, text=True, timeout=timeout
    )


def start(*args: str, root: Path, log: Path) -> subprocess.Popen[Any]:
    """Start a run in its own process group (so a test can kill it like a crash would)."""
    handle = log.open("w")
    return subprocess.Popen(
        command(*args),
        cwd=root,
        env=env(root),
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def sweep_dirs(root: Path, run_name: str = "classification") -> list[Path]:
    return sorted((root / "outputs" / run_name / "multiruns").glob("*"))
