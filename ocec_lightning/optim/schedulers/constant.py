"""`scheduler=none`: the LR stays at its base value after warmup."""

from __future__ import annotations

from torch.optim import Optimizer


def build(optimizer: Optimizer, horizon: int) -> None:
    """No inner scheduler: LRSchedule keeps the base LR once warmup is over."""
    return None
