"""Argument checks shared by every component (models, losses, optimizer and scheduler
builders, callbacks, the trainer factory).

Each check raises `ConfigError` naming the argument, the bad value and what would work.
Components name their arguments by their own name (`alpha`, `factor`); the instantiate
wrapper scopes the key under the config node (`loss.alpha`). Hand-written because the
config arrives through Hydra as plain keyword arguments: no schema library sits between
the YAML and the constructor, and the messages must keep the key/value/alternative form
of every user-facing error (`errors.py`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

from ocec_lightning.errors import ConfigError

__all__ = [
    "SPLIT_NAMES",
    "as_list",
    "int_at_least",
    "int_pair",
    "is_int",
    "is_number",
    "number_in",
    "one_of",
    "split_ratios",
]


def is_int(value: object) -> bool:
    """An integer, numpy's included; not a bool."""
    # bool is an Integral subclass but `num_blocks: true` is certainly a typo.
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A real number (int or float, numpy's included); not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool)


def int_at_least(key: str, value: object, minimum: int) -> int:
    """``value`` as an ``int``; ``ConfigError`` unless it is an integer >= ``minimum``."""
    if not is_int(value) or int(value) < minimum:  # type: ignore[arg-type]
        raise ConfigError(key, value, f"an integer >= {minimum}")
    return int(value)  # type: ignore[arg-type]


def as_list(value: object) -> list[Any]:
    """``list(value)`` for any iterable (also an OmegaConf ``ListConfig``), ``[]`` otherwise."""
    if isinstance(value, str):
        return []
    try:
        return list(value)  # type: ignore[call-overload]
    except TypeError:
        return []


def int_pair(key: str, value: object) -> tuple[int, int]:
    """``(height, width)``; ``ConfigError`` unless ``value`` is two positive integers."""
    items = as_list(value)
    if len(items) != 2 or not all(is_int(v) and int(v) > 0 for v in items):
        raise ConfigError(key, value, "two positive integers [height, width], e.g. [32, 64]")
    return int(items[0]), int(items[1])


def number_in(
    key: str,
    value: object,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> float:
    """``value`` as a float; ``ConfigError`` unless it is a number in the interval."""
    lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
    expected = f"a number in {lo}{low}, {high}{hi}{hint}"
    if not is_number(value) or math.isnan(float(value)):  # type: ignore[arg-type]
        raise ConfigError(key, value, expected)
    number = float(value)  # type: ignore[arg-type]
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if below or above:
        raise ConfigError(key, value, expected)
    return number


def boolean(key: str, value: object) -> bool:
    """``value`` as a bool; ``ConfigError`` unless it is true or false (YAML booleans
    arrive as bool; ``bool("maybe")`` would silently be True)."""
    if not isinstance(value, bool):
        raise ConfigError(key, value, "true or false")
    return value


def number_range(key: str, value: object, low: float, high: float) -> tuple[float, float]:
    """A `[min, max]` pair inside [low, high] (ConfigError naming `key` otherwise)."""
    try:
        lo, hi = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        lo = hi = float("nan")
    if not (low <= lo <= hi <= high):
        raise ConfigError(key, value, f"[min, max] with {low} <= min <= max <= {high}")
    return lo, hi


def one_of(key: str, value: object, choices: Iterable[str]) -> str:
    """``value`` as a str; ``ConfigError`` unless it is one of ``choices``."""
    options = [str(c) for c in choices]
    if str(value) not in options:
        raise ConfigError(key, value, "one of " + ", ".join(options))
    return str(value)


# The dataset splits, in order; the ratio check below and the sample table share them.
SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")
_RATIOS_HINT = (
    "fractions >= 0 for train, val, test that sum to 1, "
    "e.g. {train: 0.8, val: 0.1, test: 0.1} or [0.8, 0.1, 0.1]"
)


def split_ratios(key: str, values: object) -> dict[str, float]:
    """Split fractions by name, all of ``SPLIT_NAMES`` in order, as floats.

    ``values`` is a mapping by split name (a split left out is 0) or a sequence of one
    fraction per split in ``SPLIT_NAMES`` order. ``ConfigError`` unless every fraction
    is a number >= 0 and they sum to 1 (within 1e-6).
    """
    if hasattr(values, "keys"):  # a dict or an OmegaConf DictConfig
        values = dict(values)  # type: ignore[call-overload]
        unknown = sorted(str(k) for k in values if k not in SPLIT_NAMES)
        if unknown:
            raise ConfigError(key, values, f"unknown split(s) {unknown}; use {_RATIOS_HINT}")
        items = [values.get(name, 0.0) for name in SPLIT_NAMES]
    else:
        items = as_list(values)
        if len(items) != len(SPLIT_NAMES):
            raise ConfigError(key, values, _RATIOS_HINT)
    if not all(is_number(v) and math.isfinite(v) and v >= 0 for v in items):
        raise ConfigError(key, values, _RATIOS_HINT)
    shares = [float(v) for v in items]
    if abs(sum(shares) - 1.0) > 1e-6:
        raise ConfigError(key, values, f"ratios sum to {sum(shares):g}; use {_RATIOS_HINT}")
    return dict(zip(SPLIT_NAMES, shares, strict=True))
