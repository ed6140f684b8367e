"""The next experiment after a curve diagnosis, as one Hydra multirun (`curves --next`).

`ocec-analyze curves RUN --next` writes `next_sweep.yaml` beside the report: a primary
Hydra config (`defaults: [train, _self_]`) for our basic sweeper (`hydra/sweeper:
ocec_basic`, `sweeps/basic.py`) holding

- `hydra.sweeper.params`: the run's own overrides (`RUN/.hydra/overrides.yaml`), given
  to every job, minus those that must not be repeated (`NOT_CARRIED`: Hydra's own
  settings, output folders, the checkpoint it resumed from, the Optuna search it was a
  trial of);
- `hydra.sweeper.alternatives`: the run itself unchanged (`baseline`, so the sweep
  reruns it under the same code) and one entry per suggested override line of its
  diagnoses (`Diagnosis.overrides`; the same line twice is kept once), labelled by the
  diagnosis id, its severity and title in a comment above. An entry is ONE line of
  overrides as on a command line, so it may change several keys, switch a group and
  delete keys (`~scheduler.T_max`), which neither a product of `key=a,b` sweeps nor a
  config-group option per alternative can express;
- `hydra.sweep.dir`: `<out>/next_sweep`; each job runs in `<n>_<label>` there.

One command runs it: `ocec-train -m --config-dir <out> --config-name next_sweep` (with
`cd <dir> && ` in front when the run was started elsewhere: relative paths in its
overrides resolve there). An earlier sweep is kept: the next is `next_sweep-2.yaml`.
`ocec-analyze compare <out>/next_sweep` then ranks the jobs against the original run
(the sweep dir's parent, or the run given beside it): `read_sweep` finds the labels in
the sweep's `multirun.yaml`, `symptoms` re-runs the curve diagnosis on each run.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from ocec_lightning.analysis.curves.analysis import CurveAnalysis, analyze
from ocec_lightning.analysis.curves.diagnoses import Diagnosis, diagnose
from ocec_lightning.analysis.history.model import History
from ocec_lightning.errors import DataError
from ocec_lightning.sweeps.basic import folder_label

SWEEP_DIR = "next_sweep"
BASELINE = "baseline"
# The run's overrides that a rerun must not repeat: Hydra's own settings (run dir,
# launcher, sweeper), where it wrote, the checkpoint it resumed from, the Optuna search
# it was a trial of (which would swap the sweeper). Matched on the key without +/~.
NOT_CARRIED = re.compile(
    r"^(hydra([./].*)?|ckpt_path|hparams_search|paths\.(output_dir|log_dir)"
    r"|trainer\.default_root_dir|callbacks\.model_checkpoint\.dirpath|logger\..*save_dir)$"
)
JOB_DIR = re.compile(r"^(\d+)_(.+)$")  # <job number>_<label> (sweeps/basic.py)


@dataclass
class Alternative:
    """One job of the sweep: a label and one line of overrides ('' = the run as it was)."""

    label: str
    overrides: str
    diagnosis: str = ""  # the id of the diagnosis that suggested it ('' for the baseline)
    severity: str = ""
    title: str = ""
    also: list[str] = field(default_factory=list)  # other diagnoses suggesting the same line


@dataclass
class NextSweep:
    """What `write_next_sweep` wrote and how to run it."""

    path: Path  # next_sweep.yaml
    sweep_dir: Path
    run_dir: Path
    carried: list[str]
    dropped: list[str]
    alternatives: list[Alternative]
    cwd: Path | None = None  # where the run was started (relative paths resolve there)

    @property
    def command(self) -> str:
        """The one command that runs the sweep."""
        start, config_dir = "", shown_path(self.path.parent)
        if self.cwd is not None and self.cwd != Path.cwd().resolve():  # where the run started
            start = f"cd {shlex.quote(str(self.cwd))} && "
            config_dir = str(self.path.parent.resolve())
        return (
            f"{start}ocec-train -m --config-dir {shlex.quote(config_dir)} "
            f"--config-name {self.path.stem}"
        )

    @property
    def compare_command(self) -> str:
        extra = "" if self.sweep_dir.parent.resolve() == self.run_dir.resolve() else self.run_dir
        paths = [shown_path(self.sweep_dir)] + ([shown_path(Path(extra))] if extra else [])
        return "ocec-analyze compare " + " ".join(shlex.quote(p) for p in paths)


def shown_path(path: Path) -> str:
    """A path relative to the current directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def find_run_dir(path: Path) -> Path:
    """The Hydra run directory of `path` (the run dir itself, or a log inside it)."""
    for folder in [path, *path.parents][:4]:
        if (folder / ".hydra" / "overrides.yaml").is_file():
            return folder
    raise DataError(
        f"{path}: --next needs a run directory written by ocec-train (with "
        ".hydra/overrides.yaml), to rerun the run with its own overrides"
    )


def run_overrides(run_dir: Path) -> tuple[list[str], list[str]]:
    """(carried, dropped): the run's overrides, split by `NOT_CARRIED`."""
    try:
        listed = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text("utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{run_dir}/.hydra/overrides.yaml: {err}") from err
    carried: list[str] = []
    dropped: list[str] = []
    for line in [str(item) for item in listed or []]:
        key = line.split("=", 1)[0].lstrip("+~").split("@", 1)[0]
        (dropped if NOT_CARRIED.match(key) else carried).append(line)
    return carried, dropped


def _started_in(run_dir: Path) -> Path | None:
    try:
        data = yaml.safe_load((run_dir / ".hydra" / "hydra.yaml").read_text("utf-8"))
        return Path(data["hydra"]["runtime"]["cwd"]).resolve()
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None


def alternatives_from(found: list[Diagnosis]) -> list[Alternative]:
    """The baseline, then one alternative per distinct override line of the diagnoses
    (in their rank order); a diagnosis with several lines numbers its labels."""
    seen: dict[tuple[str, ...], Alternative] = {(): Alternative(BASELINE, "")}
    out = [seen[()]]
    for item in found:
        fresh: list[tuple[tuple[str, ...], str]] = []
        for line in item.overrides:
            words = tuple(shlex.split(line))
            if words in seen:
                if item.id not in seen[words].also and seen[words].diagnosis != item.id:
                    seen[words].also.append(item.id)
            elif words not in (w for w, _ in fresh):
                fresh.append((words, line.strip()))
        for index, (words, line) in enumerate(fresh, 1):
            label = item.id if len(fresh) == 1 else f"{item.id}-{index}"
            seen[words] = Alternative(label, line, item.id, item.severity, item.title)
            out.append(seen[words])
    return out


def _scalar(text: str) -> str:
    """`text` as a YAML string OmegaConf reads back unchanged (`${` escaped)."""
    text = text.replace("${", "\\${")
    dumped = yaml.safe_dump(text, allow_unicode=True, width=1 << 30)
    dumped = dumped.removesuffix("\n").removesuffix("\n...").rstrip("\n")
    if dumped.startswith("'") and "\\" not in text and dumped != "''":
        return json.dumps(text, ensure_ascii=False)  # "'a={b}'" reads better than '''a={b}'''
    return dumped


def _param(line: str) -> tuple[str, str]:
    """An override as a `hydra.sweeper.params` entry (key with its +/~ prefix, value)."""
    try:
        (override,) = OverridesParser.create().parse_overrides([line])
    except (HydraException, ValueError) as err:
        raise DataError(f"the run's override {line!r} does not parse: {err}") from err
    key = override.get_key_element()
    value = line.split("=", 1)[1] if "=" in line.removeprefix(key) else "null"  # ~key
    return key, value


def render(sweep: NextSweep) -> str:
    """The text of next_sweep.yaml (comments name each alternative's diagnosis)."""
    n = len(sweep.alternatives) - 1
    lines = [
        "# The next experiment after the run",
        f"#   {sweep.run_dir}",
        f"# as one Hydra multirun: the run itself ({BASELINE}) and {n} alternative"
        f"{'s' * (n != 1)} from its",
        "# curve diagnosis (ocec-analyze curves --next). Run it (each job in",
        "# hydra.sweep.dir/<n>_<label>):",
        f"#   {sweep.command}",
        "# Then rank the alternatives against the run:",
        f"#   {sweep.compare_command}",
    ]
    if sweep.cwd is not None:
        lines.append(f"# The run was started in {sweep.cwd} (relative paths resolve there).")
    lines += [
        "# Edit freely: remove an alternative, add one (label: overrides as on a command",
        "# line), or sweep more keys on the command line (key=a,b runs every alternative",
        "# for each value).",
        "defaults:",
        "  - train",
        "  - _self_",
        "",
        "hydra:",
        "  sweep:",
        f"    dir: {_scalar(str(sweep.sweep_dir.resolve()))}",
        "  sweeper:",
        "    # The run's own overrides (its .hydra/overrides.yaml), given to every job.",
    ]
    if sweep.dropped:
        lines.append("    # Not repeated: " + " ".join(sweep.dropped))
    if sweep.carried:
        lines.append("    params:")
        lines += [f"      {_scalar(k)}: {_scalar(v)}" for k, v in map(_param, sweep.carried)]
    else:
        lines.append("    params: {}")
    lines += [
        "    # One job each: the params above, then these overrides (they win).",
        "    alternatives:",
    ]
    previous = None
    for alt in sweep.alternatives:
        if alt.label == BASELINE:
            lines.append("      # the run as it was, under the current code")
        elif alt.diagnosis != previous:
            lines.append(f"      # {alt.diagnosis} ({alt.severity}): {alt.title}")
        if alt.also:
            lines.append(f"      # (also suggested by: {', '.join(alt.also)})")
        lines.append(f"      {_scalar(alt.label)}: {_scalar(alt.overrides)}")
        previous = alt.diagnosis
    return "\n".join(lines) + "\n"


def free_name(out: Path) -> str:
    """`next_sweep`, or `next_sweep-2`, ... when an earlier sweep file or folder is there."""
    n = 1
    while (out / _name(n)).exists() or (out / f"{_name(n)}.yaml").exists():
        n += 1
    return _name(n)


def _name(n: int) -> str:
    return SWEEP_DIR if n == 1 else f"{SWEEP_DIR}-{n}"


def write_next_sweep(
    path: Path, found: list[Diagnosis], out: Path, *, overwrite: bool = False
) -> NextSweep:
    """Write `out/next_sweep.yaml` for the run at `path` and its ranked findings (an
    earlier sweep is kept: the new one is `next_sweep-2.yaml`, ... unless `overwrite`)."""
    run_dir = find_run_dir(path)
    carried, dropped = run_overrides(run_dir)
    name = SWEEP_DIR if overwrite else free_name(out)
    sweep = NextSweep(
        path=out / f"{name}.yaml",
        sweep_dir=out / name,
        run_dir=run_dir,
        carried=carried,
        dropped=dropped,
        alternatives=alternatives_from(found),
        cwd=_started_in(run_dir),
    )
    out.mkdir(parents=True, exist_ok=True)
    sweep.path.write_text(render(sweep), encoding="utf-8")
    return sweep


def print_next(sweep: NextSweep) -> None:
    """The sweep file, the one command that runs it, where its runs go, what comes next."""
    n = len(sweep.alternatives) - 1
    what = f"{BASELINE} + {n} alternative{'s' * (n != 1)}" if n else f"{BASELINE} only"
    print(f"next sweep: {shown_path(sweep.path)} ({what})")
    for alt in sweep.alternatives:
        print(f"  {alt.label}: {alt.overrides or '(the run as it was)'}")
    print(f"run it:     {sweep.command}")
    print(f"runs go to: {shown_path(sweep.sweep_dir)}/<n>_<label>")
    print(f"then:       {sweep.compare_command}")


# --- reading a finished sweep back (ocec-analyze compare) ---------------------------


@dataclass
class SweepInfo:
    """A sweep of alternatives found on disk: its folder, alternatives, the original run."""

    sweep_dir: Path
    alternatives: dict[str, str]  # label -> overrides
    origin: Path | None  # the diagnosed run (the sweep dir's parent), if it is one

    def label_of(self, run: Path) -> str | None:
        """The alternative a job folder `<n>_<label>` ran, or None (not a job of it)."""
        match = JOB_DIR.match(run.name)
        if run.parent.resolve() != self.sweep_dir.resolve() or not match:
            return None
        return {folder_label(label): label for label in self.alternatives}.get(match[2])


def read_sweep(folder: Path) -> SweepInfo | None:
    """The sweep of alternatives in `folder` (its multirun.yaml names them), else None."""
    try:
        data: Any = yaml.safe_load((folder / "multirun.yaml").read_text("utf-8"))
        alternatives = data["hydra"]["sweeper"]["alternatives"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    if not isinstance(alternatives, dict) or not alternatives:
        return None
    parent = folder.resolve().parent
    is_run = (parent / ".hydra" / "overrides.yaml").is_file() or (parent / "config.yaml").is_file()
    named = {str(k): str(v or "") for k, v in alternatives.items()}
    return SweepInfo(folder, named, parent if is_run else None)


@dataclass
class Symptoms:
    """A run's curve diagnosis, reduced to what a comparison shows."""

    ids: list[str]  # diagnosis ids, ranked
    lr_at_best_pct: float | None  # LR at the best epoch, % of its peak
    decline_pct: float | None  # last value vs best, % (worse direction)
    analysis: CurveAnalysis | None = None


def symptoms(history: History, last_n: int = 10) -> Symptoms:
    """Re-run the curve analysis and diagnosis on one run."""
    analysis = analyze(history, last_n=last_n)
    ids = [d.id for d in diagnose(analysis)]
    lr_pct = analysis.lr.at_best_pct if analysis.lr is not None else None
    return Symptoms(ids, lr_pct, analysis.decline_pct, analysis)
