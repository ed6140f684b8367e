"""Photometric batch transforms (image only; masks pass through untouched), and PerSample.

Same parameters and distributions as the albumentations transforms the presets used per
sample (ColorJitter with torchvision's definitions, GaussianBlur with odd kernel sizes
and reflected borders, GaussNoise with a per-image std), computed for all chosen rows at
once. `PerSample` runs any albumentations transform on the chosen rows only, on the CPU,
for what has no batched form worth writing (CLAHE, JPEG re-encoding): at the presets'
probabilities (1 %, 30 %) that stays cheap; it hands masks to the transform too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import albumentations as A
import torch
import torch.nn.functional as F
from torch import Tensor

from ocec_lightning.checks import number_range
from ocec_lightning.data.batch_aug.base import BatchTransform, uniform
from ocec_lightning.data.datasets import per_sample
from ocec_lightning.data.transforms import build_augmentations
from ocec_lightning.errors import ConfigError

# ITU-R 601 luma weights, as torchvision's rgb_to_grayscale (and albumentations) use.
_LUMA = (0.299, 0.587, 0.114)


def _gray(images: Tensor) -> Tensor:
    weights = images.new_tensor(_LUMA).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True)


def _rgb_to_hsv(images: Tensor) -> Tensor:
    r, g, b = images.unbind(1)
    maxc, minc = images.amax(1), images.amin(1)
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    hue = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = torch.where(delta > 0, (hue / 6.0) % 1.0, torch.zeros_like(hue))
    sat = torch.where(maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), 0.0)
    return torch.stack((hue, sat, maxc), 1)


def _hsv_to_rgb(hsv: Tensor) -> Tensor:
    # The closed form of the sector table: channel n in (5, 3, 1) for (r, g, b) is
    # v - v s clamp(min(k, 4 - k), 0, 1) with k = (n + 6h) mod 6.
    hue, sat, val = hsv[:, :1], hsv[:, 1:2], hsv[:, 2:]
    offsets = hsv.new_tensor((5.0, 3.0, 1.0)).view(1, 3, 1, 1)
    k = (offsets + hue * 6.0) % 6.0
    return val - val * sat * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


class ColorJitter(BatchTransform):
    """Brightness, contrast, saturation and hue factors drawn per image, in random order.

    Factors as torchvision/albumentations define them: brightness scales the pixels,
    contrast blends with the image's mean grey level, saturation with its greyscale
    version, hue shifts the HSV hue by a fraction of the circle. The order of the four
    is drawn per batch (albumentations draws it per image): each image still sees a
    uniformly random order.
    """

    def __init__(
        self,
        brightness: Sequence[float] = (1.0, 1.0),
        contrast: Sequence[float] = (1.0, 1.0),
        saturation: Sequence[float] = (1.0, 1.0),
        hue: Sequence[float] = (0.0, 0.0),
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        self.brightness = number_range("brightness", brightness, 0.0, float("inf"))
        self.contrast = number_range("contrast", contrast, 0.0, float("inf"))
        self.saturation = number_range("saturation", saturation, 0.0, float("inf"))
        self.hue = number_range("hue", hue, -0.5, 0.5)

    def apply(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        n = images.shape[0]
        device = images.device

        def factor(bounds: tuple[float, float]) -> Tensor:
            return uniform(n, *bounds, device, generator).view(n, 1, 1, 1)

        factors = [factor(b) for b in (self.brightness, self.contrast, self.saturation, self.hue)]
        for op in torch.randperm(4, generator=generator, device=device).tolist():
            f = factors[op]
            if op == 0:
                images = (images * f).clamp(0, 1)
            elif op == 1:
                mean = _gray(images).mean((2, 3), keepdim=True)
                images = (images * f + mean * (1 - f)).clamp(0, 1)
            elif op == 2:
                images = (images * f + _gray(images) * (1 - f)).clamp(0, 1)
            else:
                hsv = _rgb_to_hsv(images)
                hsv[:, 0] = (hsv[:, 0] + f[:, 0]) % 1.0
                images = _hsv_to_rgb(hsv).clamp(0, 1)
        return images, masks


class GaussianBlur(BatchTransform):
    """Gaussian blur with a kernel size and sigma drawn per image, as albumentations draws
    them: limits made odd (rounded up), a size drawn uniformly from the integers between
    them and an even draw rounded up (`[3, 5]`: 3 with probability 1/3, 5 with 2/3)."""

    def __init__(
        self,
        blur_limit: Sequence[int] = (3, 7),
        sigma_limit: Sequence[float] = (0.1, 2.0),
        p: float = 0.5,
    ) -> None:
        super().__init__(p)
        low, high = (int(k) | 1 for k in number_range("blur_limit", blur_limit, 3, 99))
        self.sizes = [k | 1 for k in range(low, high + 1)]  # the draw's table (5 twice)
        self.sigma = number_range("sigma_limit", sigma_limit, 1e-3, 100.0)

    def apply(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        n = images.shape[0]
        device = images.device
        sizes = torch.tensor(self.sizes, device=device)
        pick = sizes[torch.randint(len(self.sizes), (n,), device=device, generator=generator)]
        sigma = uniform(n, *self.sigma, device, generator)
        out = images.clone()
        for size in sorted(set(self.sizes)):
            rows = torch.nonzero(pick == size).flatten()
            if rows.numel():
                out[rows] = _blur(images[rows], size, sigma[rows])
        return out, masks


def _blur(images: Tensor, size: int, sigma: Tensor) -> Tensor:
    """Separable blur of each image with its own sigma (reflected borders, as cv2)."""
    n, c, h, w = images.shape
    offsets = torch.arange(size, device=images.device, dtype=images.dtype) - size // 2
    kernel = torch.exp(-(offsets.view(1, -1) ** 2) / (2 * sigma.view(-1, 1) ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # [n*c, size]
    flat = images.reshape(1, n * c, h, w)
    pad = size // 2
    flat = F.conv2d(
        F.pad(flat, (pad, pad, 0, 0), mode="reflect"), kernel.view(n * c, 1, 1, size), groups=n * c
    )
    flat = F.conv2d(
        F.pad(flat, (0, 0, pad, pad), mode="reflect"), kernel.view(n * c, 1, size, 1), groups=n * c
    )
    return flat.view(n, c, h, w)


class GaussNoise(BatchTransform):
    """Zero-mean Gaussian noise per pixel and channel, its std (in [0, 1] pixel units)
    drawn per image from `std_range` (albumentations' GaussNoise definition)."""

    def __init__(self, std_range: Sequence[float] = (0.2, 0.44), p: float = 0.5) -> None:
        super().__init__(p)
        self.std = number_range("std_range", std_range, 0.0, 1.0)

    def apply(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        n = images.shape[0]
        std = uniform(n, *self.std, images.device, generator).view(n, 1, 1, 1)
        noise = torch.randn(images.shape, device=images.device, generator=generator)
        return (images + noise * std).clamp(0, 1), masks


class PerSample(BatchTransform):
    """Any albumentations transform, run image by image on the chosen rows (on the CPU).

    `transform` is a `_target_` mapping or a transform; it is applied with probability 1
    to each row `p` picks. Its own randomness is seeded from the batch generator. The
    mapping is built here (`build_batch_transforms` does not instantiate recursively),
    so a misspelt argument of the wrapped transform is a ConfigError, not a warning.
    """

    def __init__(self, transform: Mapping[str, Any] | A.BasicTransform, p: float = 0.5) -> None:
        super().__init__(p)
        try:
            built = build_augmentations([transform], key="transform")[0]
        except ConfigError as exc:  # "transform[0]" -> "transform": PerSample takes one
            raise ConfigError("transform", exc.value, exc.expected) from None
        built.p = 1.0
        self.transform = A.Compose([built])
        self.name = f"PerSample({type(built).__name__})"  # as TrainAugmentation.names() shows

    def apply(
        self, images: Tensor, masks: Tensor | None, generator: torch.Generator
    ) -> tuple[Tensor, Tensor | None]:
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=images.device))
        self.transform.set_random_seed(seed)
        pixels = (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        # Masks go along (uint8 ids), so a geometric transform keeps them aligned.
        ids = None if masks is None else masks.to(torch.uint8).cpu().numpy()
        out, out_ids = per_sample(self.transform, pixels, ids)
        if out.shape != pixels.shape:
            raise ConfigError(
                "transform", self.name, f"a transform that keeps the size {list(pixels.shape[1:3])}"
            )
        result = torch.from_numpy(out).to(images.device).permute(0, 3, 1, 2)
        if masks is not None:
            masks = torch.from_numpy(out_ids).to(masks)
        return result.to(images.dtype) / 255.0, masks

    def __repr__(self) -> str:
        return f"{self.name[:-1]}, p={self.p})"
