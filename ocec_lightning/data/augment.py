"""The train split's augmentation as one object: per-sample, batched, normalisation.

`aug.<task>` (albumentations, per image, in the DataLoader) runs first, then
`aug.batched.<task>` (`data/batch_aug`, whole batches on the device), then normalisation
with `data.normalize`. Validation and test only normalise. Built once by the DataModule,
which calls `check_output` on a real sample during `setup()`, so a preset that changes
the image size fails there with its key instead of inside a worker or the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ocec_lightning.data.batch_aug import BatchAugmentation, build_batch_transforms
from ocec_lightning.data.transforms import build_sample_transform, check_normalization
from ocec_lightning.errors import ConfigError


class TrainAugmentation:
    """`sample` (albumentations Compose or None) + `batched` (BatchAugmentation)."""

    def __init__(
        self,
        sample_items: Sequence[Any] | None,
        batch_items: Sequence[Any] | None,
        mean: Sequence[float],
        std: Sequence[float],
        task: str,
        seed: int,
        num_classes: int | None = None,
    ) -> None:
        mean, std = check_normalization(mean, std)
        self.task = task
        self.sample = build_sample_transform(sample_items, seed=seed, key=f"aug.{task}")
        transforms = build_batch_transforms(batch_items, key=f"aug.batched.{task}")
        self.batched = BatchAugmentation(transforms, mean, std)
        pairs = [getattr(t, "pairs", ()) for t in [*self.steps(sample=True), *transforms]]
        ids = [i for group in pairs for pair in group for i in pair]
        if num_classes is not None and ids and max(ids) >= num_classes:
            raise ConfigError(
                "task.flip_pairs",
                [list(pair) for group in pairs for pair in group],
                f"pairs of class ids below task.num_classes={num_classes}",
            )

    def steps(self, sample: bool = True, batched: bool = True) -> list[Any]:
        """The transforms in the order they run."""
        out: list[Any] = list(self.sample.transforms) if sample and self.sample else []
        return out + (list(self.batched.transforms) if batched else [])

    def names(self) -> list[str]:
        """Readable names of the steps (`PerSample(CLAHE)` for wrapped albumentations)."""
        return [getattr(t, "name", None) or type(t).__name__ for t in self.steps()]

    def check_output(
        self, image: np.ndarray, mask: np.ndarray | None, image_size: tuple[int, int]
    ) -> None:
        """Run one sample through every step; ConfigError if its size changes."""
        images = image[None]
        masks = None if mask is None else np.array(mask)[None]
        if self.sample is not None:
            out = self.sample(image=images[0], **({} if masks is None else {"mask": masks[0]}))
            images = np.asarray(out["image"])[None]
            masks = None if masks is None else np.asarray(out["mask"])[None]
            self._check("image", images.shape[1:3], image_size, f"aug.{self.task}")
            if masks is not None:
                self._check("mask", masks.shape[1:3], image_size, f"aug.{self.task}")
        pixels = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))) / 255.0
        mask_tensor = None if masks is None else torch.from_numpy(masks.astype(np.int64))
        generator = torch.Generator().manual_seed(0)
        # Every step applied (as if its p were 1): a rare size-changing step fails here too.
        for i, transform in enumerate(self.batched.transforms):
            pixels, mask_tensor = transform.apply(pixels, mask_tensor, generator)
            key = f"aug.batched.{self.task}[{i}]"
            self._check("image", tuple(pixels.shape[2:]), image_size, key)
            if mask_tensor is not None:
                self._check("mask", tuple(mask_tensor.shape[1:]), image_size, key)

    @staticmethod
    def _check(name: str, found: tuple[int, ...], size: tuple[int, int], key: str) -> None:
        if tuple(found) != tuple(size):
            raise ConfigError(
                key,
                list(found),
                f"transforms that keep the {name} at {list(size)} (data.image_size)",
            )
