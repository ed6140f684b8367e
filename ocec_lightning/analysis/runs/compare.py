"""`ocec-analyze compare RUN_DIR... | MULTIRUN_DIR`: several runs side by side.

A multirun directory (Hydra's `multiruns/<time>/<job>/`, or any folder of run dirs) is
expanded into its runs. Each run's `History` (see `analysis.history`) gives the best monitored
value and its epoch, the mean of the last N epochs, the last value; `summary.json` the
wall time; `failure.json` / `summary.json` the status. The table shows only the config
keys whose values differ between runs: the resolved configs are compared key by key
(`paths`, loggers and output dirs skipped, the run's own directory written `<run>`, a
component present in only some runs shown by its class name), and keys carrying the
same values as a shorter key (`task.module.optimizer.lr` vs `optimizer.lr`) are merged.
Output: a rich table in the terminal, `compare.md` and `compare.png` (monitored metric
and val loss per epoch, one line per run, best epochs starred), rows sorted by best.

A sweep of alternatives (`hydra.sweeper.alternatives`, as `ocec-analyze curves RUN
--next` writes it; read by `next_sweep.read_sweep`) is ranked against the run it was made
for (the sweep dir's parent, or the one other run given; else its baseline): each row
shows the alternative's overrides instead of the config diff, and the
curve diagnosis is re-run on every run (`next_sweep.symptoms`): the LR at the best epoch
(% of its peak), the decline after the best, and which of the original run's diagnosis
ids are still there, gone, or new. The original run and the baseline (the rerun without
changes) are marked, in the table and the figure.
Hand-written: the expansion, the config diff and the layout; tables and plots are rich's
and matplotlib's (Agg canvas, no pyplot state).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rich.table import Table

from ocec_lightning.analysis.history import load_history, read_settings
from ocec_lightning.analysis.history.model import History
from ocec_lightning.analysis.runs.next_sweep import (
    BASELINE,
    SweepInfo,
    Symptoms,
    read_sweep,
    shown_path,
    symptoms,
)
from ocec_lightning.errors import DataError
from ocec_lightning.run_dir import FAILURE_FILE, SUMMARY_FILE
from ocec_lightning.utils.console import console

RUN_MARKERS = ("csv/metrics.csv", "config.yaml", SUMMARY_FILE, FAILURE_FILE)
LOG_SUFFIXES = (".csv", ".json", ".jsonl")
MISSING = "—"
# Config parts that differ between any two runs without changing training: where the
# outputs go, the loggers. Everything else is normalised (`<run>`) and compared.
SKIP_GROUPS = ("paths", "hydra", "logger")
SKIP_NAMES = re.compile(r"(^|_)(dir|dirpath|save_dir)$")
NOT_RUNS = {"csv", "tensorboard", "checkpoints", "wandb", "plots", "mlruns"}
RUNNING_WITHIN_S = 600  # no summary / failure and a log written this recently: running


@dataclass
class RunRow:
    """One run of the comparison: its history (None if unreadable) and summary numbers."""

    path: Path
    name: str
    status: str
    history: History | None = None
    config: dict[str, Any] = field(default_factory=dict)  # resolved; run dir -> "<run>"
    diffs: dict[str, str] = field(default_factory=dict)  # differing keys -> shown value
    best: tuple[int, float] | None = None  # (epoch, value)
    last_mean: float | None = None
    last: float | None = None
    seconds: float | None = None
    error: str | None = None
    label: str = ""  # the differing config values, for the legend
    # next sweep only:
    role: str = ""  # "original" (the diagnosed run) | "baseline" (its rerun) | "" (others)
    change: str | None = None  # the alternative's overrides
    symptoms: Symptoms | None = None
    still: list[str] = field(default_factory=list)  # the original's diagnoses found again
    gone: list[str] = field(default_factory=list)  # ... not found here
    new: list[str] = field(default_factory=list)  # diagnoses the original run did not have


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, help="run dirs, logs or multirun dirs")
    parser.add_argument("--monitor", help="metric to compare (default: each run's monitor)")
    parser.add_argument("--last", type=_positive, default=10, help="epochs of the last-N mean")
    parser.add_argument(
        "--out", type=Path, help="where compare.md/.png go (default: the multirun dir, or .)"
    )


def run(args: argparse.Namespace) -> int:
    paths = expand_runs(args.runs)
    sweep = next((s for s in map(read_sweep, args.runs) if s is not None), None)
    if sweep is not None and sweep.origin is not None:
        if sweep.origin not in {p.resolve() for p in paths}:
            paths = [sweep.origin, *paths]
    rows = compare_runs(paths, monitor=args.monitor, last=args.last)
    if sweep is not None:
        mark_sweep(rows, sweep)
    multirun = len(args.runs) == 1 and len(paths) > 1 and args.runs[0].is_dir()
    out = args.out or (args.runs[0] if multirun or sweep else Path.cwd())
    md, png = write_report(rows, out, last=args.last)
    console.print(render_table(rows, last=args.last))
    console.print(f"written: {md}\n         {png}", soft_wrap=True, highlight=False)
    return 0


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _is_run(folder: Path) -> bool:
    return any((folder / marker).is_file() for marker in RUN_MARKERS) or any(
        folder.glob("events.out.tfevents*")
    )


def _natural(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def expand_runs(paths: list[Path], depth: int = 3) -> list[Path]:
    """Run dirs / log files for the given paths (folders of runs expand to their runs)."""
    runs: list[Path] = []
    for path in paths:
        if not path.exists():
            raise DataError(f"{path}: no such run directory, log or multirun directory")
        if path.is_file():
            if path.suffix.lower() not in LOG_SUFFIXES and "tfevents" not in path.name:
                raise DataError(f"{path}: not a log; expected a run dir, CSV, JSON or tfevents")
            runs.append(path)
            continue
        if _is_run(path):
            runs.append(path)
            continue
        found: list[Path] = []
        level = [path]
        for _ in range(depth):
            level = [
                sub
                for folder in level
                for sub in folder.iterdir()
                if sub.is_dir() and not sub.name.startswith(".") and sub.name not in NOT_RUNS
            ]
            found += [sub for sub in level if _is_run(sub)]
            level = [sub for sub in level if not _is_run(sub)]
        if not found:
            raise DataError(f"{path}: no run directories (with csv/metrics.csv or config.yaml)")
        runs += sorted(found, key=_natural)
    return runs


def best_of(history: History) -> tuple[int, float] | None:
    """(epoch, value) of the best monitored value, or None when every value is NaN."""
    values = history.series[history.monitor]
    finite = np.isfinite(values)
    if not finite.any():
        return None
    worst = -math.inf if history.mode == "max" else math.inf
    masked = np.where(finite, values, worst)
    index = int(np.argmax(masked) if history.mode == "max" else np.argmin(masked))
    return int(history.epochs[index]), float(values[index])


def last_finite(values: np.ndarray, n: int | None = None) -> np.ndarray:
    """The finite values among the last `n` entries (all entries when n is None)."""
    tail = values if n is None else values[-n:]
    return tail[np.isfinite(tail)]


def _normalized(node: Any, run: Path) -> Any:
    """The config with the run's own directory written as `<run>`."""
    if isinstance(node, dict):
        return {k: _normalized(v, run) for k, v in node.items()}
    if isinstance(node, list):
        return [_normalized(v, run) for v in node]
    if isinstance(node, str):
        return node.replace(str(run.resolve()), "<run>").replace(str(run), "<run>")
    return node


def _shown(value: Any) -> str:
    """A config value in a table cell: components by class name, long values cut."""
    if isinstance(value, dict):
        target = value.get("_target_")
        return str(target).rsplit(".", 1)[-1] if target else "{…}"
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    text = MISSING if value is MISSING else str(value)
    return text if len(text) <= 48 else text[:47] + "…"


def _diff(nodes: list[Any], prefix: str, out: dict[str, list[Any]]) -> None:
    if all(isinstance(n, dict) for n in nodes):
        keys = list(dict.fromkeys(k for n in nodes for k in n))
        for key in keys:
            if (not prefix and key in SKIP_GROUPS) or SKIP_NAMES.search(str(key)):
                continue
            name = f"{prefix}.{key}" if prefix else str(key)
            _diff([n.get(key, MISSING) for n in nodes], name, out)
    elif len({repr(n) for n in nodes}) > 1:  # a subtree missing somewhere: shown whole
        out[prefix] = nodes


def config_differences(configs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Dotted key -> per-run shown values, for the keys whose values differ between the
    configs; of keys carrying the same values (`task.module.optimizer.lr` mirrors
    `optimizer.lr`) only the shortest is kept, at the place of the first."""
    found: dict[str, list[Any]] = {}
    _diff(configs, "", found)
    groups: dict[str, list[str]] = {}
    for key, values in found.items():
        groups.setdefault(repr(values), []).append(key)
    keep = {min(keys, key=lambda k: (k.count("."), len(k))) for keys in groups.values()}
    return {k: [_shown(v) for v in found[k]] for k in found if k in keep}


def _status(path: Path, history: History | None) -> str:
    if path.is_file() and path.name != "metrics.csv":
        return "log"  # another tool's log: no run files to tell
    folder = path if path.is_dir() else path.parent.parent
    if (folder / FAILURE_FILE).is_file():
        return "failed"
    if (folder / SUMMARY_FILE).is_file():
        return "finished"
    recent = time.time() - max((p.stat().st_mtime for p in folder.rglob("*")), default=0)
    return "running" if history is not None and recent < RUNNING_WITHIN_S else "incomplete"


def _failure(run: Path) -> str | None:
    """The error line of the run's failure.json."""
    try:
        return str(json.loads((run / FAILURE_FILE).read_text(encoding="utf-8"))["error"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def compare_runs(paths: list[Path], *, monitor: str | None = None, last: int = 10) -> list[RunRow]:
    """One `RunRow` per path, labelled by their config differences, sorted by best."""
    rows: list[RunRow] = []
    errors: list[DataError] = []
    for path in paths:
        try:
            history: History | None = load_history(path, monitor=monitor)
        except DataError as err:
            history, _ = None, errors.append(err)
        row = RunRow(path=path, name=path.name, status=_status(path, history), history=history)
        settings = history.settings if history else read_settings(path)
        row.config = _normalized(settings.raw if settings else {}, path)
        if history is not None:
            values = history.series[history.monitor]
            row.best = best_of(history)
            tail, finite = last_finite(values, last), last_finite(values)
            row.last_mean = float(tail.mean()) if tail.size else None
            row.last = float(finite[-1]) if finite.size else None
            row.seconds = history.wall_seconds
        else:
            row.error = str(errors[-1])
        if row.status == "failed":
            row.error = _failure(path) or row.error
        rows.append(row)
    if errors and len(errors) == len(paths):
        raise errors[0]
    _name_runs(rows)
    differing = config_differences([r.config for r in rows])
    short = _short_keys(list(differing))
    for index, row in enumerate(rows):
        row.diffs = {k: values[index] for k, values in differing.items()}
        parts = [f"{short[k]}={v}" for k, v in list(row.diffs.items())[:3]]
        more = ", …" if len(differing) > 3 else ""
        row.label = f"{_tail(row.name)}: {', '.join(parts)}{more}" if parts else row.name
    mode = next(r.history.mode for r in rows if r.history is not None)
    sign = -1.0 if mode == "max" else 1.0
    return sorted(rows, key=lambda r: (r.best is None, sign * r.best[1] if r.best else 0.0))


def mark_sweep(rows: list[RunRow], sweep: SweepInfo) -> None:
    """A next sweep's rows (in place): the original run and the baseline marked, each
    job's alternative, and the curve diagnosis of every run (with `curves`' defaults, as
    the original was diagnosed) compared with the original's (the baseline's when the
    original run is not among the rows)."""
    labels = {id(row): sweep.label_of(row.path) for row in rows}
    origin = sweep.origin
    others = [row for row in rows if labels[id(row)] is None]
    if origin is None and len(others) == 1:  # `compare SWEEP RUN`: RUN is the original
        origin = others[0].path.resolve()
    for row in rows:
        label = labels[id(row)]
        row.symptoms = symptoms(row.history) if row.history is not None else None
        if origin is not None and row.path.resolve() == origin:
            row.role, row.name, row.label = "original", "original run", "original run"
        elif label is not None:
            row.role = "baseline" if label == BASELINE else ""
            row.change, row.name = sweep.alternatives[label], row.path.name
            row.label = f"{row.name}: {_short_change(row.change)}" if row.change else row.name
            row.label += " (rerun)" if row.role == "baseline" else ""
    reference = next((r for r in rows if r.role == "original" and r.symptoms), None)
    reference = reference or next((r for r in rows if r.role == "baseline" and r.symptoms), None)
    before = reference.symptoms.ids if reference and reference.symptoms else []
    for row in rows:
        if row.symptoms is not None:
            now = row.symptoms.ids
            row.still = [i for i in before if i in now]
            row.gone = [i for i in before if i not in now]
            row.new = [i for i in now if i not in before]


def _name_runs(rows: list[RunRow]) -> None:
    """Names relative to the runs' common folder (`0`, `1` in a multirun)."""
    parts = [r.path.resolve().parts for r in rows]
    common = 0
    while len(rows) > 1 and all(len(p) > common + 1 for p in parts):
        if len({p[common] for p in parts}) > 1:
            break
        common += 1
    for row, part in zip(rows, parts, strict=True):
        row.name = "/".join(part[common:]) if len(rows) > 1 else row.path.name


def _tail(name: str, width: int = 24) -> str:
    """A run name cut to its last parts (`…/2026-05-01_10-00-00/3`) for narrow places."""
    return name if len(name) <= width else "…/" + "/".join(name.split("/")[-2:])


def _short_keys(keys: list[str]) -> dict[str, str]:
    """The last part of each key where that is unambiguous (`optimizer.lr` -> `lr`)."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: s if last.count(s) == 1 else k for k, s in zip(keys, last, strict=True)}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _cells(
    rows: list[RunRow], last: int, terminal: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the table. compare.md: a column per differing config key; the
    terminal (often 80 columns): one `config` column, a `key=value` per line, the best
    epoch and the epoch count in one cell and no `last` column."""
    keys = list(rows[0].diffs)
    short = _short_keys(keys)
    if terminal:
        header = ["run", *(["config"] if keys else []), "best", "epoch", f"mean last {last}"]
    else:
        header = ["run", *keys, "best", "best epoch", f"mean last {last}", "last", "epochs"]
    header += ["time", "status"]
    body = []
    for row in rows:
        epochs = str(len(row.history)) if row.history else "0"
        at = str(row.best[0]) if row.best else "—"
        cells = [_tail(row.name) if terminal else row.name]
        if terminal:
            cells += ["\n".join(f"{short[k]}={row.diffs[k]}" for k in keys)] if keys else []
            cells += [_fmt(row.best[1] if row.best else None), f"{at}/{epochs}"]
            cells += [_fmt(row.last_mean)]
        else:
            cells += [row.diffs[k] for k in keys]
            cells += [_fmt(row.best[1] if row.best else None), at, _fmt(row.last_mean)]
            cells += [_fmt(row.last), epochs]
        cells += [_duration(row.seconds), row.status if not row.error else f"{row.status} ⚠"]
        body.append(cells)
    return header, body


def _short_change(change: str, width: int = 64) -> str:
    """An alternative's overrides for a legend: shell quotes off, classes by their name
    (`callbacks.ema={EMA,decay:0.999}`), cut to `width`."""
    text = re.sub(r"_target_:\s*[\w.]*?(\w+)(?=[,}])", r"\1", change.replace("'", ""))
    return text if len(text) <= width else text[: width - 1] + "…"


def _pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}%"


def _ids(ids: list[str]) -> str:
    return ", ".join(ids) if ids else "—"


def _symptom_text(row: RunRow) -> str:
    """The terminal's one symptom cell: `gone: a · new: b` (the status of a run without
    metrics: `failed ⚠`)."""
    if row.symptoms is None:
        return f"{row.status} ⚠" if row.error else row.status
    if row.role == "original":
        return "diagnosed: " + _ids(row.symptoms.ids)
    parts = [
        f"{name}: {', '.join(ids)}"
        for name, ids in (("gone", row.gone), ("still", row.still), ("new", row.new))
        if ids
    ]
    return " · ".join(parts) or "none"


def _change(row: RunRow) -> str:
    if row.role == "original":
        return "(the diagnosed run)"
    if row.role == "baseline":
        return "(none: baseline)"
    return MISSING if row.change is None else row.change or "(none)"


def _sweep_cells(
    rows: list[RunRow], last: int, terminal: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a next sweep: the alternative instead of the config diff, the
    symptom numbers and the original run's diagnoses still there / gone / new."""
    if terminal:
        header = ["run", "best", "epoch", f"mean last {last}", "symptoms"]
    else:
        header = ["run", "change", "best", "best epoch", f"mean last {last}", "epochs"]
        header += ["LR at best", "decline", "still", "gone", "new", "time", "status"]
    body = []
    for row in rows:
        epochs = str(len(row.history)) if row.history else "0"
        at = str(row.best[0]) if row.best else "—"
        best = _fmt(row.best[1] if row.best else None)
        name = f"**{row.name}**" if row.role and not terminal else row.name
        if terminal:
            body.append([name, best, f"{at}/{epochs}", _fmt(row.last_mean), _symptom_text(row)])
            continue
        sym = row.symptoms
        cells = [name, _change(row), best, at, _fmt(row.last_mean), epochs]
        cells += [_pct(sym.lr_at_best_pct if sym else None)]
        cells += [_pct(sym.decline_pct if sym else None, 1)]
        still = sym.ids if sym and row.role == "original" else row.still
        cells += [_ids(still), _ids(row.gone), _ids(row.new)]
        cells += [_duration(row.seconds), row.status if not row.error else f"{row.status} ⚠"]
        body.append(cells)
    return header, body


def _sweep_intro(rows: list[RunRow]) -> list[str]:
    """compare.md's lines before the table of a sweep of alternatives."""
    original = next((r for r in rows if r.role == "original"), None)
    baseline = next((r for r in rows if r.role == "baseline"), None)
    if original is not None:
        runs = f"{len(rows) - 1} runs"
        lines = [f"Next sweep of `{shown_path(original.path)}` ({runs}), sorted by best."]
    else:  # a hand-written sweep, or one whose run is elsewhere (`compare SWEEP RUN`)
        lines = [f"Sweep of alternatives ({len(rows)} runs), sorted by best."]
    ref = original or baseline
    which = "the original run" if original else "the baseline"
    if ref is not None and ref.symptoms is not None:
        lines.append(f"Diagnoses of {which}: {_ids(ref.symptoms.ids)}.")
    lines += [
        "",
        f"*still*: diagnosed in {which} and again here; *gone*: diagnosed in {which}, not "
        "here; *new*: diagnosed here only. *LR at best*: the LR at the best epoch, % of its "
        "peak; *decline*: the last value vs the best.",
    ]
    if original and baseline and original.best and baseline.best:
        now, then = baseline.best[1], original.best[1]
        same = "the same" if now == then else f"vs {then:.4f} (run-to-run noise, code changes)"
        lines.append(f"The baseline reruns the original unchanged: best {now:.4f}, {same}.")
    return lines


def _monitors(rows: list[RunRow]) -> str:
    found = sorted({f"{r.history.monitor} ({r.history.mode})" for r in rows if r.history})
    return " / ".join(found)


def render_table(rows: list[RunRow], last: int = 10) -> Table:
    """The terminal table (config differences in one wrapped column)."""
    sweep = any(r.role or r.change is not None for r in rows)
    header, body = (_sweep_cells if sweep else _cells)(rows, last, terminal=True)
    title = f"{'next sweep' if sweep else 'compare'} — {_monitors(rows)}, sorted by best"
    table = Table(title=title, title_style="bold")
    for index, name in enumerate(header):
        if index == 0 or name in ("config", "symptoms"):  # text: folds
            table.add_column(name, overflow="fold")
        else:  # numbers and status: never cut (the header may wrap)
            width = max(len(cells[index]) for cells in body)
            table.add_column(name, justify="right", min_width=width)
    for row, cells in zip(rows, body, strict=True):
        table.add_row(*cells, style="bold" if row.role else None)
    return table


def write_report(rows: list[RunRow], out: Path, last: int = 10) -> tuple[Path, Path]:
    """`compare.md` and `compare.png` in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    sweep = any(r.role or r.change is not None for r in rows)
    header, body = (_sweep_cells if sweep else _cells)(rows, last)
    intro = _sweep_intro(rows) if sweep else [f"{len(rows)} runs, sorted by best."]
    lines = [f"# Compare: {_monitors(rows)}", "", *intro, ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in body]
    notes = [f"- {r.name}: {r.error}" for r in rows if r.error]
    if len({r.history.monitor for r in rows if r.history}) > 1:
        notes.append("- the runs monitor different metrics; pass --monitor KEY to align them")
    lines += (["", "Notes:", *notes] if notes else []) + ["", "![curves](compare.png)", ""]
    md = out / "compare.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    png = out / "compare.png"
    plot_runs(rows, png)
    return md, png


def plot_runs(rows: list[RunRow], path: Path) -> Path:
    """Monitored metric and val loss per epoch, one colour per run, best starred; the
    legend (each run's differing config values) below the panels."""
    drawn = [r for r in rows if r.history is not None]
    panels = ["monitor"]
    if any(r.history.get("val_loss") is not None for r in drawn if r.history):
        panels.append("val_loss")
    ncol = 1 if len(drawn) > 4 or max(len(r.label) for r in drawn) > 40 else 2
    legend_in = 0.2 * math.ceil(len(drawn) / ncol) + 0.2
    fig = Figure(figsize=(6.5 * len(panels), 4.5 + legend_in), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    coloured = [r for r in drawn if not r.role]  # the original and the baseline: grey, black
    cmap = colormaps["tab10" if len(coloured) <= 10 else "viridis"]
    for row in drawn:
        assert row.history is not None
        index = next((i for i, r in enumerate(coloured) if r is row), 0)
        colour = cmap(index if len(coloured) <= 10 else index / max(1, len(coloured) - 1))
        # (colour, line style, width, z-order): the original a wide grey band under the
        # dashed black baseline, so a rerun that reproduces it stays visible.
        colour, line, width, z = {
            "original": ("#b0b0b0", "-", 4.5, 1.5),
            "baseline": ("black", "--", 1.6, 2.5),
        }.get(row.role, (colour, "-", 1.6, 2.0))
        for ax, role in zip(axes, panels, strict=True):
            values = row.history.get(role)
            if values is None:
                continue
            label = row.label if role == "monitor" else None
            marker = "." if len(row.history) <= 40 and row.role != "original" else None
            ax.plot(
                row.history.epochs,
                values,
                color=colour,
                ls=line,
                lw=width,
                zorder=z,
                marker=marker,
                label=label,
            )
            if role == "monitor" and row.best:
                ax.plot(*row.best, marker="*", ms=15, color=colour, mec="black", mew=0.6, zorder=3)
    titles = {"monitor": f"{_monitors(rows)}  (★ best)", "val_loss": "val loss"}
    for ax, role in zip(axes, panels, strict=True):
        ax.set_title(titles[role])
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.legend(loc="lower center", ncol=ncol, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, legend_in / (4.5 + legend_in), 1, 1))
    fig.savefig(path)
    return path
