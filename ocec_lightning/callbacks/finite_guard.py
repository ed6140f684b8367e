"""Stop a diverged run at once and never write its non-finite weights to a checkpoint.

Lightning stops on a non-finite *monitored* metric (`EarlyStopping(check_finite=True)`),
but only after a validation epoch, which a NaN model reaches only after an epoch of NaN
steps, and `ModelCheckpoint` then writes the NaN weights (as one of its top-k, since it
keeps the first k whatever their score). Lightning has no per-step loss check
(`detect_anomaly` is a slow autograd debugging mode and raises from inside backward on
one rank), so this callback adds the two checks a NaN/inf guard needs:

- `on_train_batch_end`: the loss `training_step` returned is finite on every rank,
  decided together with `strategy.reduce_boolean_decision` so all DDP ranks raise on the
  same step (a rank that stopped alone would leave the others waiting in a collective);
- `on_save_checkpoint`: every floating tensor of the checkpoint's weights (`state_dict`,
  the EMA weights when EMA is on, and the raw `current_model_state`) and of the module is
  finite; otherwise the write is refused before a byte reaches the disk, so the last
  checkpoint on disk (and the best one `ModelCheckpoint` points at) holds finite weights.

Either check raises `NonFiniteError`, a one-line user-facing error naming the epoch and
global step; `training.run_training` records it in summary.json as
`stopped_nonfinite_loss` / `stopped_nonfinite_weights` and re-raises it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from ocec_lightning.checks import int_at_least
from ocec_lightning.errors import OCECError

_HINT = "lower optimizer.lr or set trainer.gradient_clip_val (e.g. 1.0)"


class NonFiniteError(OCECError):
    """Training produced a NaN/inf loss or weights; `status` is the summary.json status."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


def _loss_of(outputs: Any) -> Tensor | None:
    """The loss in what `training_step` returned (a tensor or a mapping with "loss")."""
    if isinstance(outputs, Tensor):
        return outputs
    if isinstance(outputs, Mapping) and isinstance(outputs.get("loss"), Tensor):
        return outputs["loss"]
    return None  # training_step returned None: Lightning skipped the batch


def non_finite_tensors(tensors: Iterable[tuple[str, Any]]) -> list[str]:
    """Names of the floating-point tensors among `tensors` that hold a NaN or an inf."""
    return [
        name
        for name, value in tensors
        if isinstance(value, Tensor)
        and value.is_floating_point()
        and not bool(torch.isfinite(value).all())
    ]


class FiniteGuard(pl.Callback):
    """Raise `NonFiniteError` on a non-finite training loss or before saving
    non-finite weights.

    Args:
        check_loss: check the training loss after every `every_n_steps`-th batch.
        check_checkpoint: refuse to write a checkpoint whose weights are not finite.
        every_n_steps: check the loss of every n-th batch (>= 1); each check reads the
            loss on the host (one device sync, one all-reduce of a flag under DDP).
    """

    def __init__(
        self, check_loss: bool = True, check_checkpoint: bool = True, every_n_steps: int = 1
    ) -> None:
        self.check_loss = bool(check_loss)
        self.check_checkpoint = bool(check_checkpoint)
        self.every_n_steps = int_at_least("every_n_steps", every_n_steps, 1)

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if not self.check_loss or batch_idx % self.every_n_steps:
            return
        loss = _loss_of(outputs)
        value = float(loss.detach().float().mean()) if loss is not None else 0.0
        # Every rank takes part in the reduction, also one whose own loss is finite.
        if not trainer.strategy.reduce_boolean_decision(not math.isfinite(value), all=False):
            return
        shown = f"{value}" if not math.isfinite(value) else "non-finite on another rank"
        raise NonFiniteError(
            f"training loss is {shown} at epoch {trainer.current_epoch}, global step "
            f"{trainer.global_step} (batch {batch_idx} of the epoch): training stopped, "
            "no checkpoint of these weights written; " + _HINT,
            status="stopped_nonfinite_loss",
        )

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if not self.check_checkpoint:
            return
        # The EMA callback may run before or after this one: check the checkpoint's
        # weights as they are now and the module's own (raw) weights.
        named: list[tuple[str, Any]] = []
        for key in ("state_dict", "current_model_state"):
            named += [(f"{key}.{k}", v) for k, v in (checkpoint.get(key) or {}).items()]
        named += [(f"module.{k}", v) for k, v in pl_module.state_dict().items()]
        bad = non_finite_tensors(named)
        if not trainer.strategy.reduce_boolean_decision(bool(bad), all=False):
            return
        where = f"{len(bad)} tensor(s), e.g. {bad[0]}" if bad else "on another rank"
        raise NonFiniteError(
            f"model weights are non-finite ({where}) at epoch {trainer.current_epoch}, "
            f"global step {trainer.global_step}: checkpoint not written, training "
            "stopped; " + _HINT,
            status="stopped_nonfinite_weights",
        )
