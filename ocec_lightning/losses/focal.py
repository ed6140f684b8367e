"""Binary focal loss (Lin et al.): BCE scaled by (1 − p_t)^gamma so that confident,
correct predictions contribute little and training focuses on hard crops."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class BinaryFocalLoss(nn.Module):
    """Focal loss on one logit; works with soft targets (p_t = y·p + (1−y)·(1−p))."""

    def __init__(
        self, gamma: float = 2.0, alpha: float | None = None, pos_weight: float | None = None
    ) -> None:
        super().__init__()
        self.gamma, self.alpha = float(gamma), alpha
        weight = torch.tensor(float(pos_weight)) if pos_weight is not None else None
        self.register_buffer("pos_weight", weight, persistent=False)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        targets = targets.to(logits.dtype)
        bce = F.binary_cross_entropy_with_logits(
            logits, targets, pos_weight=self.pos_weight, reduction="none"
        )
        prob = torch.sigmoid(logits)
        p_t = targets * prob + (1 - targets) * (1 - prob)
        loss = (1 - p_t).pow(self.gamma) * bce
        if self.alpha is not None:
            loss = (targets * self.alpha + (1 - targets) * (1 - self.alpha)) * loss
        return loss.mean()
