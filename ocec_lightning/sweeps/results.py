"""What a sweep leaves in its sweep directory, read from the study alone.

`optimization_results.yaml` (the published plugin's file name, rewritten after every
batch): study, storage, counts per trial state, best value(s) and parameters (the
Pareto front for several objectives), the top-k trials with their job directories and
the errors of failed trials. At the end, PNGs from `optuna.visualization.matplotlib`:
optimization history, parameter importances (PED-ANOVA: no scikit-learn needed) and
slice; a plot that needs more finished trials is skipped with a note in the YAML.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)
SUMMARY_FILE = "optimization_results.yaml"
PLOTS = {
    "optimization_history.png": ("plot_optimization_history", 1),
    "param_importances.png": ("plot_param_importances", 2),
    "slice.png": ("plot_slice", 1),
}


def _values(trial: FrozenTrial) -> float | list[float] | None:
    if trial.values is None:
        return None
    return trial.values[0] if len(trial.values) == 1 else list(trial.values)


def _row(trial: FrozenTrial) -> dict[str, Any]:
    row: dict[str, Any] = {
        "number": trial.number,
        "state": trial.state.name,
        "value": _values(trial),
        "params": dict(trial.params),
    }
    if trial.duration is not None:
        row["seconds"] = round(trial.duration.total_seconds(), 1)
    if "job_dir" in trial.user_attrs:
        row["job_dir"] = trial.user_attrs["job_dir"]
    for key in ("error", "pruned"):
        if key in trial.user_attrs:
            row[key] = trial.user_attrs[key]
    if "failed_trial" in trial.system_attrs:
        row["retry_of"] = trial.system_attrs["failed_trial"]
    return row


def summarize(study: optuna.Study, n_trials: int, top_k: int = 5) -> dict[str, Any]:
    """The study as a plain dict (what optimization_results.yaml holds)."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    counts = Counter(t.state.name for t in trials)
    directions = [d.name.lower() for d in study.directions]
    out: dict[str, Any] = {
        "name": "ocec_optuna",
        "study_name": study.study_name,
        "directions": directions,
        "n_trials": n_trials,
        "counts": {state.name: counts.get(state.name, 0) for state in TrialState},
    }
    if complete and len(directions) == 1:
        best = study.best_trial
        out |= {"best_trial": best.number, "best_value": best.value, "best_params": best.params}
        sign = -1.0 if directions[0] == "maximize" else 1.0
        ranked = sorted(complete, key=lambda t: sign * float(t.values[0]))
        out["top_trials"] = [_row(t) for t in ranked[:top_k]]
    elif complete:
        out["best_trials"] = [_row(t) for t in study.best_trials]  # the Pareto front
    failed = [t for t in trials if t.state == TrialState.FAIL]
    if failed:
        out["failed_trials"] = [_row(t) for t in failed]
    return out


def write_summary(study: optuna.Study, sweep_dir: Path, n_trials: int, top_k: int = 5) -> Path:
    path = Path(sweep_dir) / SUMMARY_FILE
    summary = summarize(study, n_trials, top_k)
    previous = _read(path)
    if "plots" in previous:  # keep the plot notes of an earlier write
        summary["plots"] = previous["plots"]
    path.write_text(
        yaml.safe_dump(_plain(summary), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return path


def write_plots(study: optuna.Study, sweep_dir: Path) -> dict[str, str]:
    """Save the PNGs; returns file -> "written" or why it was skipped (also in the YAML)."""
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    from ocec_lightning.sweeps.study import quiet
    from ocec_lightning.viz.fonts import cjk_font

    font = cjk_font()
    rc = {"font.sans-serif": [font, *plt.rcParams["font.sans-serif"]]} if font else {}

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    multi = len(study.directions) > 1
    notes: dict[str, str] = {}
    for name, (function, minimum) in PLOTS.items():
        if len(complete) < minimum:
            notes[name] = f"skipped: needs {minimum} complete trials, the study has {len(complete)}"
            continue
        kwargs: dict[str, Any] = {}
        if multi:
            kwargs = {"target": lambda t: t.values[0], "target_name": "objective 0"}
        try:
            # Chinese option names need a CJK font when there is one; matplotlib's
            # warnings (missing glyphs, identical xlims of a one-value slice) are noise.
            with warnings.catch_warnings(), plt.rc_context(rc):
                warnings.simplefilter("ignore", UserWarning)
                axes = quiet(getattr(ovm, function))(study, **kwargs)
                figure = (axes.flat[0] if hasattr(axes, "flat") else axes).figure
                figure.savefig(Path(sweep_dir) / name, dpi=100, bbox_inches="tight")
            plt.close(figure)
            notes[name] = "written"
        except Exception as err:  # too few distinct values, a single parameter, ...
            notes[name] = f"skipped: {type(err).__name__}: {err}"
    path = Path(sweep_dir) / SUMMARY_FILE
    summary = _read(path)
    summary["plots"] = notes
    path.write_text(
        yaml.safe_dump(_plain(summary), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return notes


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _plain(value: Any) -> Any:
    """Numbers and containers YAML can write (NaN/inf as strings)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
