"""The contract of a batched augmentation, and the shared per-row selection.

A `BatchTransform` takes float images [B, 3, H, W] in [0, 1] and, for segmentation,
int64 masks [B, H, W], on whatever device the batch is on, and draws all its randomness
from the `torch.Generator` it is given: the pipeline seeds that generator from (seed,
rank, epoch, batch), which is what makes a resumed run draw what an uninterrupted one
would. `p` is per row, as in albumentations: each image is transformed with probability
`p`, independently of the others.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from ocec_lightning.checks import number_in


class BatchTransform(ABC):
    """One augmentation applied to a whole batch; `p` is the per-row probability."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = number_in("p", p, 0.0, 1.0)

    def __call__(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        if self.p >= 1.0:  # every row: no gather and scatter back
            return self.apply(images, masks, generator)
        rows = self.rows(images.shape[0], images.device, generator)
        if rows.numel() == 0:
            return images, masks
        images, masks = images.clone(), None if masks is None else masks.clone()
        sub_masks = None if masks is None else masks[rows]
        new_images, new_masks = self.apply(images[rows], sub_masks, generator)
        images[rows] = new_images
        if masks is not None and new_masks is not None:
            masks[rows] = new_masks
        return images, masks

    def rows(self, n: int, device: torch.device, generator: torch.Generator) -> Tensor:
        """Indices of the rows this call transforms (each with probability `p`)."""
        if self.p >= 1.0:
            return torch.arange(n, device=device)
        draw = torch.rand(n, device=device, generator=generator)
        return torch.nonzero(draw < self.p).flatten()

    @abstractmethod
    def apply(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        """Transform every row given (the rows `p` picked)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


def uniform(
    n: int, low: float, high: float, device: torch.device, generator: torch.Generator
) -> Tensor:
    """`n` draws from U[low, high] as float32 on `device`."""
    return low + (high - low) * torch.rand(n, device=device, generator=generator)
