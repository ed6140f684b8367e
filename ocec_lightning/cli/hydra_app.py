"""Shared plumbing of the Hydra entry points (`ocec-train`, `ocec-eval`).

- quotes non-ASCII overrides before Hydra parses them (`aug=激进` just works);
- turns user-input errors (OCECError) into one line on stderr and exit code 2;
- inside a multirun sweep a failing trial is recorded and the sweep goes on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import ocec_lightning.config.resolvers  # noqa: F401  (registers ${ocec.*})
from ocec_lightning.config.argv import quote_overrides
from ocec_lightning.config.compose import conf_dir
from ocec_lightning.errors import OCECError
from ocec_lightning.run_dir import write_failure

CONFIG_PATH = str(conf_dir())


def prepare_argv() -> None:
    """Rewrite sys.argv in place so Hydra's parser accepts unquoted Chinese options."""
    sys.argv[1:] = quote_overrides(sys.argv[1:])


def _in_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


def run_guarded(fn: Callable[[DictConfig], Any], cfg: DictConfig) -> Any:
    """Run `fn(cfg)`; report user errors in one line; keep sweeps alive past a bad trial."""
    try:
        return fn(cfg)
    except Exception as err:
        if _in_multirun():
            return _record_failure(err)
        if isinstance(err, OCECError):
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        raise


def _record_failure(err: BaseException) -> float:
    """Write failure.json into the trial's directory and return NaN as its objective."""
    path = write_failure(
        HydraConfig.get().runtime.output_dir, err, list(HydraConfig.get().overrides.task)
    )
    print(f"trial failed ({type(err).__name__}: {err}); recorded in {path}", file=sys.stderr)
    return float("nan")
