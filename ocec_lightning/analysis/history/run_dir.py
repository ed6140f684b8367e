"""Our run directories: `csv/metrics.csv` (Lightning's CSV log), `config.yaml`, and
`summary.json`, which says how the run ended and how long it took."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ocec_lightning.analysis.history import lightning_csv
from ocec_lightning.analysis.history.base import Declined, EpochTable, LogFile
from ocec_lightning.run_dir import SUMMARY_FILE

NAME = "ocec_lightning run directory"
LOGGER_DIRS = ("csv", "tensorboard", "logs", "lightning_logs")


def summary_beside(directory: Path) -> dict[str, Any]:
    """`summary.json` of the run the log belongs to ({} when there is none)."""
    for folder in (directory, directory.parent):
        try:
            data = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
        if folder.name not in LOGGER_DIRS:
            break
    return {}


def read(path: Path) -> EpochTable:
    if not path.is_dir():
        raise Declined("not a directory")
    metrics = path / "csv" / "metrics.csv"
    if not metrics.is_file():
        raise Declined("no csv/metrics.csv")
    out = lightning_csv.fold_rows(lightning_csv.read_frame(LogFile(metrics)), metrics, NAME)
    summary = summary_beside(path)
    out.status = summary.get("status") if isinstance(summary.get("status"), str) else None
    seconds = summary.get("seconds")
    out.wall_seconds = float(seconds) if isinstance(seconds, int | float) else None
    return out
