"""Hydra `instantiate` that keeps our one-line errors one line and names the config key.

Hydra wraps any exception raised by a `_target_` in InstantiationException with a
multi-line message. A ConfigError raised by the component is re-raised with its key
scoped under the node it came from (`alpha` from the loss becomes `loss.alpha`); other
user-input errors (OCECError) pass through as they are; anything else becomes a
ConfigError naming the config key and the target. A reference to a key the composed
config lacks (e.g. `${task.num_classes}` under task=classification) is reported the
same way, and so is a required value left at `???` (`data.path=<value>` on the command
line). A component configured in one place whose errors already name full config keys
(the datamodule: `data.batch_size`, `aug.batched.classification[2]`) raises them inside
`full_keys()`, so they are not scoped a second time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate as hydra_instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

from ocec_lightning.errors import ConfigError, OCECError


def _user_error(err: BaseException) -> OCECError | None:
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, OCECError):
        cause = cause.__cause__
    return cause


def instantiate(node: Any, key: str, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate(node, **kwargs)`; `key` names the node in error messages."""
    try:
        return hydra_instantiate(node, **kwargs)
    except (InstantiationException, OCECError) as err:
        cause = _user_error(err)
        if isinstance(cause, ConfigError):
            raise cause.within(key) from None
        if cause is not None:
            raise cause from None
        target = node.get("_target_") if hasattr(node, "get") else node
        detail = " ".join(str(err.__cause__ or err).split())
        raise ConfigError(
            key, target, f"arguments its target accepts ({detail})", scoped=True
        ) from err
    except MissingMandatoryValue as err:
        missing = str(err.full_key or key)
        raise ConfigError(
            missing, "???", f"a value, e.g. {missing}=<value> on the command line", scoped=True
        ) from None
    except InterpolationResolutionError as err:
        target = node.get("_target_") if hasattr(node, "get") else node
        needs = " ".join(str(err).split("\n")[0].split())
        raise ConfigError(
            key, target, f"an option of this task (it needs {needs})", scoped=True
        ) from None


@contextmanager
def full_keys() -> Iterator[None]:
    """ConfigErrors raised inside already name full config keys: `instantiate` keeps them."""
    try:
        yield
    except ConfigError as err:
        err.scoped = True
        raise


def plain(value: Any) -> Any:
    """OmegaConf containers (also nested in dicts/lists) as resolved plain dicts and
    lists: what is stored as hyper-parameters, so checkpoints load with weights_only."""
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value
