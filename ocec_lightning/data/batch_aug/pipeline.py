"""The batched augmentation pipeline of the `aug.batched.<task>` list, and normalisation.

Built once by the DataModule; `BatchAugmentation(images_uint8, masks, seed)` returns
normalised float images (and int64 masks). The DataModule calls it from Lightning's
`on_after_batch_transfer`, i.e. on the training device: a GPU does it alongside the
model, and on a CPU each transform is a handful of vectorised tensor operations over the
whole batch instead of a Python call per image (per-sample albumentations ran at
~3,500 samples/s on 2 cores for the balanced preset at 24x40).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import Tensor

from ocec_lightning.data.batch_aug.base import BatchTransform
from ocec_lightning.errors import ConfigError


def build_batch_transforms(items: Sequence[Any] | None, key: str) -> list[BatchTransform]:
    """Instantiate `_target_` mappings (or keep BatchTransform objects) of `key`'s list."""
    out: list[BatchTransform] = []
    for i, item in enumerate(items or []):
        if not isinstance(item, BatchTransform):
            if not isinstance(item, Mapping | DictConfig) or "_target_" not in item:
                raise ConfigError(
                    f"{key}[{i}]",
                    item,
                    "a mapping with _target_: ocec_lightning.data.batch_aug.<Transform>",
                )
            try:
                item = instantiate(item)
            except ConfigError as exc:
                raise exc.within(f"{key}[{i}]") from None
            except Exception as exc:  # instantiate wraps every failure; report it in one line
                cause = exc.__cause__ if isinstance(exc.__cause__, ConfigError) else None
                if cause is not None:
                    raise cause.within(f"{key}[{i}]") from None
                message = " ".join(str(exc).split())
                raise ConfigError(
                    f"{key}[{i}]", item.get("_target_"), f"valid arguments: {message}"
                ) from None
        if not isinstance(item, BatchTransform):
            raise ConfigError(
                f"{key}[{i}]", type(item).__name__, "a transform from ocec_lightning.data.batch_aug"
            )
        out.append(item)
    return out


class BatchAugmentation:
    """uint8 [B, 3, H, W] -> (random transforms when training) -> normalised float32."""

    def __init__(
        self,
        transforms: Sequence[BatchTransform],
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
    ) -> None:
        self.transforms = list(transforms)
        self.mean = torch.tensor([float(v) for v in mean]).view(1, 3, 1, 1)
        self.std = torch.tensor([float(v) for v in std]).view(1, 3, 1, 1)

    def normalize(self, images: Tensor) -> Tensor:
        """uint8 (or [0, 1] float) images -> (x / 255 - mean) / std as float32."""
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        mean, std = self.mean.to(images.device), self.std.to(images.device)
        return (images - mean) / std

    def __call__(
        self, images: Tensor, masks: Tensor | None = None, seed: int | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Augment with the transforms (when `seed` is given) and normalise."""
        masks = None if masks is None else masks.long()
        if seed is None or not self.transforms:
            return self.normalize(images), masks
        generator = torch.Generator(device=images.device).manual_seed(int(seed))
        pixels = images.float() / 255.0 if images.dtype == torch.uint8 else images
        for transform in self.transforms:
            pixels, masks = transform(pixels, masks, generator)
        return self.normalize(pixels), masks

    def __repr__(self) -> str:
        return f"BatchAugmentation({', '.join(map(repr, self.transforms))})"
