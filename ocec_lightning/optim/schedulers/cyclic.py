"""`scheduler=cyclic`: cyclical learning rates (Smith 2017; torch CyclicLR), per step.

The LR moves between `base_lr` and `max_lr` in cycles of `step_size_up + step_size_down`
scheduler steps. CyclicLR sets every group's LR to its base_lr when built, so a warmup in
front of it rises to base_lr and the first cycle starts exactly where the warmup ends.

Momentum cycling: torch's default (`cycle_momentum=True`) rewrites the optimizer's
momentum — or Adam's beta1 — to cycle between base_momentum and max_momentum. That
switches momentum ON for SGD/RMSprop configured without it, changes Adam's beta1 under
its bias correction (which assumes a constant beta1), and raises for optimizers with
neither. So `cycle_momentum: null` (the default) cycles only when every group already
uses momentum > 0; set it to true to cycle beta1 as well.
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CyclicLR


def group_values(optimizer: Optimizer, value: float | None, scale: float = 1.0) -> list[float]:
    """Per-group LRs: `value` for the group with the largest LR, the others in proportion
    (keeps layer-wise LR ratios); None = each group's own LR; both times `scale`."""
    lrs = [float(group["lr"]) for group in optimizer.param_groups]
    top = max(lrs)
    if value is None:
        return [lr * scale for lr in lrs]
    return [float(value) * lr / top * scale for lr in lrs]


def cycle_momentum_for(optimizer: Optimizer, requested: bool | None) -> bool:
    """`requested`, or (None) True only when every group already has momentum > 0."""
    if requested is not None:
        return bool(requested)
    return all(float(group.get("momentum") or 0.0) > 0 for group in optimizer.param_groups)


def build(
    optimizer: Optimizer,
    horizon: int,
    base_lr: float | None = None,
    max_lr: float | None = None,
    step_size_up: int | None = None,
    step_size_down: int | None = None,
    cycle_mode: str = "triangular",
    gamma: float = 1.0,
    cycle_momentum: bool | None = None,
    base_momentum: float = 0.8,
    max_momentum: float = 0.9,
) -> CyclicLR:
    """CyclicLR. max_lr null = the optimizer's LR, base_lr null = max_lr / 10;
    step_size_up null = horizon / 4 (two full cycles over the run after warmup)."""
    max_lrs = group_values(optimizer, max_lr)
    base_lrs = (
        group_values(optimizer, base_lr) if base_lr is not None else [m / 10 for m in max_lrs]
    )
    up = int(step_size_up) if step_size_up else max(1, horizon // 4)
    return CyclicLR(
        optimizer,
        base_lr=base_lrs,
        max_lr=max_lrs,
        step_size_up=up,
        step_size_down=int(step_size_down) if step_size_down else None,
        mode=cycle_mode,
        gamma=gamma,
        cycle_momentum=cycle_momentum_for(optimizer, cycle_momentum),
        base_momentum=base_momentum,
        max_momentum=max_momentum,
    )
