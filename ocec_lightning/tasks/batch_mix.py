"""Batch-level MixUp / CutMix for the one-logit binary task, via timm's `Mixup`.

timm mixes images and one-hot targets; with two classes the mixed target's column 1 is
the soft "open" probability the binary losses expect. timm needs an even batch, so an
odd batch (the last one of an epoch) passes through unmixed.
"""

from __future__ import annotations

from timm.data import Mixup
from torch import Tensor


class BinaryBatchMix:
    """Callable (images, targets{0,1}) -> (mixed images, soft targets in [0, 1])."""

    def __init__(
        self,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        prob: float = 0.0,
        switch_prob: float = 0.5,
    ) -> None:
        self.enabled = prob > 0 and (mixup_alpha > 0 or cutmix_alpha > 0)
        self._mixup = (
            Mixup(
                mixup_alpha=mixup_alpha,
                cutmix_alpha=cutmix_alpha,
                prob=prob,
                switch_prob=switch_prob,
                mode="batch",
                label_smoothing=0.0,
                num_classes=2,
            )
            if self.enabled
            else None
        )

    def __call__(self, images: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        if self._mixup is None or images.shape[0] % 2:
            return images, targets.float()
        mixed, soft = self._mixup(images, targets.long())
        return mixed, soft[:, 1]
