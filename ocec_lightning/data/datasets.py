"""Torch datasets over the decoded-image cache, and the DataLoader worker seeding.

One dataset serves both tasks: a row yields `(image, class id)` for classification, or
`(image, mask)` when the cache holds masks, the image and mask going through the same
albumentations call so that every geometric transform moves both together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset


class CachedImageDataset(Dataset):
    """Rows of the decoded-image cache with their labels (or masks), through a transform.

    Without `masks` an item is `(float image [3, H, W], int label)`; with `masks` (the
    uint8 [N, H, W] mask cache) it is `(float image [3, H, W], int64 mask [H, W])`.
    """

    def __init__(
        self,
        images: np.ndarray,
        rows: np.ndarray,
        labels: np.ndarray,
        transform: Any,
        masks: np.ndarray | None = None,
    ) -> None:
        self.images, self.rows, self.labels, self.transform = images, rows, labels, transform
        self.masks = masks

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        row = self.rows[index]
        image = np.asarray(self.images[row])
        if self.masks is None:
            return _contiguous(self.transform(image=image)["image"]), int(self.labels[index])
        # A copy: the cache may be a read-only memmap, and an eval transform passes the
        # mask through untouched to torch.from_numpy, which wants a writable array.
        out = self.transform(image=image, mask=np.array(self.masks[row]))
        return _contiguous(out["image"]), torch.as_tensor(out["mask"]).long()

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


def _contiguous(image: Any) -> Any:
    """ToTensorV2 returns a CHW view of the HWC array; collating strided views is several
    times slower than copying each one once here (torch.stack gathers them element-wise)."""
    return image.contiguous() if isinstance(image, torch.Tensor) else image


def seed_worker(worker_id: int, rank: int = 0) -> None:
    """Give each worker its own augmentation stream (albumentations keeps its own RNG).

    Without this, forked workers inherit identical generator states and augment their
    batches identically. `info.seed` differs per worker and per epoch and derives from
    the loader's seeded generator, so runs stay reproducible; mixing in the DDP rank keeps
    ranks (whose loaders share the seed) from drawing the same augmentations.
    """
    info = torch.utils.data.get_worker_info()
    transform = getattr(info.dataset, "transform", None) if info is not None else None
    if hasattr(transform, "set_random_seed"):
        seed = np.random.SeedSequence([info.seed % 2**32, rank]).generate_state(1)[0]
        transform.set_random_seed(int(seed))
