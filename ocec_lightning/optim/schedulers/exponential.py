"""`scheduler=exponential`: LR × gamma after every scheduler step (torch ExponentialLR)."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import ExponentialLR


def build(optimizer: Optimizer, horizon: int, gamma: float = 0.95) -> ExponentialLR:
    """ExponentialLR: LR at scheduler step t is base · gamma**t; `horizon` is not needed."""
    return ExponentialLR(optimizer, gamma=gamma)
