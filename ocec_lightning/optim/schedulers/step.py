"""`scheduler=step`: LR × gamma every `step_size` scheduler steps (torch StepLR)."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import StepLR


def build(
    optimizer: Optimizer, horizon: int, step_size: int | None = None, gamma: float = 0.1
) -> StepLR:
    """StepLR; `step_size` null = a third of `horizon`, so a run sees two drops.

    The default follows the run length (like cosine's T_max) so the option does
    something sensible whatever trainer.max_epochs is.
    """
    size = int(step_size) if step_size else max(1, horizon // 3)
    return StepLR(optimizer, step_size=size, gamma=gamma)
