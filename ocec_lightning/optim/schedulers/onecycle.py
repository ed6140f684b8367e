"""`scheduler=onecycle`: the 1cycle policy (Smith & Topin 2018; torch OneCycleLR), per step.

The cycle spans exactly the run after warmup (`total_steps = horizon`): the LR rises
from max_lr / div_factor to max_lr over the first `pct_start` of it, then anneals to
max_lr / (div_factor · final_div_factor) at the last step.

With a warmup: OneCycleLR sets every group's LR to max_lr / div_factor when it is built,
before `LRSchedule` records its base LRs, so the warmup rises to that starting LR and the
cycle's step 0 is the first step after warmup — the LR is continuous at the handover.
OneCycle already warms up (its first phase), so the recommended warmup is 0; a warmup
only delays the cycle. Momentum cycling follows `cyclic.cycle_momentum_for` (null =
only for optimizers that already use momentum > 0).
"""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import OneCycleLR

from ocec_lightning.checks import number_in
from ocec_lightning.errors import ConfigError
from ocec_lightning.optim.schedulers.cyclic import cycle_momentum_for, group_values


class HoldingOneCycleLR(OneCycleLR):
    """OneCycleLR that holds its final LR after `total_steps` instead of raising.

    Lightning's estimate of the run length can be off by a batch (resumed or extended
    runs); ending a run at the minimum LR is better than crashing it.
    """

    def step(self, epoch: int | None = None) -> None:  # type: ignore[override]
        if self.last_epoch >= self.total_steps - 1:
            return
        super().step()


def build(
    optimizer: Optimizer,
    horizon: int,
    max_lr: float | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
    cycle_momentum: bool | None = None,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
) -> OneCycleLR:
    """OneCycleLR over `horizon` steps; max_lr null = each group's LR (the optimizer's)."""
    limit, hint = (0.5, " with three_phase, e.g. 0.3") if three_phase else (1, ", e.g. 0.3")
    pct = number_in("pct_start", pct_start, 0, limit, low_open=True, high_open=True, hint=hint)
    if pct * horizon == 1:  # a one-step first phase: torch's OneCycleLR divides by zero
        raise ConfigError("pct_start", pct_start, f"pct_start × {horizon} steps ≠ 1, e.g. 0.3")
    return HoldingOneCycleLR(
        optimizer,
        max_lr=group_values(optimizer, max_lr),
        total_steps=int(horizon),
        pct_start=pct,
        anneal_strategy=anneal_strategy,  # type: ignore[arg-type]
        cycle_momentum=cycle_momentum_for(optimizer, cycle_momentum),
        base_momentum=base_momentum,
        max_momentum=max_momentum,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        three_phase=bool(three_phase),
    )
