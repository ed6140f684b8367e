"""Randomness as a function of (seed, rank, epoch, batch): what makes resume exact.

A DataLoader given one seeded `generator` draws epoch k's shuffle from wherever epoch
k-1 left the generator, and DataLoader workers seed themselves from it when they start.
A run resumed at epoch k rebuilds the loader from `seed`, so it replays epoch 0's order
and augmentations: the resumed run diverges at its first step. Here every random stream
is derived afresh from (seed, rank, epoch[, batch]) instead, as `DistributedSampler`
does with `set_epoch` (Lightning calls `set_epoch(epoch)` on a loader's sampler and
batch sampler before each epoch, resumed or not):

- `EpochRandomSampler` / `EpochWeightedSampler`: the shuffle (or weighted draw) of epoch e.
  The first subclasses `RandomSampler`, so under DDP Lightning still swaps it for its
  `DistributedSampler` (which is epoch-seeded the same way).
- `SeededBatchSampler`: tags each batch with a seed for the per-sample (albumentations)
  transforms, so the batch's augmentation does not depend on which worker draws it or
  on how long that worker has lived (persistent workers outlive a resume).
- `reseed_globals`: python/numpy/torch global generators before each train batch
  (dropout, timm's MixUp), which Lightning's checkpoints do not store.

torch offers only `DistributedSampler` with this behaviour, and only for DDP; these are
the few lines that give a single process the same property.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import BatchSampler, RandomSampler, Sampler, WeightedRandomSampler


def seed_for(*parts: int) -> int:
    """A 63-bit seed mixing `parts` (seed, rank, epoch, ...) with numpy's SeedSequence."""
    words = np.random.SeedSequence([int(p) % 2**32 for p in parts]).generate_state(2)
    return int(words[0]) << 31 ^ int(words[1])


def reseed_globals(seed: int, rank: int, epoch: int, batch: int = 0) -> None:
    """Seed python, numpy and torch (every device) for batch `batch` of epoch `epoch` of
    rank `rank`."""
    value = seed_for(seed, rank, epoch, batch, 0x0C3C)
    random.seed(value)
    np.random.seed(value % 2**32)
    torch.manual_seed(value)  # also seeds every CUDA device


class _EpochSeeded:
    seed: int
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(seed_for(self.seed, self.epoch))


class EpochRandomSampler(_EpochSeeded, RandomSampler):
    """`RandomSampler` whose permutation is a function of (seed, epoch)."""

    def __init__(self, data_source: Sequence, seed: int) -> None:
        super().__init__(data_source)
        self.seed = int(seed)

    def __iter__(self) -> Iterator[int]:
        yield from torch.randperm(len(self.data_source), generator=self._generator()).tolist()


class EpochWeightedSampler(_EpochSeeded, WeightedRandomSampler):
    """`WeightedRandomSampler` (with replacement) whose draws are a function of (seed, epoch)."""

    def __init__(self, weights: Sequence[float], num_samples: int, seed: int) -> None:
        super().__init__(weights, num_samples, replacement=True)
        self.seed = int(seed)

    def __iter__(self) -> Iterator[int]:
        picks = torch.multinomial(
            self.weights, self.num_samples, self.replacement, generator=self._generator()
        )
        yield from picks.tolist()


class SeededBatch(list):
    """A batch's indices plus `seed`, the seed of its per-sample augmentation."""

    seed: int | None = None


class SeededBatchSampler(BatchSampler):
    """`BatchSampler` whose batches carry `seed_for(seed, rank, epoch, batch number)`.

    Keeps `BatchSampler`'s signature first, so Lightning can rebuild it around a
    `DistributedSampler` under DDP (it re-instantiates batch samplers with their saved
    arguments and the new sampler).
    """

    def __init__(
        self,
        sampler: Sampler[int],
        batch_size: int,
        drop_last: bool,
        seed: int = 0,
        rank: int = 0,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)
        self.seed = int(seed)
        self.rank = int(rank)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if callable(getattr(self.sampler, "set_epoch", None)):
            self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator[SeededBatch]:
        for number, indices in enumerate(super().__iter__()):
            batch = SeededBatch(indices)
            batch.seed = seed_for(self.seed, self.rank, self.epoch, number)
            yield batch
