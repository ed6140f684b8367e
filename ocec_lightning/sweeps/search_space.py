"""The published Optuna sweeper's search-space syntax, parsed with Hydra's OverridesParser.

`key: interval(a, b)` (float, or int when both ends are written as integers),
`tag(log, interval(a, b))`, `choice(a, b, ...)` or a comma list `a,b`,
`range(start, stop[, step])` (stop excluded, as in Hydra's basic sweeper), `glob(...)`
over a config group's options. Anything else is a fixed value passed to every trial.
Chinese option names may be written unquoted, as on the command line. Trial values go
back into overrides with strings always quoted, so option names need no escaping.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    IntervalSweep,
    Override,
    QuotedString,
    RangeSweep,
)
from hydra.errors import HydraException
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from ocec_lightning.config.argv import quote_overrides
from ocec_lightning.errors import ConfigError
from ocec_lightning.sweeps.basic import unquote_globs

_INT_INTERVAL = re.compile(r"interval\(\s*[-+]?\d+\s*,\s*[-+]?\d+\s*\)")


@dataclass
class SearchSpace:
    """Distributions to sample (by override key) and overrides fixed for every trial."""

    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)  # key -> override as written

    def grid(self) -> dict[str, list[Any]]:
        """GridSampler's search space: every parameter must be enumerable."""
        out = {}
        for name, dist in self.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                out[name] = list(dist.choices)
            elif isinstance(dist, IntDistribution) and dist.step and not dist.log:
                out[name] = list(range(dist.low, dist.high + 1, dist.step))
            elif isinstance(dist, FloatDistribution) and dist.step is not None:
                count = round((dist.high - dist.low) / dist.step)
                out[name] = [dist.low + i * dist.step for i in range(count + 1)]
            else:
                raise ConfigError(
                    f"hydra.sweeper.params.{name}",
                    str(dist),
                    "choice(...), range(...) or a comma list for the grid sampler",
                    scoped=True,
                )
        return out


def _plain(value: Any) -> Any:
    """Parsed element -> Python value (quoted strings lose their quotes)."""
    if isinstance(value, QuotedString):
        return value.text
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def _choice_value(value: Any) -> Any:
    # Optuna's categorical choices must be None, bool, int, float or str: other values
    # (lists, mappings) are kept as their override text.
    plain = _plain(value)
    if plain is None or isinstance(plain, (bool, int, float, str)):
        return plain
    return Override._get_value_element_as_str(value)


def distribution(override: Override) -> BaseDistribution | None:
    """The Optuna distribution of a sweep override; None for a fixed value."""
    if not override.is_sweep_override():
        return None
    value = override.value()
    if override.is_choice_sweep():  # choice(...), a,b or glob(...) over a group's options
        try:
            items = list(override.sweep_iterator())
        except HydraException as err:  # a glob without the config loader to list options
            raise ConfigError(override.get_key_element(), override.input_line, str(err)) from err
        return CategoricalDistribution([_choice_value(v) for v in items])
    if override.is_range_sweep():
        assert isinstance(value, RangeSweep) and value.start is not None
        values = list(value.range())
        if not values:
            raise ConfigError(override.get_key_element(), override.input_line, "a non-empty range")
        if value.shuffle:
            return CategoricalDistribution(values)
        if all(isinstance(v, int) for v in values) and isinstance(value.step, int):
            return IntDistribution(int(values[0]), int(values[-1]), step=int(value.step))
        return FloatDistribution(float(values[0]), float(values[-1]), step=float(value.step))
    if override.is_interval_sweep():
        assert isinstance(value, IntervalSweep)
        start, end, log = value.start, value.end, "log" in value.tags
        assert start is not None and end is not None
        # Hydra's grammar makes both ends floats; ends written as integers mean an int
        # interval (as the published plugin documents).
        if _INT_INTERVAL.search(override.get_value_string()):
            return IntDistribution(int(start), int(end), log=log)
        return FloatDistribution(float(start), float(end), log=log)
    raise ConfigError(
        override.get_key_element(),
        override.input_line,
        "interval(a,b), tag(log,interval(a,b)), choice(...), range(...), glob(...) or a comma list",
    )


def parse_search_space(
    params: dict[str, str] | None, arguments: list[str], parser: OverridesParser
) -> SearchSpace:
    """`hydra.sweeper.params` first, then the command line's overrides (these win)."""
    lines = [f"{key}={value}" for key, value in (params or {}).items()] + list(arguments)
    space = SearchSpace()
    overrides = parser.parse_overrides(quote_overrides(lines))
    unquote_globs(overrides)
    for override in overrides:
        key = override.get_key_element()
        space.distributions.pop(key, None)
        space.fixed.pop(key, None)
        dist = distribution(override)
        if dist is None:
            space.fixed[key] = str(override.input_line)
        else:
            space.distributions[key] = dist
    return space


def quote(text: str) -> str:
    """A string as a quoted Hydra override value."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    raise ValueError(f"cannot quote a value holding both quote characters: {text!r}")


def format_value(value: Any) -> str:
    """A trial's parameter value as the value part of an override."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    # Lists / mappings of a categorical were stored as override text: keep them as is.
    if text.startswith(("[", "{")) and text.endswith(("]", "}")):
        return text
    return quote(text)


def trial_overrides(params: dict[str, Any]) -> list[str]:
    """`key=value` overrides of a trial's sampled parameters."""
    return [f"{key}={format_value(value)}" for key, value in params.items()]
