"""`scheduler=plateau`: torch's ReduceLROnPlateau on a monitored validation metric."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau


def build(
    optimizer: Optimizer,
    horizon: int,
    mode: str = "min",
    factor: float = 0.5,
    patience: int = 2,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float = 0.0,
) -> ReduceLROnPlateau:
    """ReduceLROnPlateau with the given settings; `horizon` is not needed."""
    return ReduceLROnPlateau(
        optimizer,
        mode=mode,
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
        cooldown=cooldown,
        min_lr=min_lr,
    )
