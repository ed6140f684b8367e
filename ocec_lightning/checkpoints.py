"""Read `ocec-train` checkpoints: the one place training, evaluation and export do it.

`read_checkpoint_file` returns the checkpoint dict; `load_checkpoint` the eval-mode task
(what `ocec-eval`, `ocec-export` and `ocec-predict` use); `check_checkpoint_fits` says
whether a checkpoint fits a built task (`ckpt_path` of a training run, checked before any
data is read). The checkpoint's `state_dict` holds the EMA weights when the run used EMA
(Lightning's weight averaging saves the averaged model there, the raw one in
`current_model_state`), so `load_from_checkpoint` gives exactly the model that validation
scored. Files are read with `torch.load(weights_only=True)`; a missing, corrupt or foreign
file is a one-line `DataError` / `ConfigError` naming it. Imports nothing of the package
but its errors, so every layer may use it.
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import get_class

from ocec_lightning.errors import ConfigError, DataError


@dataclass
class LoadedCheckpoint:
    """A task in eval mode with its checkpoint's deployment facts."""

    path: Path
    task: Any  # BaseTask subclass, eval mode, on the CPU
    checkpoint: dict[str, Any]
    has_ema: bool

    @property
    def hparams(self) -> dict[str, Any]:
        return dict(self.task.hparams)

    @property
    def task_name(self) -> str:
        return str(self.checkpoint["datamodule_hyper_parameters"]["config"]["task"]["name"])

    @property
    def record(self) -> dict[str, Any]:
        """The run's data config (`data`, `aug`, `task`, `seed`)."""
        return self.checkpoint["datamodule_hyper_parameters"]["config"]


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_checkpoint_file(path: str | Path, key: str = "ckpt") -> dict[str, Any]:
    """The checkpoint dict (weights_only=True), or a one-line DataError naming the file."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{key}: no checkpoint file at {file}")
    try:
        checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, OSError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if "Weights only load failed" in first:
            first = (
                "holds objects that weights_only loading refuses"
                if zipfile.is_zipfile(file)
                else "not a PyTorch zip archive"
            )
        raise DataError(f"{key}: {file} is not a readable PyTorch checkpoint ({first})") from None
    record = (
        (checkpoint.get("datamodule_hyper_parameters") or {}).get("config")
        if isinstance(checkpoint, dict)
        else None
    )
    if not record or "module_target" not in record.get("task", {}):
        raise DataError(
            f"{key}: {file} was not written by ocec-train "
            "(no datamodule_hyper_parameters with the run's data config)"
        )
    return checkpoint


def load_checkpoint(path: str | Path, key: str = "ckpt") -> LoadedCheckpoint:
    """The checkpoint's task (EMA weights when present) in eval mode on the CPU."""
    file = Path(path)
    checkpoint = read_checkpoint_file(file, key)
    target = str(checkpoint["datamodule_hyper_parameters"]["config"]["task"]["module_target"])
    try:
        task_class = get_class(target)
        task = task_class.load_from_checkpoint(file, map_location="cpu", weights_only=True)
    except (RuntimeError, KeyError, TypeError, ImportError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(
            key, str(file), f"a checkpoint whose weights fit its model; loading failed: {first}"
        ) from None
    task.eval()
    has_ema = "current_model_state" in checkpoint
    return LoadedCheckpoint(path=file, task=task, checkpoint=checkpoint, has_ema=has_ema)


def _model_options(hparams: Any) -> dict[str, Any]:
    model = (hparams or {}).get("model") or {}
    return dict(model) if isinstance(model, dict) else {}


def check_checkpoint_fits(
    checkpoint: dict[str, Any], path: str | Path, task: Any, key: str = "ckpt_path"
) -> None:
    """ConfigError naming `path` unless the checkpoint was written for `task`'s class and
    its weights have `task`'s names and shapes (resume / test a run's checkpoint).

    Lightning would find out too, after the data is loaded, in a many-line
    `load_state_dict` error that names neither the file nor the option that differs."""
    record = checkpoint["datamodule_hyper_parameters"]["config"]["task"]
    own_target = f"{type(task).__module__}.{type(task).__qualname__}"
    if str(record["module_target"]) != own_target:
        raise ConfigError(
            key,
            str(path),
            f"a checkpoint of this run's task; the file holds a {record.get('name')} "
            f"checkpoint ({record['module_target']}) and this run builds {own_target}: "
            f"give a checkpoint of this task or run with task={record.get('name')}",
            scoped=True,
        )
    theirs: dict[str, Any] = checkpoint.get("state_dict") or {}
    ours = task.state_dict()
    differ = [k for k in ours if k in theirs and tuple(theirs[k].shape) != tuple(ours[k].shape)]
    missing = [k for k in ours if k not in theirs]
    if not (differ or missing or [k for k in theirs if k not in ours]):
        return
    mine = _model_options(dict(task.hparams))
    saved = _model_options(checkpoint.get("hyper_parameters"))
    options = [
        f"model.{k}={saved.get(k)!r} in the file, {mine.get(k)!r} here"
        for k in sorted(set(mine) | set(saved))
        if mine.get(k) != saved.get(k)
    ]
    if differ:
        example = f"{differ[0]} {list(theirs[differ[0]].shape)} vs {list(ours[differ[0]].shape)}"
    else:
        example = f"{(missing or ['?'])[0]} missing"
    detail = "; ".join(options[:3]) if options else f"e.g. {example}"
    raise ConfigError(
        key,
        str(path),
        f"a checkpoint of this run's model; its weights do not fit ({detail}): "
        "use the model options the checkpoint was trained with, or another checkpoint",
        scoped=True,
    )
