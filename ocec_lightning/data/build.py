"""`build_datamodule(cfg)`: the `OCECDataModule` of a composed config.

Reads `data` (source, sizes, loaders, cache, normalisation), `aug.<task.name>` (the
train transforms), `task` (name, class names, and for segmentation `num_classes` and
`ignore_index`) and `seed`. Nothing is read from disk here; `setup()` does that.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from ocec_lightning.config.instantiate import instantiate, plain
from ocec_lightning.data.cache import check_image_size
from ocec_lightning.data.datamodule import OCECDataModule
from ocec_lightning.data.table import check_task
from ocec_lightning.errors import ConfigError


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
            "data.source",
            None,
            "a data source; choose data=synthetic_eyes|synthetic_faces|parquet|folder|csv",
        )
    task_name = check_task(cfg.task.name)
    if task_name not in cfg.aug:
        raise ConfigError(
            f"aug.{task_name}", None, f"a list of transforms for task '{task_name}' (or aug=none)"
        )
    cache = data.get("cache") or {}
    normalize = data.get("normalize") or {}
    # Before the source: its config interpolates data.image_size.
    check_image_size(data.image_size)
    datamodule = OCECDataModule(
        source=instantiate(data.source, "data.source"),
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
        batch_transforms=list((cfg.aug.get("batched") or {}).get(task_name) or []),
        class_names=list(cfg.task.class_names),
        seed=cfg.seed,
        pin_memory=data.get("pin_memory", False),
        persistent_workers=data.get("persistent_workers", True),
        multiprocessing_context=data.get("multiprocessing_context"),
        task=task_name,
        num_classes=cfg.task.get("num_classes"),
        ignore_index=cfg.task.get("ignore_index", 255),
        on_bad_sample=data.get("on_bad_sample", "error"),
    )
    # Recorded in every checkpoint (Lightning's `datamodule_hyper_parameters`): what
    # `ocec-eval` needs to rebuild this data from the checkpoint alone.
    datamodule.save_hyperparameters({"config": data_record(cfg)})
    return datamodule


def data_record(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config sections that define the data: `data`, `aug`, `task` (without
    the module, plus its class path as `task.module_target`) and `seed`."""
    task = {k: plain(cfg.task[k]) for k in cfg.task if k != "module"}
    if "module" in cfg.task:
        task["module_target"] = str(cfg.task.module._target_)
    return {"data": plain(cfg.data), "aug": plain(cfg.aug), "task": task, "seed": int(cfg.seed)}
