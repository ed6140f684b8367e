"""Exception types that carry a one-line, user-facing message.

Every error raised for bad user input names the key / file / row, the bad value and a
valid alternative. The CLI entry points print these as a single line and exit non-zero
instead of dumping a traceback.

A component (model, loss, scheduler builder, callback, data source) checks its own
arguments and names them by their own name (`ConfigError("alpha", ...)`); the
instantiate wrapper (`config/instantiate.py`) then scopes the key under the config node
it came from (`loss.alpha`), so the component does not need to know where it is
configured.
"""

from __future__ import annotations


class OCECError(ValueError):
    """Base class for errors caused by user input (config or data), not by a bug."""


class ConfigError(OCECError):
    """A composed config value is out of range or a combination cannot work."""

    def __init__(self, key: str, value: object, expected: str, *, scoped: bool = False) -> None:
        self.key, self.value, self.expected = key, value, expected
        # True once the key is the full config path (set by `within`, or by code that
        # checks composed configs and already knows the full key).
        self.scoped = scoped
        super().__init__(f"config key '{key}' = {value!r} is invalid: {expected}")

    def within(self, prefix: str) -> ConfigError:
        """This error with its key placed under the config node `prefix` (unchanged when
        it is already a full key: scoped, or starting with the prefix's config group)."""
        group = prefix.split(".")[0]
        if not self.scoped and prefix and self.key.split(".")[0] != group:
            return ConfigError(f"{prefix}.{self.key}", self.value, self.expected, scoped=True)
        self.scoped = True
        return self


class DataError(OCECError):
    """A data file, row, image or split is missing, corrupt or unusable."""
