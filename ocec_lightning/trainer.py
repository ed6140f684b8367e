"""`build_trainer(**kwargs)`: `lightning.pytorch.Trainer` with its arguments checked first.

The `trainer` config group is the Trainer's own keyword arguments. Lightning rejects
most bad values itself, but with messages that do not name the config key or, for a GPU
requested on a machine without one, only after picking devices. The few rules below are
checked here so a bad `trainer.*` value fails before any data is read, in the one-line
form every config error takes (key, bad value, a valid alternative); everything else is
Lightning's.

Checkpoints are written through `AtomicCheckpointIO`, a `TorchCheckpointIO` plugin (so
every strategy, DDP included, uses it through `Trainer(plugins=...)`). Lightning's own
`_atomic_save` goes through an fsspec transaction whose temporary file lives in the
system temp dir: on another file system (a mounted run dir) the final move is a copy, so
a kill mid-move leaves a truncated `.ckpt`, and a kill mid-write leaves the temporary
file behind in /tmp. Here the checkpoint is written to a hidden `.<name>.<pid>.<hex>.partial`
file next to the target, flushed to disk and moved over the target with `os.replace`
(atomic on POSIX and Windows within one file system): a reader sees the old file or the
new one, never half of one. Partial files a killed process left behind in a checkpoint
directory are removed before the first write into it. Remote (fsspec URL) paths keep
Lightning's behaviour.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import CheckpointIO, TorchCheckpointIO

from ocec_lightning.checks import int_at_least, number_in, one_of
from ocec_lightning.errors import ConfigError

log = logging.getLogger(__name__)

PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "bf16-true", "16-true", "64-true")


def check_trainer_args(args: dict[str, Any]) -> None:
    """Rules on the Trainer arguments that Lightning reports without the key (bare keys)."""
    if args.get("max_epochs") not in (None, -1):  # -1 = unlimited (bounded by max_steps)
        int_at_least("max_epochs", args["max_epochs"], 1)
    int_at_least("accumulate_grad_batches", args.get("accumulate_grad_batches", 1), 1)
    if args.get("gradient_clip_val") is not None:
        number_in("gradient_clip_val", args["gradient_clip_val"], 0, 1e6, low_open=True)
    one_of("precision", args.get("precision", "32-true"), PRECISIONS)
    accelerator = str(args.get("accelerator") or "auto")
    if args.get("sync_batchnorm") and accelerator == "cpu":
        raise ConfigError("sync_batchnorm", True, "false on CPU (SyncBatchNorm needs CUDA GPUs)")
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "accelerator", accelerator, "a visible CUDA GPU; none found: use trainer=cpu"
        )


# `.<name>.<pid>.<8 hex>.partial`: only files of this exact form are ever removed.
_PARTIAL = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}\.partial$")


def partial_files(directory: str | Path) -> list[Path]:
    """The temporary checkpoint files (`.<name>.<pid>.<hex>.partial`) in `directory`."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _PARTIAL.match(p.name) and p.is_file())


def remove_partial_files(directory: str | Path) -> list[Path]:
    """Delete what a killed checkpoint write left in `directory`; returns what it removed."""
    removed = []
    for path in partial_files(directory):
        path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        log.warning("removed %d partial checkpoint file(s) in %s", len(removed), directory)
    return removed


class AtomicCheckpointIO(TorchCheckpointIO):
    """`TorchCheckpointIO` whose local writes are atomic (temp file + `os.replace`)."""

    def __init__(self) -> None:
        super().__init__()
        self._cleaned: set[Path] = set()  # directories already rid of stale partial files

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or not _is_local(path):
            super().save_checkpoint(checkpoint, path, storage_options)  # Lightning's errors
            return
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        folder = target.parent.resolve()
        if folder not in self._cleaned:
            remove_partial_files(folder)
            self._cleaned.add(folder)
        temp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
        try:
            with open(temp, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())  # the bytes are on disk before the rename
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)  # a failed write leaves the old file, no temp file
            raise
        _fsync_dir(target.parent)  # the rename itself survives a power cut


def _is_local(path: _PATH) -> bool:
    return isinstance(get_filesystem(path), LocalFileSystem)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return  # directories cannot be opened for fsync on Windows
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _with_atomic_io(kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` with `AtomicCheckpointIO` added to `plugins`, unless a CheckpointIO is
    already chosen (in `plugins` or on a strategy instance): Lightning refuses two."""
    given = kwargs.get("plugins")  # None, one plugin or a list of them
    if given is None:
        plugins = []
    elif isinstance(given, Sequence) and not isinstance(given, str):
        plugins = list(given)
    else:
        plugins = [given]
    strategy = kwargs.get("strategy")
    if any(isinstance(p, CheckpointIO) for p in plugins) or getattr(
        strategy, "_checkpoint_io", None
    ):
        return kwargs
    return {**kwargs, "plugins": [*plugins, AtomicCheckpointIO()]}


def build_trainer(**kwargs: Any) -> pl.Trainer:
    """Check the arguments, then build the Trainer (checkpoints written atomically)."""
    check_trainer_args(kwargs)
    return pl.Trainer(**_with_atomic_io(kwargs))
