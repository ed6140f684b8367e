"""`scheduler=cosine`: cosine annealing to eta_min over T_max (default: the rest of the run),
then eta_min held to the end.

torch's `CosineAnnealingLR` is periodic: a run longer than T_max climbs back towards the
base LR after T_max steps (preset=seg_slow_decay, T_max 150 in a 200-epoch run, would
rise again from epoch 155). `CosineAnnealingToMin` is the same scheduler (same state_dict,
so checkpoints of either load into the other) that stays at eta_min once T_max scheduler
steps have passed.
"""

from __future__ import annotations

import math

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR

from ocec_lightning.checks import int_at_least, number_in


class CosineAnnealingToMin(CosineAnnealingLR):
    """CosineAnnealingLR that holds eta_min after T_max steps instead of rising again."""

    def get_lr(self) -> list[float | Tensor]:
        if self.last_epoch >= self.T_max:
            return [self.eta_min for _ in self.optimizer.param_groups]
        return super().get_lr()

    def _get_closed_form_lr(self) -> list[float | Tensor]:
        t = min(self.last_epoch, self.T_max)
        return [
            self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]


def check_eta_min(eta_min: float, optimizer: Optimizer) -> float:
    """The floor of a cosine schedule: >= 0 and below the (largest) base LR."""
    base_lr = max(float(group["lr"]) for group in optimizer.param_groups)
    return number_in("eta_min", eta_min, 0, base_lr, high_open=True, hint=" (below optimizer.lr)")


def build(
    optimizer: Optimizer, horizon: int, T_max: int | None = None, eta_min: float = 0.0
) -> CosineAnnealingToMin:  # noqa: N803
    """Cosine annealing holding eta_min after T_max; T_max defaults to `horizon`, the
    length left after warmup."""
    if T_max is not None:
        int_at_least("T_max", T_max, 1)
    eta_min = check_eta_min(eta_min, optimizer)
    return CosineAnnealingToMin(optimizer, T_max=int(T_max or horizon), eta_min=eta_min)
