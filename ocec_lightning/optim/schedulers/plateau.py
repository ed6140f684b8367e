"""`scheduler=plateau`: torch's ReduceLROnPlateau on a monitored validation metric."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from ocec_lightning.checks import int_at_least, number_in, one_of


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
    one_of("mode", mode, ("min", "max"))
    one_of("threshold_mode", threshold_mode, ("rel", "abs"))
    number_in("factor", factor, 0, 1, low_open=True, high_open=True, hint=", e.g. 0.5")
    int_at_least("patience", patience, 0)
    int_at_least("cooldown", cooldown, 0)
    number_in("min_lr", min_lr, 0, 10)
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
