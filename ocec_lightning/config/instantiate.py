"""Hydra `instantiate` that keeps our one-line errors one line.

Hydra wraps any exception raised by a `_target_` in InstantiationException with a
multi-line message. Errors we raise for bad input (OCECError) are re-raised as they
are; anything else becomes a ConfigError naming the config key and the target.
"""

from __future__ import annotations

from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate as hydra_instantiate

from ocec_lightning.errors import ConfigError, OCECError


def instantiate(node: Any, key: str, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate(node, **kwargs)`; `key` names the node in error messages."""
    try:
        return hydra_instantiate(node, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        while cause is not None and not isinstance(cause, OCECError):
            cause = cause.__cause__
        if isinstance(cause, OCECError):
            raise cause from None
        target = node.get("_target_") if hasattr(node, "get") else node
        detail = " ".join(str(err.__cause__ or err).split())
        raise ConfigError(key, target, f"arguments its target accepts ({detail})") from err
