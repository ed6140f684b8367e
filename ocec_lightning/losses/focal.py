"""Binary focal loss (Lin et al.): BCE scaled by (1 − p_t)^gamma so that confident,
correct predictions contribute little and training focuses on hard crops."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ocec_lightning.checks import number_in
from ocec_lightning.losses.pos_weight import PosWeighted, PosWeightSpec


class BinaryFocalLoss(PosWeighted):
    """Focal loss on one logit; works with soft targets (p_t = y·p + (1−y)·(1−p))."""

    def __init__(
        self, gamma: float = 2.0, alpha: float | None = None, pos_weight: PosWeightSpec = None
    ) -> None:
        super().__init__()
        self.gamma = number_in("gamma", gamma, 0, 10, hint=" (0 = plain BCE)")
        self.alpha = None if alpha is None else number_in("alpha", alpha, 0, 1, hint=" or null")
        self._init_pos_weight(pos_weight)

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
