"""Custom OmegaConf resolvers used by the YAML files (namespace `ocec.`).

- `${ocec.metric_slug:val/f1}` -> `val_f1`: metric names as file-name parts.
- `${ocec.env_missing:WANDB_API_KEY}` -> True when the variable is unset or empty
  (W&B runs offline unless a key is configured).
"""

from __future__ import annotations

import os

from omegaconf import OmegaConf


def metric_slug(name: str) -> str:
    """Turn a logged metric name into something safe inside a file name."""
    return str(name).replace("/", "_")


def env_missing(var: str) -> bool:
    """True when the environment variable `var` is unset or empty."""
    return not os.environ.get(str(var))


def register_resolvers() -> None:
    """Register the resolvers once per process (idempotent)."""
    for name, fn in (("ocec.metric_slug", metric_slug), ("ocec.env_missing", env_missing)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


register_resolvers()
