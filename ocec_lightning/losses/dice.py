"""Soft Dice loss for segmentation (loss=dice), the overlap term of the reference run.

``1 − mean over (sample, class) of (2·Σ p·t + s) / (Σ p + Σ t + s)``, sums over H×W,
``p`` the softmax probabilities, ``t`` the one-hot target and ``s`` the smoothing
constant. Ignored pixels are removed from both ``p`` and ``t``. A class absent from a
sample scores ``s / (Σ p + s)``, so predicting it anywhere is penalised and predicting
it nowhere scores 1: a perfect prediction has loss ≈ 0.
"""

from __future__ import annotations

from numbers import Real

import torch
from torch import Tensor, nn

from ocec_lightning.errors import ConfigError
from ocec_lightning.losses.seg_ce import check_ignore_index, valid_and_safe

__all__ = ["DiceLoss", "soft_dice_per_class"]


def soft_dice_per_class(
    logits: Tensor, target: Tensor, smooth: float = 1.0, ignore_index: int | None = 255
) -> Tensor:
    """Soft Dice coefficient per (sample, class), ``[B, C]``, computed in float32."""
    # float32 even under AMP: sums over 10^4+ pixels lose too much precision in fp16.
    probs = logits.float().softmax(dim=1)
    valid, safe = valid_and_safe(target.long(), ignore_index)
    mask = valid.unsqueeze(1).to(probs.dtype)
    onehot = torch.zeros_like(probs).scatter_(1, safe.unsqueeze(1), 1.0) * mask
    probs = probs * mask
    dims = tuple(range(2, probs.ndim))
    intersection = (probs * onehot).sum(dims)
    cardinality = probs.sum(dims) + onehot.sum(dims)
    return (2.0 * intersection + smooth) / (cardinality + smooth)


class DiceLoss(nn.Module):
    """``1 − mean soft Dice`` over (sample, class); class 0 optionally left out."""

    # Nothing data-dependent to fill in (see seg_ce.py for losses that need it).
    needs_class_frequencies = False

    def __init__(
        self, smooth: float = 1.0, ignore_index: int | None = 255, include_background: bool = True
    ) -> None:
        super().__init__()
        # smooth > 0 keeps classes absent from target and prediction at 1, not 0/0.
        if not isinstance(smooth, Real) or isinstance(smooth, bool) or not float(smooth) > 0:
            raise ConfigError("smooth", smooth, "a positive number (1.0 in the reference)")
        if not isinstance(include_background, bool):
            raise ConfigError("include_background", include_background, "true or false")
        self.smooth = float(smooth)
        self.ignore_index = check_ignore_index(ignore_index)
        self.include_background = include_background

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        dice = soft_dice_per_class(logits, target, self.smooth, self.ignore_index)
        if not self.include_background:
            dice = dice[:, 1:]
        return 1.0 - dice.mean()
