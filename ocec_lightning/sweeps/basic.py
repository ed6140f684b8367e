"""Quoting and alternatives for Hydra's basic sweeper (`hydra/sweeper: ocec_basic`, the default).

The basic sweeper expands `key=glob(...)` into `key=<option name>` strings without
quotes; Hydra's grammar then rejects a Chinese option name (`preset=保守` raises
LexerNoViableAltException while `preset='保守'` composes). The command line is quoted
by `config/argv.py` before Hydra parses it; the same rule is applied here to every
job's overrides after expansion, so the two paths cannot drift apart.

Patterns: a Chinese pattern in a glob list must be quoted for the lexer
(`glob(*,exclude=['激进'])`, which `argv.py` does), but Hydra's Glob then matches
against the quoted-string object and fails; `unquote_globs` gives it the plain text.

Alternatives (`hydra.sweeper.alternatives`, label -> one override line): every swept
job runs once per alternative, in `<sweep dir>/<job number>_<label>`; see
`with_alternatives`. `ocec-analyze curves RUN --next` writes such a sweep.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Glob, Override, QuotedString
from hydra.errors import HydraException

from ocec_lightning.config.argv import quote_overrides


def unquote_globs(overrides: Sequence[Override]) -> None:
    """Turn quoted patterns of `glob(...)` sweeps into plain strings (in place)."""
    for override in overrides:
        value = override.value()
        if isinstance(value, Glob):
            value.include = [_text(p) for p in value.include]
            value.exclude = [_text(p) for p in value.exclude]


def _text(pattern: object) -> str:
    return pattern.text if isinstance(pattern, QuotedString) else str(pattern)


def quote_batches(
    batches: Sequence[Sequence[Sequence[str]]],
) -> list[list[list[str]]]:
    """Every job's overrides of every batch, quoted for Hydra's parser."""
    return [[quote_overrides(job) for job in batch] for batch in batches]


def with_alternatives(
    batch: Sequence[Sequence[str]], alternatives: Mapping[str, str], first_num: int
) -> list[list[str]]:
    """Each job of `batch` once per alternative (`hydra.sweeper.alternatives`).

    An alternative is a label and ONE string of space-separated overrides written as on
    a command line (shell quoting: `'callbacks.ema={...}'`), so one alternative may
    change several keys at once, switch a group and delete keys (`~scheduler.T_max`),
    which a product of `key=a,b` sweeps cannot pair. A job's overrides are the swept
    job's, minus the keys the alternative sets, then the alternative's, then
    `hydra.sweep.subdir=<job number>_<label>` so the job's folder names its alternative.
    """
    parsed = {label: _alternative(label, line) for label, line in alternatives.items()}
    jobs: list[list[str]] = []
    for job in batch:
        for label, (keys, overrides) in parsed.items():
            kept = [o for o, key in zip(job, _keys(job), strict=True) if key not in keys]
            subdir = f"hydra.sweep.subdir={first_num + len(jobs)}_{folder_label(label)}"
            jobs.append([*kept, *overrides, subdir])
    return jobs


def _alternative(label: str, line: str) -> tuple[set[str], list[str]]:
    """The keys an alternative sets and its overrides, quoted for Hydra's parser."""
    try:
        overrides = quote_overrides(shlex.split(line or ""))
        parsed = OverridesParser.create().parse_overrides(overrides)
    except (ValueError, HydraException) as err:
        raise HydraException(f"hydra.sweeper.alternatives.{label}: {err}") from err
    sweeps = [o.input_line for o in parsed if o.is_sweep_override()]
    if sweeps:
        raise HydraException(
            f"hydra.sweeper.alternatives.{label}: {sweeps[0]} is a sweep; an alternative "
            "sets one value per key (sweep the other keys on the command line)"
        )
    return {o.get_key_element() for o in parsed}, overrides


def _keys(job: Sequence[str]) -> list[str]:
    return [o.get_key_element() for o in OverridesParser.create().parse_overrides(list(job))]


def folder_label(label: str) -> str:
    """A label as a folder name (letters, digits, `_`, `-`, `.`)."""
    return re.sub(r"[^\w.-]+", "_", label).strip("_") or "alternative"
