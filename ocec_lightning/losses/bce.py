"""Binary cross-entropy on logits with an optional positive-class weight and label
smoothing (targets y·(1−s) + s/2), the OCEC default loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class BCELoss(nn.Module):
    """BCEWithLogits; `pos_weight` multiplies the loss of positive (open) targets."""

    def __init__(self, pos_weight: float | None = None, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = float(label_smoothing)
        # A buffer follows the module across devices; persistent=False keeps it out of
        # checkpoints so a resumed run recomputes it from the data, like the first run.
        weight = torch.tensor(float(pos_weight)) if pos_weight is not None else None
        self.register_buffer("pos_weight", weight, persistent=False)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        targets = targets.to(logits.dtype)
        if self.label_smoothing:
            targets = targets * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=self.pos_weight)
