"""Geometric batch transforms: images and masks move together.

Images are resampled bilinearly, masks with nearest neighbour (a class id is never
blended into another). Pixels moved in from outside the frame get `fill` (image, in
0-255 units as albumentations takes it) and `fill_mask` (mask; the segmentation presets
use `task.ignore_index`, so the loss skips them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ocec_lightning.checks import int_at_least, number_in
from ocec_lightning.data.batch_aug.base import BatchTransform, uniform, value_range
from ocec_lightning.data.masks import swap_lut
from ocec_lightning.data.transforms import _check_pairs


class HorizontalFlip(BatchTransform):
    """Mirror left-right. `pairs` ([[2, 3], ...], segmentation) are the left/right class
    ids that a mirrored face exchanges: the flipped mask swaps each pair."""

    def __init__(self, pairs: Sequence[Sequence[int]] = (), p: float = 0.5) -> None:
        super().__init__(p)
        self.pairs = _check_pairs(pairs)
        self._lut = torch.from_numpy(swap_lut(self.pairs)).long() if self.pairs else None

    def apply(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        images = images.flip(-1)
        if masks is not None:
            masks = masks.flip(-1)
            if self._lut is not None:
                masks = self._lut.to(masks.device)[masks]
        return images, masks


class Affine(BatchTransform):
    """Scale (same on both axes), translation (fraction of width/height, per axis) and
    rotation (degrees) about the image centre, drawn per image."""

    def __init__(
        self,
        scale: Sequence[float] = (1.0, 1.0),
        translate_percent: Sequence[float] = (0.0, 0.0),
        rotate: Sequence[float] = (0.0, 0.0),
        fill: float = 0.0,
        fill_mask: int = 0,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        self.scale = value_range("scale", scale, 1e-3, 100.0)
        self.translate = value_range("translate_percent", translate_percent, -1.0, 1.0)
        self.rotate = value_range("rotate", rotate, -360.0, 360.0)
        self.fill = number_in("fill", fill, 0, 255) / 255.0
        self.fill_mask = int(number_in("fill_mask", fill_mask, 0, 255))

    def apply(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        n, _, height, width = images.shape
        device = images.device
        scale = uniform(n, *self.scale, device, generator)
        shift_x = uniform(n, *self.translate, device, generator) * width
        shift_y = uniform(n, *self.translate, device, generator) * height
        angle = uniform(n, *self.rotate, device, generator) * (math.pi / 180.0)
        # Output pixel -> input pixel (centred pixel units): A^-1 (out - t), A = s R(angle).
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        # In grid_sample's normalised coordinates x_n = 2x / W: conjugate by diag(2/W, 2/H).
        theta = torch.stack(
            (
                torch.stack(
                    (cos, sin * height / width, -(cos * shift_x + sin * shift_y) * 2 / width), 1
                ),
                torch.stack(
                    (-sin * width / height, cos, (sin * shift_x - cos * shift_y) * 2 / height), 1
                ),
            ),
            1,
        )
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        warped = F.grid_sample(
            images, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        if self.fill:
            inside = F.grid_sample(
                torch.ones_like(images[:, :1]), grid, mode="bilinear", align_corners=False
            )
            warped = warped + (1 - inside) * self.fill
        if masks is not None:
            # Ids shifted by one so that zero padding marks "outside", then fill_mask there.
            moved = (
                F.grid_sample(
                    (masks + 1).unsqueeze(1).float(), grid, mode="nearest", align_corners=False
                )
                .squeeze(1)
                .long()
            )
            masks = torch.where(moved == 0, self.fill_mask, moved - 1)
        return warped, masks


class PadCrop(BatchTransform):
    """`RandomCrop(size, padding)`: pad `padding` px of `fill` on every side, cut the
    original size back out at a uniformly drawn offset (seed 000's recipe)."""

    def __init__(
        self, padding: int = 4, fill: float = 0.0, fill_mask: int = 0, p: float = 1.0
    ) -> None:
        super().__init__(p)
        self.padding = int_at_least("padding", padding, 0)
        self.fill = number_in("fill", fill, 0, 255) / 255.0
        self.fill_mask = int(number_in("fill_mask", fill_mask, 0, 255))

    def apply(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        n, _, height, width = images.shape
        pad, device = self.padding, images.device
        top = torch.randint(0, 2 * pad + 1, (n,), device=device, generator=generator)
        left = torch.randint(0, 2 * pad + 1, (n,), device=device, generator=generator)
        rows = top.view(n, 1) + torch.arange(height, device=device)  # [n, H]
        cols = left.view(n, 1) + torch.arange(width, device=device)  # [n, W]
        images = _shift(F.pad(images, (pad,) * 4, value=self.fill), rows, cols)
        if masks is not None:
            padded = F.pad(masks.unsqueeze(1), (pad,) * 4, value=self.fill_mask)
            masks = _shift(padded, rows, cols).squeeze(1)
        return images.contiguous(), masks


def _shift(padded: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """Rows `rows[i]` and columns `cols[i]` of each padded image i (two gathers)."""
    n, c, _, padded_width = padded.shape
    height, width = rows.shape[1], cols.shape[1]
    picked = padded.gather(2, rows.view(n, 1, height, 1).expand(n, c, height, padded_width))
    return picked.gather(3, cols.view(n, 1, 1, width).expand(n, c, height, width))
