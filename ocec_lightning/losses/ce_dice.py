"""``ce_weight · CE + dice_weight · Dice`` (loss=ce_dice), the reference run's loss.

Composes ``SegCrossEntropy`` and ``DiceLoss`` so each formula lives in one place.
The reference run used dice_weight 1.5; the boldest of its LR plans (preset=seg_ultimate)
uses 2.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from ocec_lightning.checks import number_in
from ocec_lightning.errors import ConfigError
from ocec_lightning.losses.dice import DiceLoss
from ocec_lightning.losses.seg_ce import SegCrossEntropy, WeightSpec

__all__ = ["CEDiceLoss"]


class CEDiceLoss(nn.Module):
    """Weighted sum of pixel cross-entropy and soft Dice; ``last_terms`` keeps the two
    unweighted terms of the latest call (detached) for logging."""

    def __init__(
        self,
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        class_weights: WeightSpec = None,
        label_smoothing: float = 0.0,
        ignore_index: int | None = 255,
        num_classes: int | None = None,
        class_frequencies: Sequence[float] | None = None,
        smooth: float = 1.0,
        include_background: bool = True,
    ) -> None:
        super().__init__()
        self.ce_weight = number_in("ce_weight", ce_weight, 0, math.inf, high_open=True)
        self.dice_weight = number_in("dice_weight", dice_weight, 0, math.inf, high_open=True)
        if self.ce_weight == 0 and self.dice_weight == 0:
            raise ConfigError("dice_weight", dice_weight, "> 0 when loss.ce_weight is 0")
        self.ce = SegCrossEntropy(
            class_weights=class_weights,
            label_smoothing=label_smoothing,
            ignore_index=ignore_index,
            num_classes=num_classes,
            class_frequencies=class_frequencies,
        )
        self.dice = DiceLoss(
            smooth=smooth, ignore_index=ignore_index, include_background=include_background
        )
        self.last_terms: dict[str, Tensor] = {}

    @property
    def needs_class_frequencies(self) -> bool:
        """True until frequency-based CE class weights have been filled in."""
        return self.ce.needs_class_frequencies

    def set_class_frequencies(self, frequencies: Sequence[float]) -> None:
        """Forward the train split's class frequencies to the CE term."""
        self.ce.set_class_frequencies(frequencies)

    def bind_data(self, datamodule: Any) -> None:
        """Fill in frequency-based CE class weights from the train split."""
        self.ce.bind_data(datamodule)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        ce = self.ce(logits, target)
        dice = self.dice(logits, target)
        self.last_terms = {"ce": ce.detach(), "dice": dice.detach()}
        return self.ce_weight * ce + self.dice_weight * dice
