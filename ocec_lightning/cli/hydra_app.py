"""Shared plumbing of the Hydra entry points (`ocec-train`, `ocec-eval`, `ocec-export`,
`ocec-predict`).

- quotes non-ASCII overrides before Hydra parses them (`aug=激进` just works);
- turns user-input errors (OCECError) into one line on stderr and exit code 2, a required
  value left at `???` included;
- inside a multirun sweep a failing trial is recorded and the sweep goes on;
- resolves the paths a user typed against the directory the command ran in.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

import ocec_lightning.config.resolvers  # noqa: F401  (registers ${ocec.*})
from ocec_lightning.config.argv import quote_overrides
from ocec_lightning.config.compose import conf_dir
from ocec_lightning.errors import ConfigError, OCECError
from ocec_lightning.run_dir import write_failure

CONFIG_PATH = str(conf_dir())


def prepare_argv() -> None:
    """Rewrite sys.argv in place so Hydra's parser accepts unquoted Chinese options."""
    sys.argv[1:] = quote_overrides(sys.argv[1:])


def _hydra_literal(text: str) -> str:
    """`text` as a single-quoted Hydra string that parses back to exactly `text`
    (backslashes are literal except before a quote, where they are doubled)."""
    text = re.sub(r"(\\*)'", lambda m: m.group(1) * 2 + "\\'", text)  # escape each quote
    text = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, text)  # and the closing one
    return "'" + text.replace("${", "\\${") + "'"  # ${ would be an interpolation


def literal_values(args: Sequence[str], keys: Collection[str]) -> list[str]:
    """Quote the values of `keys` (file paths) so that Hydra takes them as typed: spaces,
    brackets, commas, `~`, `#`, quotes and leading zeros (`input=007`) included; `null`
    stays null, quoted values stay as they are. In a `-m` sweep the values are left alone:
    there a comma separates the paths to sweep over."""
    if "-m" in args or "--multirun" in args:
        return list(args)
    quoted = []
    for arg in args:
        key, sep, value = arg.partition("=")
        literal = sep and key.lstrip("+") in keys and value != "null"
        if literal and not (len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""):
            arg = f"{key}={_hydra_literal(value)}"
        quoted.append(arg)
    return quoted


def run_app(
    hydra_main: Callable[[], Any],
    argv: Sequence[str] | None = None,
    path_keys: Collection[str] = (),
) -> int:
    """Run a `@hydra.main` app on `argv` (default: the command line) and return its exit
    code: 0, 2 for a user error (one `error:` line), 1 for Hydra's own (an unknown key).
    The values of `path_keys` are taken as typed (`literal_values`)."""
    saved = sys.argv
    args = literal_values(saved[1:] if argv is None else list(argv), path_keys)
    sys.argv = [saved[0], *quote_overrides(args)]  # Hydra reads its arguments from sys.argv
    try:
        hydra_main()
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        sys.argv = saved
    return 0


def required(cfg: DictConfig, key: str, example: str) -> Any:
    """`cfg[key]`, or a ConfigError naming the key and `example` when it is `???`, null
    or empty (`key=`)."""
    value = "???" if OmegaConf.is_missing(cfg, key) else cfg[key]
    if value in ("???", None, ""):
        raise ConfigError(key, value, f"a value (required), e.g. {example}")
    return value


def user_path(value: object) -> Path | None:
    """A path typed on the command line, resolved against the directory the command ran
    in (also when a run changed the working directory); null or empty (`key=`) is None."""
    return None if value in (None, "") else Path(to_absolute_path(str(value)))


def _in_multirun() -> bool:
    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:
        return False


def run_guarded(
    fn: Callable[[DictConfig], Any], cfg: DictConfig, *, record_failed_trials: bool = True
) -> Any:
    """Run `fn(cfg)`; report user errors in one line; keep sweeps alive past a bad trial.

    A failed trial is recorded in its run directory; tools without one
    (`record_failed_trials=False`: export, predict) print a user error and go on.
    """
    try:
        return fn(cfg)
    except Exception as err:
        if _in_multirun() and record_failed_trials:
            return _record_failure(err)
        if isinstance(err, OCECError):
            print(f"error: {err}", file=sys.stderr)
            if _in_multirun():
                return float("nan")
            raise SystemExit(2) from None
        raise


def _record_failure(err: BaseException) -> float:
    """Write failure.json into the trial's directory and return NaN as its objective."""
    path = write_failure(
        HydraConfig.get().runtime.output_dir, err, list(HydraConfig.get().overrides.task)
    )
    print(f"trial failed ({type(err).__name__}: {err}); recorded in {path}", file=sys.stderr)
    return float("nan")
