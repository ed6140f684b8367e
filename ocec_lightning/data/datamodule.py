"""`OCECDataModule`: source → split → decoded-image cache → DataLoaders.

Everything that can fail on bad data happens in `setup()`, in the main process: the
source is read and checked, splits are taken from the data or assigned (stratified,
grouped when the data has groups), every image is decoded once into the cache, and each
split needed by the stage is checked for emptiness and (for training) for both classes.
DataLoader workers then only index the cached uint8 array and run albumentations; the
train split gets the preset's random augmentation, val/test only normalisation.
`build_datamodule(cfg)` builds it from the composed config (`data`, `aug`, `task`, `seed`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from ocec_lightning.data.cache import CACHE_MODES, check_image_size, load_images
from ocec_lightning.data.sources import DataSource
from ocec_lightning.data.splitting import resolve_splits, validate_ratios
from ocec_lightning.data.table import SPLIT_NAMES, SampleTable
from ocec_lightning.data.transforms import build_eval_transform, build_train_transform
from ocec_lightning.errors import ConfigError, DataError, OCECError

log = logging.getLogger("ocec_lightning.data")

# Splits each Lightning stage reads; `None` (a bare setup()) prepares for fitting.
_STAGE_SPLITS: dict[str | None, tuple[str, ...]] = {
    "fit": ("train", "val"),
    None: ("train", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": (),
}


class CachedImageDataset(Dataset):
    """Rows of the decoded-image cache with their labels, passed through a transform."""

    def __init__(
        self, images: np.ndarray, rows: np.ndarray, labels: np.ndarray, transform: Any
    ) -> None:
        self.images, self.rows, self.labels, self.transform = images, rows, labels, transform

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = np.asarray(self.images[self.rows[index]])
        return self.transform(image=image)["image"], int(self.labels[index])

    # Spawned workers (macOS, Windows) receive the dataset pickled; a memmap would be
    # pickled as a full copy, so send its file name and map it again on the other side.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if isinstance(self.images, np.memmap) and self.images.filename:
            state["images"] = Path(self.images.filename)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state["images"], Path):
            state["images"] = np.load(state["images"], mmap_mode="r")
        self.__dict__.update(state)


def _seed_worker(worker_id: int, rank: int = 0) -> None:
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


class OCECDataModule(L.LightningDataModule):
    """Image classification data from any source, with a decode-once cache.

    Batches are `(images float32 [B, 3, H, W], targets int64 [B])`. The constructor only
    stores settings (and builds the transforms); nothing is read before `setup()`.
    """

    def __init__(
        self,
        source: DataSource,
        image_size: Sequence[int] = (32, 64),
        batch_size: int = 128,
        num_workers: int = 0,
        splits: Mapping[str, float] | None = None,
        weighted_sampler: bool = False,
        cache_mode: str = "disk",
        cache_dir: str | Path | None = None,
        mean: Sequence[float] = (0.0, 0.0, 0.0),
        std: Sequence[float] = (1.0, 1.0, 1.0),
        train_transforms: Sequence[Any] = (),
        class_names: Sequence[str] | None = None,
        seed: int = 42,
        pin_memory: bool = False,
        persistent_workers: bool = True,
    ) -> None:
        super().__init__()
        self.source = source
        self.image_size = check_image_size(image_size)
        if int(batch_size) < 1:
            raise ConfigError("data.batch_size", batch_size, "an integer >= 1")
        if int(num_workers) < 0:
            raise ConfigError("data.num_workers", num_workers, "an integer >= 0 (0 = main process)")
        if cache_mode not in CACHE_MODES:
            raise ConfigError("data.cache.mode", cache_mode, f"one of {', '.join(CACHE_MODES)}")
        self.batch_size, self.num_workers = int(batch_size), int(num_workers)
        self.splits = validate_ratios(splits or {"train": 0.8, "val": 0.1, "test": 0.1})
        self.weighted_sampler = bool(weighted_sampler)
        self.cache_mode, self.cache_dir = cache_mode, cache_dir
        self.seed = int(seed)
        self.pin_memory, self.persistent_workers = bool(pin_memory), bool(persistent_workers)
        self.expected_class_names = list(class_names) if class_names else None
        self.train_transform = build_train_transform(train_transforms, mean, std, seed=self.seed)
        self.eval_transform = build_eval_transform(mean, std)
        self.class_names: list[str] = list(class_names or [])
        self._images: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._rows: dict[str, np.ndarray] = {}
        self.table: SampleTable | None = None  # set by setup(): rows, labels, splits, groups

    # ----------------------------------------------------------------- setup
    def prepare_data(self) -> None:
        # Lightning runs this once per machine before `setup` on every rank: building the
        # disk cache here means DDP ranks map one file instead of all decoding at once.
        if self.cache_mode == "disk" and self._images is None:
            load_images(self.source.load(), self.image_size, "disk", self.cache_dir)

    def setup(self, stage: str | None = None) -> None:
        """Load, split, cache and check the data (idempotent); raises DataError on bad data."""
        if self._images is None:
            self._load()
        self._check_splits(_STAGE_SPLITS.get(stage, ("train", "val")), stage)

    def _load(self) -> None:
        table = self.source.load()
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
        rows = {name: np.flatnonzero(splits == name) for name in SPLIT_NAMES}
        images = load_images(table, self.image_size, self.cache_mode, self.cache_dir)
        self._check_transform(images[rows["train"][0] if len(rows["train"]) else 0])
        self._images, self._labels, self._rows = images, labels, rows
        # Keep the metadata (with each row's split) for analysis, but read images from the
        # cache: the source's reader may hold every encoded image in memory.
        self.table = SampleTable(
            table.frame.assign(split=splits),
            self._cached_image,
            table.fingerprint,
            self.class_names,
        )
        for name in SPLIT_NAMES:
            counts = self.split_counts[name]
            log.info(
                "%s: %d samples (%s)",
                name,
                sum(counts.values()),
                ", ".join(f"{k} {v}" for k, v in counts.items()),
            )

    def _cached_image(self, row: int) -> np.ndarray:
        return np.asarray(self._images[row])

    def _check_transform(self, image: np.ndarray) -> None:
        """Run the train pipeline once so a size-changing preset fails here, not in a worker."""
        out = self.train_transform(image=np.asarray(image))["image"]
        expected = (3, *self.image_size)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            shape = tuple(out.shape) if hasattr(out, "shape") else type(out).__name__
            raise ConfigError(
                "aug.classification",
                shape,
                f"transforms that keep the image at {list(self.image_size)} "
                f"(output {list(expected)})",
            )

    def _check_splits(self, needed: tuple[str, ...], stage: str | None) -> None:
        sizes = {name: len(self._rows[name]) for name in SPLIT_NAMES}
        summary = ", ".join(f"{k}={v}" for k, v in sizes.items())
        for name in needed:
            if sizes[name] == 0:
                hint = f"set data.splits.{name} > 0 (e.g. 0.1) or give the data '{name}' rows"
                if name == "test":
                    hint += ", or run without testing (test=false)"
                raise DataError(
                    f"split '{name}' is empty ({summary}) for stage '{stage or 'fit'}'; {hint}"
                )
        if "train" in needed:
            counts = self.split_counts["train"]
            if sum(1 for v in counts.values() if v > 0) < 2:
                detail = ", ".join(f"{k}={v}" for k, v in counts.items())
                raise DataError(
                    f"split 'train' has a single class ({detail}); "
                    "training needs samples of every class"
                )

    # ------------------------------------------------------------- summaries
    def _require_setup(self) -> None:
        if self._labels is None:
            raise RuntimeError("OCECDataModule.setup() must run before reading split information")

    @property
    def split_counts(self) -> dict[str, dict[str, int]]:
        """Samples per split and class name, e.g. {"train": {"closed": 10, "open": 12}, ...}."""
        self._require_setup()
        out = {}
        for name, rows in self._rows.items():
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
        counts = list(self.split_counts["train"].values())
        return counts[0] / counts[1]

    # ----------------------------------------------------------- dataloaders
    def _dataset(self, split: str, transform: Any) -> CachedImageDataset:
        self._require_setup()
        rows = self._rows[split]
        return CachedImageDataset(self._images, rows, self._labels[rows], transform)

    def _loader(self, dataset: CachedImageDataset, **kwargs: Any) -> DataLoader:
        rank = self.trainer.global_rank if self.trainer is not None else 0
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            worker_init_fn=partial(_seed_worker, rank=rank),
            **kwargs,
        )

    def train_dataloader(self) -> DataLoader:
        dataset = self._dataset("train", self.train_transform)
        if self.trainer is not None:  # without workers the main process augments: per rank
            self.train_transform.set_random_seed(self.seed + self.trainer.global_rank)
        generator = torch.Generator().manual_seed(self.seed)
        sampler = None
        if self.weighted_sampler:
            # Weight 1/count(class) gives every class the same expected share of draws.
            counts = np.bincount(dataset.labels, minlength=len(self.class_names))
            weights = 1.0 / counts[dataset.labels]
            sampler = WeightedRandomSampler(
                torch.as_tensor(weights, dtype=torch.double),
                len(dataset),
                replacement=True,
                generator=generator,
            )
        return self._loader(
            dataset,
            shuffle=sampler is None,
            sampler=sampler,
            # A last partial batch is dropped only when a full one exists: a tiny train
            # split must still yield one batch.
            drop_last=len(dataset) > self.batch_size,
            generator=generator,
        )

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("val", self.eval_transform), shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("test", self.eval_transform), shuffle=False)


def _instantiate_source(node: DictConfig) -> DataSource:
    try:
        return instantiate(node)
    except InstantiationException as exc:
        # Hydra wraps the source's own one-line ConfigError/DataError; unwrap it.
        if isinstance(exc.__cause__, OCECError):
            raise exc.__cause__ from None
        raise ConfigError("data.source", node.get("_target_"), " ".join(str(exc).split())) from None


def build_datamodule(cfg: DictConfig) -> OCECDataModule:
    """Build the DataModule from the composed config; reads nothing from disk."""
    data = cfg.data
    for key in data:  # `path: ???` in data=parquet/csv, `root: ???` in data=folder
        if OmegaConf.is_missing(data, key):
            raise ConfigError(
                f"data.{key}", "???", f"a value, e.g. data.{key}=<path> on the command line"
            )
    if "source" not in data:
        raise ConfigError(
            "data.source", None, "a data source; choose data=synthetic_eyes|parquet|folder|csv"
        )
    task_name = cfg.task.name
    if task_name not in cfg.aug:
        raise ConfigError(
            f"aug.{task_name}", None, f"a list of transforms for task '{task_name}' (or aug=none)"
        )
    cache = data.get("cache") or {}
    normalize = data.get("normalize") or {}
    return OCECDataModule(
        source=_instantiate_source(data.source),
        image_size=data.image_size,
        batch_size=data.batch_size,
        num_workers=data.num_workers,
        splits=OmegaConf.to_container(data.splits, resolve=True),
        weighted_sampler=data.get("weighted_sampler", False),
        cache_mode=cache.get("mode", "disk"),
        cache_dir=cache.get("dir"),
        mean=list(normalize.get("mean", (0.0, 0.0, 0.0))),
        std=list(normalize.get("std", (1.0, 1.0, 1.0))),
        train_transforms=list(cfg.aug[task_name]),
        class_names=list(cfg.task.class_names),
        seed=cfg.seed,
        pin_memory=data.get("pin_memory", False),
        persistent_workers=data.get("persistent_workers", True),
    )
