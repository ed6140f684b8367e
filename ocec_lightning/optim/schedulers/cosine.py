"""`scheduler=cosine`: cosine annealing to eta_min over T_max (default: the rest of the run)."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR

from ocec_lightning.checks import int_at_least, number_in


def check_eta_min(eta_min: float, optimizer: Optimizer) -> float:
    """The floor of a cosine schedule: >= 0 and below the (largest) base LR."""
    base_lr = max(float(group["lr"]) for group in optimizer.param_groups)
    return number_in("eta_min", eta_min, 0, base_lr, high_open=True, hint=" (below optimizer.lr)")


def build(
    optimizer: Optimizer, horizon: int, T_max: int | None = None, eta_min: float = 0.0
) -> CosineAnnealingLR:  # noqa: N803
    """CosineAnnealingLR; T_max defaults to `horizon`, the length left after warmup."""
    if T_max is not None:
        int_at_least("T_max", T_max, 1)
    eta_min = check_eta_min(eta_min, optimizer)
    return CosineAnnealingLR(optimizer, T_max=int(T_max or horizon), eta_min=eta_min)
