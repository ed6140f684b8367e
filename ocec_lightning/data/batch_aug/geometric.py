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

from ocec_lightning.checks import int_at_least, number_in, number_range
from ocec_lightning.data.batch_aug.base import BatchTransform, uniform
from ocec_lightning.data.masks import swap_lut
from ocec_lightning.data.transforms import _check_pairs
from ocec_lightning.errors import ConfigError

_PAIRS_EXPECTED = (
    "pairs of class ids to swap, e.g. [[2, 3], [4, 5]] (task.flip_pairs), each id 0-255 "
    "in one pair only"
)


class HorizontalFlip(BatchTransform):
    """Mirror left-right. `pairs` ([[2, 3], ...], segmentation) are the left/right class
    ids that a mirrored face exchanges: the flipped mask swaps each pair."""

    def __init__(self, pairs: Sequence[Sequence[int]] = (), p: float = 0.5) -> None:
        super().__init__(p)
        try:
            self.pairs = _check_pairs(pairs)
        except ValueError:
            raise ConfigError("pairs", pairs, _PAIRS_EXPECTED) from None
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
    """Scale, translation and rotation about the image centre, drawn per image, with
    albumentations.Affine's definitions (what the presets used per sample):

    - `scale` is drawn separately for x and y unless `keep_ratio` (albumentations'
      default `keep_ratio=False`);
    - `translate_percent` is a fraction of width / height drawn per axis and turned into
      whole pixels truncated toward zero (`int(t * W)`): at 24x40, +-3 % moves by at most
      one pixel across and never down;
    - the forward map is `out = R(rotate) S(scale) (in - c) + c + t` with `c` the centre.
    """

    def __init__(
        self,
        scale: Sequence[float] = (1.0, 1.0),
        translate_percent: Sequence[float] = (0.0, 0.0),
        rotate: Sequence[float] = (0.0, 0.0),
        fill: float = 0.0,
        fill_mask: int = 0,
        keep_ratio: bool = False,
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        self.scale = number_range("scale", scale, 1e-3, 100.0)
        self.translate = number_range("translate_percent", translate_percent, -1.0, 1.0)
        self.rotate = number_range("rotate", rotate, -360.0, 360.0)
        self.fill = number_in("fill", fill, 0, 255) / 255.0
        self.fill_mask = int(number_in("fill_mask", fill_mask, 0, 255))
        if not isinstance(keep_ratio, bool):
            raise ConfigError("keep_ratio", keep_ratio, "true or false")
        self.keep_ratio = keep_ratio

    def apply(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        n, _, height, width = images.shape
        device = images.device
        scale_x = uniform(n, *self.scale, device, generator)
        scale_y = scale_x if self.keep_ratio else uniform(n, *self.scale, device, generator)
        shift_x = torch.trunc(uniform(n, *self.translate, device, generator) * width)
        shift_y = torch.trunc(uniform(n, *self.translate, device, generator) * height)
        angle = uniform(n, *self.rotate, device, generator) * (math.pi / 180.0)
        theta = _inverse_theta(scale_x, scale_y, angle, shift_x, shift_y, height, width)
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


def _inverse_theta(
    scale_x: Tensor,
    scale_y: Tensor,
    angle: Tensor,
    shift_x: Tensor,
    shift_y: Tensor,
    height: int,
    width: int,
) -> Tensor:
    """grid_sample's [n, 2, 3] output -> input map for `out = R S in + t` (pixel units
    about the centre, R = [[cos, sin], [-sin, cos]] as albumentations builds it)."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    # in = S^-1 R^T (out - t) = M (out - t).
    m00, m01 = cos / scale_x, -sin / scale_x
    m10, m11 = sin / scale_y, cos / scale_y
    # Normalised coordinates x_n = 2x / W, y_n = 2y / H: conjugate M by diag(2/W, 2/H).
    row0 = (m00, m01 * height / width, -(m00 * shift_x + m01 * shift_y) * 2 / width)
    row1 = (m10 * width / height, m11, -(m10 * shift_x + m11 * shift_y) * 2 / height)
    return torch.stack((torch.stack(row0, 1), torch.stack(row1, 1)), 1)


class PadCrop(BatchTransform):
    """`RandomCrop(size, padding)`: pad `padding` px of `fill` on every side, cut the
    original size back out at a uniformly drawn offset (as the review of the batch-4096 OCEC
    configuration suggests)."""

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
        pad = self.padding
        device = images.device
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
