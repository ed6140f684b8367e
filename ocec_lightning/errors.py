"""Exception types that carry a one-line, user-facing message (SPEC §12).

Every error raised for bad user input names the key / file / row, the bad value and a
valid alternative. The CLI entry points print these as a single line and exit non-zero
instead of dumping a traceback.
"""

from __future__ import annotations


class OCECError(ValueError):
    """Base class for errors caused by user input (config or data), not by a bug."""


class ConfigError(OCECError):
    """A composed config value is out of range or a combination cannot work."""

    def __init__(self, key: str, value: object, expected: str) -> None:
        self.key, self.value, self.expected = key, value, expected
        super().__init__(f"config key '{key}' = {value!r} is invalid: {expected}")


class DataError(OCECError):
    """A data file, row, image or split is missing, corrupt or unusable."""
