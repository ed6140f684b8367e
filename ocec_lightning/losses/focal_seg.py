"""Multiclass focal loss for segmentation (loss=focal_seg), Lin et al. per pixel:
``−α_t · (1 − p_t)^γ · log p_t``, averaged over non-ignored pixels.

``alpha`` is a per-class weight list, or ``inverse`` / ``median_frequency`` derived
from the train split's class frequencies exactly as for loss=ce (see seg_ce.py). The
mean divides by the pixel count, not by the summed alphas (Lin et al. normalise by the
number of anchors), so alpha rescales the loss as well as re-balancing it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor

from ocec_lightning.checks import number_in
from ocec_lightning.losses.seg_ce import (
    ClassWeightedLoss,
    WeightSpec,
    check_ignore_index,
    check_num_classes,
    valid_and_safe,
)

__all__ = ["FocalSegLoss"]


class FocalSegLoss(ClassWeightedLoss):
    """Focal loss over softmax classes with ``ignore_index`` pixels excluded."""

    weight_key = "alpha"
    weight_buffer = "alpha"

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: WeightSpec = None,
        ignore_index: int | None = 255,
        num_classes: int | None = None,
        class_frequencies: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.gamma = number_in("gamma", gamma, 0, 10, hint=" (0 = cross-entropy)")
        self.ignore_index = check_ignore_index(ignore_index)
        self.num_classes = check_num_classes(num_classes)
        self._init_class_weights(alpha, class_frequencies)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        alpha = self._class_weights_for(logits)
        valid, safe = valid_and_safe(target.long(), self.ignore_index)
        log_p = F.log_softmax(logits.float(), dim=1).gather(1, safe.unsqueeze(1)).squeeze(1)
        loss = -((1.0 - log_p.exp()).pow(self.gamma)) * log_p
        if alpha is not None:
            loss = loss * alpha[safe]
        loss = loss * valid
        # clamp: an all-ignored batch gives 0 instead of 0/0.
        return loss.sum() / valid.sum().clamp_min(1)
