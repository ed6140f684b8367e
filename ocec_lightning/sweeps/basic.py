"""Quoting for Hydra's basic sweeper (`hydra/sweeper: ocec_basic`, the default).

The basic sweeper expands `key=glob(...)` into `key=<option name>` strings without
quotes; Hydra's grammar then rejects a Chinese option name (`preset=保守` raises
LexerNoViableAltException while `preset='保守'` composes). The command line is quoted
by `config/argv.py` before Hydra parses it; the same rule is applied here to every
job's overrides after expansion, so the two paths cannot drift apart.

Patterns: a Chinese pattern in a glob list must be quoted for the lexer
(`glob(*,exclude=['激进'])`, which `argv.py` does), but Hydra's Glob then matches
against the quoted-string object and fails; `unquote_globs` gives it the plain text.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra.core.override_parser.types import Glob, Override, QuotedString

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
