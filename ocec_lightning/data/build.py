"""`build_datamodule(cfg)`: the `data` group instantiated, plus the record checkpoints keep.

`data` is `OCECDataModule`'s keyword arguments (its `_target_` is in
conf/data_common.yaml, which also links the few arguments that come from other groups:
the task, the aug preset's transforms, the seed, `test_split`). Every argument is checked
by the datamodule itself; nothing is read from disk here, `setup()` does that.

The record (`data_record`) is what `ocec-eval` and `ocec-export` rebuild the data from,
with no Hydra composition: the resolved `data`, `aug`, `task` and `seed`, except that the
linked keys keep their interpolation, so they follow the record's own `aug` / `task`
(evaluation swaps in `aug: none`) instead of the training run's command line.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from ocec_lightning.config.compose import conf_dir
from ocec_lightning.config.instantiate import instantiate, plain
from ocec_lightning.data.datamodule import OCECDataModule

# The `data` keys conf/data_common.yaml links to other groups (tests check the two agree).
LINKED_KEYS = (
    "task",
    "class_names",
    "num_classes",
    "ignore_index",
    "train_transforms",
    "batch_transforms",
    "seed",
    "test_split",
)


def build_datamodule(cfg: DictConfig) -> OCECDataModule:
    """`instantiate(cfg.data)` with the data record saved as its hyper-parameters."""
    if "_target_" not in cfg.data:  # a checkpoint recorded before `data` had a _target_
        cfg = _with_links(cfg)
    datamodule: OCECDataModule = instantiate(cfg.data, "data")
    # Recorded in every checkpoint (Lightning's `datamodule_hyper_parameters`): what
    # `ocec-eval` needs to rebuild this data from the checkpoint alone.
    datamodule.save_hyperparameters({"config": data_record(cfg)})
    return datamodule


def data_record(cfg: DictConfig) -> dict[str, Any]:
    """The config sections that define the data: `data` (resolved, linked keys as
    written), `aug`, `task` (without the module, plus its class path as
    `task.module_target`) and `seed`."""
    written = OmegaConf.to_container(cfg.data, resolve=False)
    assert isinstance(written, dict)
    data = {k: written[k] if k in LINKED_KEYS else plain(cfg.data[k]) for k in cfg.data}
    task = {k: plain(cfg.task[k]) for k in cfg.task if k != "module"}
    if "module" in cfg.task:
        task["module_target"] = str(cfg.task.module._target_)
    return {"data": data, "aug": plain(cfg.aug), "task": task, "seed": int(cfg.seed)}


def _with_links(cfg: DictConfig) -> DictConfig:
    """`cfg` whose `data` has conf/data_common.yaml's `_target_` and links added."""
    common = OmegaConf.load(conf_dir() / "data_common.yaml")
    keys = ["_target_", "_recursive_", *LINKED_KEYS]
    links = OmegaConf.masked_copy(common, keys)  # interpolations kept, not resolved
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.data = OmegaConf.merge(links, cfg.data)
    return cfg
