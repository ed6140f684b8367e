"""`scheduler=cosine_warm_restarts`: SGDR, cosine annealing restarted every T_i epochs.

The recommended of the four LR plans for the MicroSegFormer run (preset=seg_warm_restart)
uses it to escape a cosine schedule that had decayed too early: with T_0=25 and T_mult=2
the LR restarts at the base value after 25, 75, 175, … scheduler steps. Behind a warmup
those restarts count from the end of the warmup.
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts

from ocec_lightning.checks import int_at_least
from ocec_lightning.optim.schedulers.cosine import check_eta_min


def build(
    optimizer: Optimizer,
    horizon: int,
    T_0: int = 25,
    T_mult: int = 2,
    eta_min: float = 1e-6,
) -> CosineAnnealingWarmRestarts:
    """CosineAnnealingWarmRestarts; the cycle lengths do not depend on `horizon`."""
    int_at_least("T_0", T_0, 1)
    int_at_least("T_mult", T_mult, 1)
    eta_min = check_eta_min(eta_min, optimizer)
    return CosineAnnealingWarmRestarts(optimizer, T_0=int(T_0), T_mult=int(T_mult), eta_min=eta_min)
