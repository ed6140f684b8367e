"""A W&B panel's "Export CSV": `Step` (or the panel's x axis) and, per run,
`"<run name> - <key>"` with `__MIN` / `__MAX` columns of the smoothing band.

The band columns are left out, the run name is taken off the keys, and only the first
run is read when the panel shows several (the report says which). `Step` is W&B's
counter of `wandb.log` calls: with one call per epoch it is the epoch, from 0.
"""

from __future__ import annotations

import re
from pathlib import Path

from ocec_lightning.analysis.history.base import Declined, EpochTable, LogFile, require_file
from ocec_lightning.analysis.history.generic_csv import by_epoch_column, read_cells

NAME = "W&B exported CSV"
RUN_KEY = re.compile(r"^(?P<run>.+?) - (?P<key>.+)$")
BAND = re.compile(r"__(MIN|MAX|MEAN)$")


def read(path: Path) -> EpochTable:
    require_file(path, (".csv",))
    raw, decimal, notes = read_cells(LogFile(path))
    runs: dict[str, list[str]] = {}
    axis = []
    for column in raw.columns:
        if BAND.search(column):
            continue
        match = RUN_KEY.match(column)
        if match:
            runs.setdefault(match["run"], []).append(column)
        else:
            axis.append(column)
    banded = any(BAND.search(c) for c in raw.columns)
    if not runs or not (banded or axis == ["Step"]):
        raise Declined('no `"<run> - <key>"` columns with `__MIN`/`__MAX` bands')
    run, columns = next(iter(runs.items()))
    keep = raw[axis + columns].rename(columns={c: RUN_KEY.match(c)["key"] for c in columns})
    if len(runs) > 1:
        others = ", ".join(f"`{r}`" for r in list(runs)[1:4])
        notes = [*notes, f"the export holds {len(runs)} runs: read `{run}` (not {others})"]
    else:
        notes = [*notes, f"run `{run}`"]
    return by_epoch_column(keep, decimal, path, NAME, notes, ("epoch", "step"))
