"""`scheduler=poly`: polynomial decay to 0 over the run (torch PolynomialLR).

LR at scheduler step t is base · (1 - min(t, T) / T) ** power, the "poly" policy of
DeepLab-style segmentation training (power 0.9, per iteration).
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import PolynomialLR


def build(
    optimizer: Optimizer, horizon: int, total_iters: int | None = None, power: float = 0.9
) -> PolynomialLR:
    """PolynomialLR; `total_iters` null = `horizon`, so the LR reaches 0 at the run's end."""
    return PolynomialLR(optimizer, total_iters=int(total_iters or horizon), power=power)
