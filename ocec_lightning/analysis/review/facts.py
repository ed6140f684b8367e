"""The numbers a config review reasons with, derived once from the composed config.

Effective batch (devices × batch × accumulation), optimizer steps per epoch (from the
data when it was read, from `data.source.num_samples` × the train split for synthetic
data), the run length, the callbacks' windows (early stopping, EMA, SWA) in epochs, and
the replayed LR schedule (`schedule.py`). Rules (`rules_*.py`) only read
these facts and the config; nothing here judges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ocec_lightning.analysis.review.schedule import ScheduleReplay, replay

# Data sources read from files (their counts need `setup`); the rest are generated.
FILE_SOURCES = {"ParquetSource": "parquet", "FolderSource": "folder", "CsvSource": "csv"}
SYNTHETIC_SOURCES = {
    "SyntheticEyesSource": "synthetic_eyes",
    "SyntheticFacesSource": "synthetic_faces",
}
SIZE_SAMPLE = 64  # images decoded to measure the data's own image size


def get(cfg: DictConfig, key: str, default: Any = None) -> Any:
    """`cfg` value at dotted `key` (resolved; plain containers), or `default`."""
    value = OmegaConf.select(cfg, key, default=default)
    if isinstance(value, DictConfig) or OmegaConf.is_list(value):
        return OmegaConf.to_container(value, resolve=True)
    return value


@dataclass
class DataFacts:
    """Samples per split, class counts of the train split, image sizes."""

    source: str  # parquet | folder | csv | synthetic_eyes | synthetic_faces | <class name>
    measured: bool  # True: counted in the data; False: derived from the config
    counts: dict[str, int] = field(default_factory=dict)  # samples per split
    class_counts: dict[str, int] | None = None  # train split, per class (classification)
    image_size: tuple[int, int] = (0, 0)  # data.image_size: what the model sees
    native_size: tuple[float, float] | None = None  # median H, W of the stored images
    problem: str | None = None  # why the data could not be read

    @property
    def train(self) -> int | None:
        return self.counts.get("train")

    @property
    def positive_share(self) -> float | None:
        """Share of the last class (open eyes) in the train split."""
        if not self.class_counts or sum(self.class_counts.values()) == 0:
            return None
        return list(self.class_counts.values())[-1] / sum(self.class_counts.values())


def source_kind(cfg: DictConfig) -> str:
    target = str(get(cfg, "data.source._target_", "")).rsplit(".", 1)[-1]
    return FILE_SOURCES.get(target) or SYNTHETIC_SOURCES.get(target) or target or "unknown"


def data_from_config(cfg: DictConfig) -> DataFacts:
    """Counts of generated data from the config (num_samples × split ratios)."""
    kind = source_kind(cfg)
    size = tuple(int(v) for v in get(cfg, "data.image_size", [0, 0]))
    facts = DataFacts(kind, measured=False, image_size=size)
    total = get(cfg, "data.source.num_samples")
    if total is None:
        return facts
    splits = get(cfg, "data.splits", {}) or {}
    facts.counts = {k: int(round(int(total) * float(v))) for k, v in splits.items()}
    open_ratio = get(cfg, "data.source.open_ratio")
    if open_ratio is not None and facts.train:
        names = list(get(cfg, "task.class_names", ["closed", "open"]))
        positives = int(round(facts.train * float(open_ratio)))
        facts.class_counts = {names[0]: facts.train - positives, names[-1]: positives}
    facts.native_size = (float(size[0]), float(size[1]))  # drawn at the model's size
    return facts


def data_from_datamodule(cfg: DictConfig, datamodule: Any) -> DataFacts:
    """Counts, class balance and image sizes read by the datamodule (after setup)."""
    size = tuple(int(v) for v in datamodule.image_size)
    facts = DataFacts(source_kind(cfg), measured=True, image_size=size)
    facts.counts = {s: datamodule.num_samples(s) for s in ("train", "val", "test")}
    if get(cfg, "task.name") == "classification":
        facts.class_counts = dict(datamodule.split_counts["train"])
    try:
        table = datamodule.source.load()
        rows = np.linspace(0, len(table) - 1, min(SIZE_SAMPLE, len(table))).round().astype(int)
        sizes = np.array([table.read_image(int(i)).shape[:2] for i in np.unique(rows)])
        facts.native_size = (float(np.median(sizes[:, 0])), float(np.median(sizes[:, 1])))
    except Exception as err:  # noqa: BLE001 - sizes are a nice-to-have
        facts.problem = f"image sizes not measured: {err}"
    return facts


def world_size(cfg: DictConfig, trainer: Any | None) -> int:
    """Processes of the run: the built trainer's, else devices × nodes from the config."""
    if trainer is not None:
        return int(trainer.world_size)
    devices = get(cfg, "trainer.devices", 1)
    if isinstance(devices, list):
        count = len(devices)
    elif str(devices) in ("auto", "-1"):
        count = max(1, torch.cuda.device_count())
    elif isinstance(devices, str) and "," in devices:
        count = len([d for d in devices.split(",") if d.strip()])
    else:
        count = max(1, int(devices))
    return count * int(get(cfg, "trainer.num_nodes", 1) or 1)


def steps_per_epoch(n_train: int, batch: int, world: int, accumulation: int, limit: Any) -> int:
    """Optimizer steps per epoch as the datamodule + Lightning run them: each rank gets
    ceil(n/world) samples; the last partial batch is dropped when the split holds more
    than one batch (so a rank can end up with 0 batches); `limit_train_batches` caps it."""
    per_rank = math.ceil(n_train / world)
    batches = per_rank // batch if n_train > batch else math.ceil(per_rank / batch)
    if isinstance(limit, int) and not isinstance(limit, bool):
        batches = min(batches, limit)
    elif isinstance(limit, float) and limit < 1:
        batches = int(batches * limit)
    return math.ceil(batches / accumulation)


@dataclass
class RunFacts:
    """Everything the rules need besides the config itself."""

    task: str
    world: int
    batch: int
    accumulation: int
    effective_batch: int
    steps_per_epoch: int  # 0 = no training step at all (see the steps rule)
    steps_source: str  # data | config | estimate
    max_epochs: int
    lr: float  # optimizer.lr as configured
    lr_effective: float  # after optimizer.base_batch_size scaling
    data: DataFacts
    schedule: ScheduleReplay
    es_patience: int | None  # epochs (validation checks × check_val_every_n_epoch)
    ema_decay: float | None
    ema_warmup: bool
    swa_start: int | None  # 0-based first SWA epoch
    parameters: int | None = None  # trainable parameters of the built model

    @property
    def total_steps(self) -> int:
        return self.max_epochs * self.steps_per_epoch


def _swa_start(cfg: DictConfig, epochs: int) -> int | None:
    swa = get(cfg, "callbacks.swa")
    if not swa:
        return None
    start = swa.get("swa_epoch_start", 0.8)
    start = int(epochs * start) if isinstance(start, float) else int(start)  # Lightning's rule
    return max(start - 1, 0)


def run_facts(
    cfg: DictConfig, data: DataFacts, trainer: Any | None = None, task: Any | None = None
) -> RunFacts:
    world = world_size(cfg, trainer)
    batch = int(get(cfg, "data.batch_size", 1))
    accumulation = int(get(cfg, "trainer.accumulate_grad_batches", 1) or 1)
    effective = batch * world * accumulation
    limit = get(cfg, "trainer.limit_train_batches")
    if data.train:
        per_epoch = steps_per_epoch(data.train, batch, world, accumulation, limit)
        source = "data" if data.measured else "config"
    else:  # no size known: the placeholder the config checks use
        per_epoch, source = 1000, "estimate"
    epochs = int(get(cfg, "trainer.max_epochs", 1) or 1)
    if epochs < 1:
        max_steps = int(get(cfg, "trainer.max_steps", -1) or -1)
        epochs = max(1, math.ceil(max_steps / max(per_epoch, 1))) if max_steps > 0 else 1
    lr = float(get(cfg, "optimizer.lr", 1e-3))
    base_batch = get(cfg, "optimizer.base_batch_size")
    lr_effective = lr * effective / int(base_batch) if base_batch else lr
    schedule = replay(get(cfg, "scheduler"), lr_effective, epochs, max(per_epoch, 1))
    stopping = get(cfg, "callbacks.early_stopping")
    every = int(get(cfg, "trainer.check_val_every_n_epoch", 1) or 1)
    ema = get(cfg, "callbacks.ema")
    parameters = None
    if task is not None:
        parameters = sum(p.numel() for p in task.model.parameters() if p.requires_grad)
    return RunFacts(
        task=str(get(cfg, "task.name", "classification")),
        world=world,
        batch=batch,
        accumulation=accumulation,
        effective_batch=effective,
        steps_per_epoch=per_epoch,
        steps_source=source,
        max_epochs=epochs,
        lr=lr,
        lr_effective=lr_effective,
        data=data,
        schedule=schedule,
        es_patience=int(stopping["patience"]) * every if stopping else None,
        ema_decay=float(ema["decay"]) if ema else None,
        ema_warmup=bool(ema.get("warmup", False)) if ema else False,
        swa_start=_swa_start(cfg, epochs),
        parameters=parameters,
    )
