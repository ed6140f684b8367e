"""Quoting for Hydra's basic sweeper (`hydra/sweeper: ocec_basic`, the default).

The basic sweeper expands `key=glob(...)` into `key=<option name>` strings without
quotes; Hydra's grammar then rejects a Chinese option name (`preset=保守` raises
LexerNoViableAltException while `preset='保守'` composes). The command line is quoted
by `config/argv.py` before Hydra parses it; the same rule is applied here to every
job's overrides after expansion, so the two paths cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from ocec_lightning.config.argv import quote_overrides


def quote_batches(
    batches: Sequence[Sequence[Sequence[str]]],
) -> list[list[list[str]]]:
    """Every job's overrides of every batch, quoted for Hydra's parser."""
    return [[quote_overrides(job) for job in batch] for batch in batches]
