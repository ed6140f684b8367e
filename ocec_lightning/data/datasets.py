"""The torch dataset over the decoded-image cache: whole batches of uint8 in one read.

One dataset serves both tasks. `__getitems__` (which torch's DataLoader calls with a
batch's indices) reads the batch's rows from the cache with one fancy index, runs the
per-sample albumentations transforms if any, and returns the finished batch: images
uint8 [B, 3, H, W] and labels int64 [B] or masks uint8 [B, H, W]. Conversion to float,
the batched augmentation and normalisation happen after the batch reaches the device
(`OCECDataModule.on_after_batch_transfer`), so the loader moves 4x fewer bytes and does
no per-image Python work for the presets. The loader's `collate_fn` is `as_batch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


class CachedImageDataset(Dataset):
    """Rows of the decoded-image cache with their labels (or masks).

    `transform` is an optional per-sample albumentations Compose working on uint8 HWC
    images (and masks); when a batch comes with a `seed` attribute (the train loader's
    `SeededBatchSampler`), the transform is seeded with it first, so the batch's draws
    do not depend on which worker reads it.
    """

    def __init__(
        self,
        images: np.ndarray,
        rows: np.ndarray,
        labels: np.ndarray,
        transform: Any = None,
        masks: np.ndarray | None = None,
    ) -> None:
        self.images, self.rows, self.labels, self.transform = images, rows, labels, transform
        self.masks = masks

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, targets = self.__getitems__([index])
        return images[0], targets[0]

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        picked = np.asarray(indices, dtype=np.int64)
        rows = self.rows[picked]
        images = np.asarray(self.images[rows])  # a copy: fancy indexing a memmap reads it
        masks = None if self.masks is None else np.asarray(self.masks[rows])
        if self.transform is not None:
            seed = getattr(indices, "seed", None)
            if seed is not None:
                self.transform.set_random_seed(int(seed) % 2**32)
            images, masks = per_sample(self.transform, images, masks)
        batch = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        if masks is None:
            return batch, torch.from_numpy(self.labels[picked].astype(np.int64))
        return batch, torch.from_numpy(np.ascontiguousarray(masks))

    # Spawned workers (macOS, Windows) receive the dataset pickled; a memmap would be
    # pickled as a full copy, so send its file name and map it again on the other side.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("images", "masks"):
            array = state.get(key)
            if isinstance(array, np.memmap) and array.filename:
                state[key] = Path(array.filename)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key in ("images", "masks"):
            if isinstance(state.get(key), Path):
                state[key] = np.load(state[key], mmap_mode="r")
        self.__dict__.update(state)


def per_sample(
    transform: Any, images: np.ndarray, masks: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """An albumentations Compose applied image by image (with its mask), restacked."""
    out_images, out_masks = [], []
    for k, image in enumerate(images):
        if masks is None:
            out_images.append(transform(image=image)["image"])
        else:
            result = transform(image=image, mask=masks[k])
            out_images.append(result["image"])
            out_masks.append(result["mask"])
    return np.stack(out_images), None if masks is None else np.stack(out_masks)


def as_batch(batch: Any) -> Any:
    """The DataLoader's collate_fn: `__getitems__` already returns a finished batch."""
    return batch
