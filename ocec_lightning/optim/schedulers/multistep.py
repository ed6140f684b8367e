"""`scheduler=multistep`: LR × gamma at each milestone (torch MultiStepLR)."""

from __future__ import annotations

from collections.abc import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import MultiStepLR


def default_milestones(horizon: int) -> list[int]:
    """50 % and 75 % of the run after warmup (the classic ImageNet ratios), distinct, ≥ 1."""
    return sorted({max(1, horizon // 2), max(1, (3 * horizon) // 4)})


def build(
    optimizer: Optimizer,
    horizon: int,
    milestones: Sequence[int] | None = None,
    gamma: float = 0.1,
) -> MultiStepLR:
    """MultiStepLR; milestones count scheduler steps after warmup, null = 50 % and 75 %."""
    marks = [int(m) for m in milestones] if milestones else default_milestones(horizon)
    return MultiStepLR(optimizer, milestones=marks, gamma=gamma)
