"""``arguments_of``: a model's constructor arguments as one mapping, for its config check.

``OCECNet`` and ``MicroSegFormer`` hand every argument they were called with (defaults
filled in) to their ``check_*_config`` function before building any layer, so the
parameter list and its defaults live in one place: the class, which Hydra instantiates
and the YAML tests introspect.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["arguments_of"]


def arguments_of(target: Callable[..., object], namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The value of each of ``target``'s parameters in ``namespace``, in signature order:
    ``arguments_of(Model, locals())`` at the top of ``Model.__init__`` gives the
    arguments it was called with, defaults filled in."""
    return {name: namespace[name] for name in inspect.signature(target).parameters}
