"""Binary cross-entropy on logits with an optional positive-class weight and label
smoothing (targets y·(1−s) + s/2), the OCEC default loss."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ocec_lightning.checks import number_in
from ocec_lightning.losses.pos_weight import PosWeighted, PosWeightSpec


class BCELoss(PosWeighted):
    """BCEWithLogits; `pos_weight` multiplies the loss of positive (open) targets."""

    def __init__(self, pos_weight: PosWeightSpec = None, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = number_in("label_smoothing", label_smoothing, 0, 1, high_open=True)
        self._init_pos_weight(pos_weight)

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        targets = targets.to(logits.dtype)
        if self.label_smoothing:
            targets = targets * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        return F.binary_cross_entropy_with_logits(logits, targets, pos_weight=self.pos_weight)
