"""`OCECDataModule`: source → split → decoded-image (and mask) cache → DataLoaders.

One DataModule serves both tasks. Everything that can fail on bad data happens in
`setup()`, in the main process: the source is read and checked, splits are taken from the
data or assigned (stratified, grouped when the data has groups), every image (and mask)
is decoded once into the cache, masks are checked for class ids outside
`task.num_classes`, and each split needed by the stage is checked for emptiness and (for
training) for at least two classes. DataLoader workers then only index the cached uint8
arrays (one fancy index per batch, uint8); the train split's random augmentation
(`aug.batched.<task>`, after any per-sample `aug.<task>`) and every split's normalisation
run on the batch once it is on the device (`on_after_batch_transfer`).
The `data` config group is this class's keyword arguments (`_target_` in
conf/data_common.yaml); a new data option is one key there and one argument here. The
constructor checks every argument and names its config key.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from ocec_lightning.checks import SPLIT_NAMES, boolean, int_at_least, one_of
from ocec_lightning.config.instantiate import full_keys, instantiate
from ocec_lightning.data import cache
from ocec_lightning.data.augment import TrainAugmentation
from ocec_lightning.data.bad_samples import check_on_bad_sample, drop_skipped
from ocec_lightning.data.cache import check_cache_mode, check_image_size
from ocec_lightning.data.datasets import CachedImageDataset, as_batch
from ocec_lightning.data.masks import check_segmentation_task, pixel_frequencies
from ocec_lightning.data.mp_context import MP_CONTEXTS, worker_context
from ocec_lightning.data.sampling import (
    EpochRandomSampler,
    EpochWeightedSampler,
    SeededBatchSampler,
    seed_for,
)
from ocec_lightning.data.sources import DataSource
from ocec_lightning.data.splitting import check_split_sizes, resolve_splits, validate_ratios
from ocec_lightning.data.table import SampleTable, check_task
from ocec_lightning.errors import ConfigError, DataError

__all__ = ["CachedImageDataset", "OCECDataModule"]

log = logging.getLogger("ocec_lightning.data")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS / Windows: no affinity API
        return max(1, os.cpu_count() or 1)


# Splits each Lightning stage reads; `None` (a bare setup()) prepares for fitting.
_STAGE_SPLITS: dict[str | None, tuple[str, ...]] = {
    "fit": ("train", "val"),
    None: ("train", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": (),
}
TEST_SPLITS = ("test", "val")  # what `test_split` may name
_SOURCES = "data=synthetic_eyes|synthetic_faces|parquet|folder|csv"


class OCECDataModule(L.LightningDataModule):
    """Classification or segmentation data from any source, with a decode-once cache.

    Classification batches are `(images float32 [B, 3, H, W], targets int64 [B])`;
    segmentation batches (`task="segmentation"`) are `(images float32 [B, 3, H, W],
    masks int64 [B, H, W])` with `ignore_index` marking unlabelled pixels. The
    constructor only stores settings (and builds the transforms); nothing is read before
    `setup()`.
    """

    def __init__(
        self,
        source: DataSource | Mapping[str, Any] | None = None,
        image_size: Sequence[int] = (32, 64),
        batch_size: int = 128,
        num_workers: int = 0,
        splits: Mapping[str, float] | None = None,
        weighted_sampler: bool = False,
        cache: Mapping[str, Any] | None = None,
        normalize: Mapping[str, Sequence[float]] | None = None,
        train_transforms: Sequence[Any] | None = (),
        batch_transforms: Sequence[Any] | None = (),
        class_names: Sequence[str] | None = None,
        seed: int = 42,
        pin_memory: bool = False,
        persistent_workers: bool = True,
        multiprocessing_context: str | None = None,
        task: str = "classification",
        num_classes: int | None = None,
        ignore_index: int = 255,
        on_bad_sample: str = "error",
        test_split: str = "test",
        # Settings of the source, kept at `data.<key>` so the command line stays short
        # (`data.path=...`); the source's config reads them (`path: ${data.path}`).
        path: str | None = None,
        root: str | None = None,
        group_column: str | None = None,
    ) -> None:
        super().__init__()
        with full_keys():  # every key below is named from the config's root
            self._configure(
                image_size, batch_size, num_workers, splits, weighted_sampler, cache, normalize
            )
            self._configure_task(task, class_names, num_classes, ignore_index, seed)
            self.pin_memory = boolean("data.pin_memory", pin_memory)
            self.persistent_workers = boolean("data.persistent_workers", persistent_workers)
            self.multiprocessing_context = (
                None
                if multiprocessing_context is None
                else one_of("data.multiprocessing_context", multiprocessing_context, MP_CONTEXTS)
            )
            self.on_bad_sample = check_on_bad_sample(on_bad_sample)  # error | skip bad rows
            # The split `trainer.test` reads (`test_split=val` in the run config tests on val).
            self.test_split = one_of("test_split", test_split, TEST_SPLITS)
            self.augmentation = TrainAugmentation(
                train_transforms,
                batch_transforms,
                self.mean,
                self.std,
                self.task,
                self.seed,
                self.num_classes,
            )
        # Last: its config interpolates the settings checked above (data.image_size).
        self.source = _build_source(source)
        self._aug_epoch, self._aug_batches = -1, 0  # which train batch is being augmented
        self._images: np.ndarray | None = None
        self._masks: np.ndarray | None = None  # uint8 [N, H, W] class ids (segmentation)
        self._pixel_counts: np.ndarray | None = None  # int64 [N, num_classes] (segmentation)
        self._labels: np.ndarray | None = None
        self._rows: dict[str, np.ndarray] = {}
        self.table: SampleTable | None = None  # set by setup(): rows, labels, splits, groups
        self.skipped_samples: list[dict[str, Any]] = []  # setup(): {row, ref, reason} skipped

    def _configure(
        self,
        image_size: Sequence[int],
        batch_size: int,
        num_workers: int,
        splits: Mapping[str, float] | None,
        weighted_sampler: bool,
        cache: Mapping[str, Any] | None,
        normalize: Mapping[str, Sequence[float]] | None,
    ) -> None:
        """The loader, split, cache and normalisation settings, checked."""
        self.image_size = check_image_size(image_size)
        self.batch_size = int_at_least("data.batch_size", batch_size, 1)
        self.num_workers = int_at_least("data.num_workers", num_workers, 0)  # 0 = main process
        self.loader_workers = min(self.num_workers, available_cores())
        if self.loader_workers < self.num_workers:
            # More worker processes than cores only adds start-up time and memory (a
            # recipe written for a 16-core server, run on a laptop); results do not depend
            # on the worker count. Said once, here.
            log.info(
                "data.num_workers=%d capped at the %d cores this process may use",
                self.num_workers,
                self.loader_workers,
            )
        self.splits = validate_ratios(splits or {"train": 0.8, "val": 0.1, "test": 0.1})
        self.weighted_sampler = boolean("data.weighted_sampler", weighted_sampler)
        cache = _settings("data.cache", cache, {"mode": "disk", "dir": None})
        # Checked at construction, not when setup() reads data.
        self.cache_mode, self.cache_dir = check_cache_mode(cache["mode"]), cache["dir"]
        normalize = _settings(
            "data.normalize", normalize, {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}
        )
        self.mean, self.std = list(normalize["mean"]), list(normalize["std"])

    def _configure_task(
        self,
        task: str,
        class_names: Sequence[str] | None,
        num_classes: int | None,
        ignore_index: int,
        seed: int,
    ) -> None:
        """The task's settings: masks' class ids for segmentation, the expected classes."""
        self.task = check_task(task)
        self.num_classes, self.ignore_index = None, int(ignore_index)
        if self.task == "segmentation":
            if self.weighted_sampler:
                raise ConfigError(
                    "data.weighted_sampler",
                    self.weighted_sampler,
                    "false for task=segmentation "
                    "(it balances image labels; use class weights in the loss instead)",
                )
            self.num_classes, self.ignore_index = check_segmentation_task(
                class_names, num_classes, ignore_index
            )
        self.expected_class_names = list(class_names) if class_names else None
        self.class_names: list[str] = list(class_names or [])
        self.seed = int(seed)

    # ----------------------------------------------------------------- setup
    def prepare_data(self) -> None:
        # Lightning runs this once per machine before `setup` on every rank: building the
        # disk cache here means DDP ranks map one file instead of all decoding at once.
        # The full load (not just the cache) so that this process's `setup` reads nothing
        # again; the other ranks' `setup` maps the finished file.
        if self.cache_mode == "disk" and self._images is None:
            self._load()

    def setup(self, stage: str | None = None) -> None:
        """Load, split, cache and check the data (idempotent); raises DataError on bad data."""
        if self._images is None:
            self._load()
        needed = _STAGE_SPLITS.get(stage, ("train", "val"))
        self._check_splits((self.test_split,) if needed == ("test",) else needed, stage)

    def _load_table(self) -> SampleTable:
        """The source's table, checked against the task (masks iff segmentation)."""
        table = self.source.load()
        if table.task != self.task:
            found = "has masks" if table.task == "segmentation" else "has no masks"
            raise ConfigError(
                "task.name",
                self.task,
                f"'{table.task}': the data source {type(self.source).__name__} {found}; "
                f"run with task={table.task} or choose a data source for {self.task}",
            )
        return table

    def _load(self) -> None:
        table = self._load_table()
        if len(table) == 0:
            raise DataError("the data source has no samples")
        if self.expected_class_names and table.class_names != self.expected_class_names:
            raise ConfigError(
                "task.class_names",
                self.expected_class_names,
                f"the data's classes {table.class_names}",
            )
        self.class_names = list(table.class_names)
        splits = resolve_splits(table.frame, self.splits, self.seed)
        labels = table.frame["label"].to_numpy(dtype=np.int64)
        images, masks, self._pixel_counts, self.skipped_samples = cache.load_checked_samples(
            table,
            self.image_size,
            self.cache_mode,
            self.cache_dir,
            self.on_bad_sample,
            self.num_classes,
            self.ignore_index,
        )
        splits = drop_skipped(splits, self.skipped_samples)  # skipped rows: no split
        rows = {name: np.flatnonzero(splits == name) for name in SPLIT_NAMES}
        first = rows["train"][0] if len(rows["train"]) else 0
        self.augmentation.check_output(
            images[first], None if masks is None else masks[first], self.image_size
        )
        self._images, self._masks, self._labels, self._rows = images, masks, labels, rows
        # Keep the metadata (with each row's split) for analysis, but read images from the
        # cache: the source's reader may hold every encoded image in memory.
        self.table = SampleTable(
            table.frame.assign(split=splits),
            self._cached_image,
            table.fingerprint,
            self.class_names,
            read_mask=None if masks is None else self._cached_mask,
        )
        what = "images containing " if masks is not None else ""
        for name in SPLIT_NAMES:
            counts = self.split_counts[name]
            log.info(
                "%s: %d samples (%s%s)",
                name,
                len(rows[name]),
                what,
                ", ".join(f"{k} {v}" for k, v in counts.items()),
            )
        if masks is not None:
            shares = self.class_pixel_frequencies()
            log.info(
                "train pixel shares: %s",
                ", ".join(
                    f"{k} {100 * v:.1f}%" for k, v in zip(self.class_names, shares, strict=True)
                ),
            )

    def _cached_image(self, row: int) -> np.ndarray:
        return np.asarray(self._images[row])

    def _cached_mask(self, row: int) -> np.ndarray:
        return np.asarray(self._masks[row])

    def _check_splits(self, needed: tuple[str, ...], stage: str | None) -> None:
        sizes = {name: len(self._rows[name]) for name in SPLIT_NAMES}
        train_counts = self.split_counts["train"] if "train" in needed else None
        check_split_sizes(sizes, needed, stage, train_counts, self.task)

    # ------------------------------------------------------------- summaries
    def _require_setup(self) -> None:
        if self._labels is None:
            raise RuntimeError("OCECDataModule.setup() must run before reading split information")

    @property
    def split_counts(self) -> dict[str, dict[str, int]]:
        """Samples per split and class name, e.g. {"train": {"closed": 10, "open": 12}, ...}.

        For segmentation: images per split that contain each class (an image counts once
        for every class in its mask, so the values do not sum to the split size; use
        `num_samples(split)` for that).
        """
        self._require_setup()
        out = {}
        for name, rows in self._rows.items():
            if self._pixel_counts is not None:
                counts = (self._pixel_counts[rows] > 0).sum(axis=0)
            else:
                counts = np.bincount(self._labels[rows], minlength=len(self.class_names))
            out[name] = {cls: int(counts[k]) for k, cls in enumerate(self.class_names)}
        return out

    def num_samples(self, split: str) -> int:
        self._require_setup()
        if split not in self._rows:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_NAMES)}")
        return len(self._rows[split])

    def pos_weight(self) -> float:
        """negatives / positives of the train split (BCEWithLogits `pos_weight`, 1 = open)."""
        if self.task != "classification":
            raise ConfigError(
                "loss.pos_weight",
                "auto",
                "a classification setting; for segmentation use "
                "class weights from class_pixel_frequencies()",
            )
        counts = list(self.split_counts["train"].values())
        return counts[0] / counts[1]

    def class_pixel_frequencies(self) -> list[float]:
        """Share of labelled train pixels per class id (length num_classes, sums to 1).

        Pixels equal to `ignore_index` are excluded. Computed on the cached masks, i.e. at
        the model's image size, before augmentation. Segmentation only.
        """
        self._require_setup()
        if self._pixel_counts is None:
            raise RuntimeError("class_pixel_frequencies() needs task='segmentation'")
        return pixel_frequencies(self._pixel_counts[self._rows["train"]])

    def fixed_val_samples(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A fixed set of validation samples, the same on every call and every run.

        Returns `(raw uint8 [k, H, W, 3], normalised float32 [k, 3, H, W], targets)`,
        targets being masks int64 [k, H, W] (segmentation) or labels int64 [k]. The rows
        are spread evenly over the val split (its first and last included); fewer than
        `k` come back when the split is smaller.
        """
        self._require_setup()
        rows = self._rows["val"]
        if int(k) < 1 or len(rows) == 0:
            raise ValueError(
                f"fixed_val_samples needs k >= 1 and a val split; k={k}, val={len(rows)}"
            )
        picked = rows[
            np.unique(np.linspace(0, len(rows) - 1, min(int(k), len(rows))).round().astype(int))
        ]
        raw = np.stack([self._cached_image(r) for r in picked])
        normalised = self.augmentation.batched.normalize(
            torch.from_numpy(np.ascontiguousarray(raw.transpose(0, 3, 1, 2)))
        )
        if self._masks is not None:
            targets = torch.from_numpy(np.stack([self._cached_mask(r) for r in picked])).long()
        else:
            targets = torch.from_numpy(self._labels[picked]).long()
        return torch.from_numpy(raw), normalised, targets

    # ----------------------------------------------------------- dataloaders
    def _dataset(self, split: str, transform: Any = None) -> CachedImageDataset:
        self._require_setup()
        rows = self._rows[split]
        return CachedImageDataset(self._images, rows, self._labels[rows], transform, self._masks)

    def _loader(self, dataset: CachedImageDataset, **kwargs: Any) -> DataLoader:
        return DataLoader(
            dataset,
            num_workers=self.loader_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.loader_workers > 0,
            multiprocessing_context=worker_context(
                self.multiprocessing_context, self.loader_workers
            ),
            collate_fn=as_batch,
            **kwargs,
        )

    @property
    def _rank(self) -> int:
        return self.trainer.global_rank if self.trainer is not None else 0

    def train_dataloader(self) -> DataLoader:
        """Shuffled uint8 batches; every random draw is a function of (seed, rank, epoch,
        batch) (`data/sampling.py`), so a resumed epoch sees what it would have seen."""
        dataset = self._dataset("train", self.augmentation.sample)
        if self.weighted_sampler:
            # Weight 1/count(class) gives every class the same expected share of draws.
            counts = np.bincount(dataset.labels, minlength=len(self.class_names))
            weights = torch.as_tensor(1.0 / counts[dataset.labels], dtype=torch.double)
            sampler = EpochWeightedSampler(weights, len(dataset), self.seed)
        else:
            sampler = EpochRandomSampler(dataset, self.seed)
        # A last partial batch is dropped only when a full one exists: a tiny train split
        # must still yield one batch.
        drop_last = len(dataset) > self.batch_size
        batches = SeededBatchSampler(sampler, self.batch_size, drop_last, self.seed, self._rank)
        return self._loader(dataset, batch_sampler=batches)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("val"), batch_size=self.batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(
            self._dataset(self.test_split), batch_size=self.batch_size, shuffle=False
        )

    # ------------------------------------------------------ on the device
    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Lightning hook: augment (train) and normalise the batch where it now lives."""
        return self.augment_batch(batch, train=self.trainer is not None and self.trainer.training)

    def augment_batch(self, batch: Any, train: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 loader batch -> float normalised batch (`aug.batched.<task>` when `train`).

        Train batches are numbered within their epoch; batch k of epoch e of rank r is
        augmented with seed (seed, r, e, k), whatever happened before (resume-exact).
        """
        images, targets = batch[0], batch[1]
        masks = targets if self.task == "segmentation" else None
        seed = None
        if train:
            epoch = self.trainer.current_epoch if self.trainer is not None else 0
            if epoch != self._aug_epoch:
                self._aug_epoch, self._aug_batches = epoch, 0
            seed = seed_for(self.seed, self._rank, epoch, self._aug_batches, 0xA06)
            self._aug_batches += 1
        images, masks = self.augmentation.batched(images, masks, seed)
        return images, (masks if masks is not None else targets)


def _settings(
    key: str, given: Mapping[str, Any] | None, defaults: dict[str, Any]
) -> dict[str, Any]:
    """`given` over `defaults`; a key `defaults` lacks is a ConfigError (a typo)."""
    unknown = sorted(set(given or {}) - set(defaults))
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]}",
            (given or {})[unknown[0]],
            f"one of the keys {', '.join(defaults)}",
        )
    return {**defaults, **dict(given or {})}


def _build_source(source: DataSource | Mapping[str, Any] | None) -> DataSource:
    """The source itself, or built from its config (`data.source`, with a `_target_`)."""
    if source is None:
        raise ConfigError("data.source", None, f"a data source; choose {_SOURCES}")
    if isinstance(source, Mapping):
        return instantiate(source, "data.source")
    return source
