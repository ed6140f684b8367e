"""`build_trainer(**kwargs)`: `lightning.pytorch.Trainer` with its arguments checked first.

The `trainer` config group is the Trainer's own keyword arguments. Lightning rejects
most bad values itself, but with messages that do not name the config key or, for a GPU
requested on a machine without one, only after picking devices. The few rules below are
checked here so a bad `trainer.*` value fails before any data is read, in the one-line
form of SPEC §12; everything else is Lightning's.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch

from ocec_lightning.checks import int_at_least, number_in, one_of
from ocec_lightning.errors import ConfigError

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


def build_trainer(**kwargs: Any) -> pl.Trainer:
    """Check the arguments, then build the Trainer."""
    check_trainer_args(kwargs)
    return pl.Trainer(**kwargs)
