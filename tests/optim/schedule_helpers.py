"""Helpers shared by the LR-schedule tests (imported by test modules of this folder)."""

from __future__ import annotations

import torch
from omegaconf import OmegaConf

from ocec_lightning.config import conf_dir

# The shared warmup block exactly as the YAML defines it (no warmup).
WARMUP_NONE = OmegaConf.to_container(OmegaConf.load(conf_dir() / "warmup.yaml"))


def sgd(lr: float = 1.0, **kwargs: object) -> torch.optim.Optimizer:
    """An optimizer over one dummy parameter: its LR is all the tests look at."""
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, **kwargs)
