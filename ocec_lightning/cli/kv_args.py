"""`key=value` arguments for the small deployment CLIs (`ocec-export`, `ocec-predict`).

The same syntax as the Hydra CLIs, without composing a config: each key is declared with
its type and default; an unknown key, a missing `=` or a bad value is a ConfigError
naming the key and the valid alternatives.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from ocec_lightning.errors import ConfigError, OCECError

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _convert(key: str, raw: str, kind: type) -> Any:
    if raw.lower() in ("null", "none", "~"):
        return None
    if kind is bool:
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise ConfigError(key, raw, "true or false")
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(key, raw, f"a {kind.__name__}") from None


def parse_kv(argv: Sequence[str], spec: dict[str, tuple[type, Any]], usage: str) -> dict[str, Any]:
    """`spec`: key -> (type, default). Returns every key with its value or default."""
    values = {key: default for key, (_, default) in spec.items()}
    for arg in argv:
        key, sep, raw = arg.partition("=")
        key = key.lstrip("+")
        if not sep or key not in spec:
            raise ConfigError(
                key or arg, arg, f"key=value with a key among {sorted(spec)}; {usage}"
            )
        values[key] = _convert(key, raw, spec[key][0])
    return values


def run_kv_cli(
    argv: Sequence[str] | None,
    spec: dict[str, tuple[type, Any]],
    usage: str,
    run: Callable[[dict[str, Any]], str],
) -> int:
    """A `key=value` console script: `--help` prints `usage`; `run(values)` returns the
    line to print; a user error prints one `error:` line and exits 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(usage)
        return 0
    try:
        message = run(parse_kv(args, spec, usage))
    except OCECError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(message)
    return 0
