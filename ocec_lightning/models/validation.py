"""Signature helpers for the models' ``check_*_config`` functions.

Each check raises ``ConfigError`` naming the ``model.*`` key, the bad value and what
would work. ``takes_arguments_of`` lets a config check accept exactly the arguments of
the model class it validates, so the parameter list and its defaults live in one place
(the class, which Hydra instantiates and the YAML tests introspect).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = ["arguments_of", "takes_arguments_of"]

R = TypeVar("R")


def arguments_of(target: Callable[..., object], namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The value of each of ``target``'s parameters in ``namespace``, in signature order:
    ``arguments_of(Model, locals())`` at the top of ``Model.__init__`` gives the
    arguments it was called with, defaults filled in."""
    return {name: namespace[name] for name in inspect.signature(target).parameters}


def _python_wording(message: str, signature: inspect.Signature, given: int) -> str:
    """``Signature.bind``'s ``TypeError`` text as Python words it for a real call."""
    if message == "too many positional arguments":
        takes = len(signature.parameters)
        return f"takes from 0 to {takes} positional arguments but {given} were given"
    if message.startswith("multiple values"):
        return f"got {message}"
    return message


def takes_arguments_of(
    target: Callable[..., object],
) -> Callable[[Callable[[Mapping[str, Any]], R]], Callable[..., R]]:
    """Decorator: turn ``check(arguments)`` into a function called like ``target``.

    The result takes ``target``'s parameters (same names, order and defaults; every
    parameter is assumed to have a default), shows ``target``'s signature to
    ``inspect``, and passes ``check`` a mapping of every argument, defaults filled in. A
    call that does not fit raises the ``TypeError`` Python would raise for a function
    with that signature.
    """
    signature = inspect.signature(target)

    def decorate(check: Callable[[Mapping[str, Any]], R]) -> Callable[..., R]:
        @functools.wraps(check)
        def call(*args: object, **kwargs: object) -> R:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                wording = _python_wording(str(exc), signature, len(args))
                raise TypeError(f"{check.__name__}() {wording}") from None
            bound.apply_defaults()
            return check(bound.arguments)

        returns = inspect.signature(check).return_annotation
        call.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
        return call

    return decorate
