"""MLflow file-store runs: `mlruns/<experiment>/<run>/metrics/<key>` files.

Each metric file holds `<timestamp> <value> <step>` lines (a key with `/` is a nested
path); `params/<key>` files hold one value each and give the run's settings (under the
names the training script logged them with). The path
may be the run folder or a folder above it holding exactly one run. Steps become
epochs as for TensorBoard (`base.epochs_of_steps`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocec_lightning.analysis.history.base import (
    Declined,
    EpochTable,
    step_records_table,
)
from ocec_lightning.analysis.history.settings import settings_from
from ocec_lightning.errors import DataError

NAME = "MLflow run"


def run_folder(path: Path) -> Path:
    """The MLflow run folder at or below `path`."""
    if not path.is_dir():
        raise Declined("not a directory")
    if (path / "metrics").is_dir() and (path / "meta.yaml").is_file():
        return path
    runs = sorted(p.parent for p in path.rglob("metrics") if (p.parent / "meta.yaml").is_file())
    if not runs:
        raise Declined("no MLflow run (metrics/ + meta.yaml) below it")
    if len(runs) > 1:
        shown = ", ".join(str(r) for r in runs[:4])
        raise DataError(f"{path}: holds {len(runs)} MLflow runs ({shown}); pass one of them")
    return runs[0]


def params(run: Path) -> dict[str, Any]:
    """The run's params as a nested dict (`optimizer/lr` -> {"optimizer": {"lr": ...}})."""
    out: dict[str, Any] = {}
    folder = run / "params"
    for file in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []:
        node = out
        parts = file.relative_to(folder).as_posix().replace(".", "/").split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {}) if isinstance(node.get(part, {}), dict) else {}
        node[parts[-1]] = file.read_text(encoding="utf-8").strip()
    return out


def read(path: Path) -> EpochTable:
    run = run_folder(path)
    records: list[tuple[float, str, float]] = []
    folder = run / "metrics"
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = file.relative_to(folder).as_posix()
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split()
            if len(parts) < 2:
                continue
            try:
                value = float(parts[1])
                step = float(parts[2]) if len(parts) > 2 else float(number - 1)
            except ValueError:
                raise DataError(f"{file}: line {number} is not `<time> <value> <step>`") from None
            records.append((step, key, value))
    out = step_records_table(records, format=NAME, log=run, notes=[])
    logged_params = params(run)
    if logged_params:  # the run's logged hyper-parameters are its config
        out.settings = settings_from(logged_params, run / "params")
    return out
