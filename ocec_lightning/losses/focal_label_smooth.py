"""FocalLabelSmoothCE from the upstream OCEC trainer, for one logit.

The binary problem is treated as K = 2 classes with probabilities (1 − p, p). Targets
are smoothed to 1 − s on the true class and s / (K − 1) on the other; the loss is
mean((1 − p_t)^gamma · CE(smoothed targets)), with p_t the probability of the true class.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ocec_lightning.checks import number_in

_NUM_CLASSES = 2


class FocalLabelSmoothCE(nn.Module):
    """Focal-weighted cross-entropy on label-smoothed two-class targets."""

    def __init__(self, smoothing: float = 0.05, gamma: float = 2.0) -> None:
        super().__init__()
        self.smoothing = number_in("smoothing", smoothing, 0, 1, high_open=True)
        self.gamma = number_in("gamma", gamma, 0, 10, hint=" (0 = no focusing)")

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        y = targets.to(logits.dtype)
        # Soft (mixed) targets smooth linearly: q' = q·(1 − s) + (1 − q)·s/(K − 1).
        off = self.smoothing / (_NUM_CLASSES - 1)
        q_open = y * (1 - self.smoothing) + (1 - y) * off
        log_p_open, log_p_closed = F.logsigmoid(logits), F.logsigmoid(-logits)
        ce = -(q_open * log_p_open + (1 - q_open) * log_p_closed)
        p_t = y * log_p_open.exp() + (1 - y) * log_p_closed.exp()
        return ((1 - p_t).pow(self.gamma) * ce).mean()
