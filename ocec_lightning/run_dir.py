"""The run directory's files written outside callbacks, in one place.

Per-epoch artefacts (checkpoints, metrics.csv, overlays, per-class tables) come from
Lightning callbacks and loggers. What is left is written here, on rank zero, by the
orchestration functions (`training.run_training`, `evaluation.run_evaluation`) and the
CLI's failure handler: the resolved config, the end-of-run summary, evaluation metrics
and the failure record of a sweep trial. The analysis tools read these files and
nothing else.
"""

from __future__ import annotations

import csv
import json
import traceback
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
EVAL_FILE = "eval_metrics.json"
FAILURE_FILE = "failure.json"
SKIPPED_FILE = "skipped_samples.csv"


def _write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path


def write_config(run_dir: str | Path, cfg: DictConfig) -> Path:
    """The fully resolved config as `config.yaml`."""
    path = Path(run_dir) / CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    return path


def write_summary(run_dir: str | Path, summary: dict[str, Any]) -> Path:
    """The end-of-run summary: how the run ended (`status`, `error`), best score,
    checkpoints, test metrics, wall time. Written for every ending, failures included."""
    return _write_json(Path(run_dir) / SUMMARY_FILE, summary)


def write_eval_metrics(run_dir: str | Path, record: dict[str, Any]) -> Path:
    """What `ocec-eval` measured, with the checkpoint and split it used."""
    return _write_json(Path(run_dir) / EVAL_FILE, record)


def write_failure(run_dir: str | Path, err: BaseException, overrides: list[str]) -> Path:
    """A failed sweep trial: the error, the trial's overrides and the traceback."""
    return _write_json(
        Path(run_dir) / FAILURE_FILE,
        {
            "error": f"{type(err).__name__}: {err}",
            "overrides": overrides,
            "traceback": "".join(traceback.format_exception(err)),
        },
    )


def write_skipped_samples(run_dir: str | Path, rows: list[dict[str, Any]]) -> Path:
    """The samples `data.on_bad_sample=skip` left out: one `row,ref,reason` line each."""
    path = Path(run_dir) / SKIPPED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["row", "ref", "reason"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path
