"""The run directory's own files and the rule that protects an earlier run's directory.

Per-epoch artefacts (checkpoints, metrics.csv, overlays, per-class tables) come from
Lightning callbacks and loggers. The rest is written through the functions here, on rank
zero: `config.yaml` and `skipped_samples.csv` by the `RunDirectory` callback,
`summary.json` by the `RunSummary` callback, `eval_metrics.json` by
`evaluation.run_evaluation`, and a sweep trial's `failure.json` by the CLI's failure
handler. `refusal` says whether a directory holds an earlier run's checkpoints that a new
run would overwrite. The analysis tools read these files and nothing else.
"""

from __future__ import annotations

import csv
import json
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
EVAL_FILE = "eval_metrics.json"
FAILURE_FILE = "failure.json"
SKIPPED_FILE = "skipped_samples.csv"
# Lightning's ckpt_path names for a checkpoint of the run itself (resume in place).
LIGHTNING_CKPT_NAMES = ("last", "hpc", "registry")


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


def refusal(
    output_dir: str | Path, checkpoint_dirs: Iterable[str | Path], ckpt_path: str | None
) -> str | None:
    """Why a new run must not write into `output_dir` (what would work instead), or None.

    A directory whose checkpoint folders hold `.ckpt` files belongs to an earlier run: a
    new run would overwrite them, its config.yaml and summary.json. Resuming it (a
    `ckpt_path` inside it, or Lightning's `last`/`hpc`/`registry`) is the same run."""
    out = Path(output_dir)
    folders = {out / "checkpoints", *(Path(d) for d in checkpoint_dirs)}
    found = sorted(p for folder in folders if folder.is_dir() for p in folder.glob("*.ckpt"))
    if not found:
        return None
    if ckpt_path and (
        str(ckpt_path) in LIGHTNING_CKPT_NAMES
        or Path(str(ckpt_path)).resolve().is_relative_to(out.resolve())
    ):
        return None
    shown = ", ".join(p.name for p in found[:3]) + (", ..." if len(found) > 3 else "")
    return (
        f"a new run directory: {found[0].parent} already holds {len(found)} checkpoint(s) "
        f"of an earlier run ({shown}); leave hydra.run.dir at its timestamped default or "
        f"choose another paths.output_dir, or resume that run with "
        f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}"
    )
