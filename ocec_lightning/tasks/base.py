"""What every task's LightningModule shares: the model, loss and optimisation plumbing.

A task is built by one `instantiate` of `task.module` (conf/task/<name>.yaml), LHT-style:
the model and loss arrive as configs and are built here, once; the optimizer and the
scheduler arrive as configs of `_partial_` factories and are built in
`configure_optimizers` from the trainer's real step counts. Every constructor argument is
a plain container recorded by `save_hyperparameters`, so
`ClassificationTask.load_from_checkpoint(path)` rebuilds the module with no Hydra
composition and no block of our own in the checkpoint; the hyper-parameters also carry
what predict/export need (class names, image size, normalisation and, for
classification, the tuned threshold).

Statistics of the training data (`pos_weight: auto`, class frequencies) reach the loss in
`setup()`, from `trainer.datamodule`: the config is never rewritten. A subclass adds its
steps and metrics and states its output contract (`example_targets`,
`expected_output_shape`), which the up-front config check runs on the built model.
"""

from __future__ import annotations

import math
import os
from abc import ABCMeta, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from ocec_lightning.config.instantiate import instantiate, plain
from ocec_lightning.data.sampling import reseed_globals
from ocec_lightning.optim.lr_schedule import LRSchedule, TrainingLength, build_lr_schedule
from ocec_lightning.optim.optimizer import build_optimizer


class BaseTask(pl.LightningModule, metaclass=ABCMeta):
    """Model + loss + optimizer/scheduler factories; subclasses define steps and metrics."""

    # Every metric a subclass logs per stage; the config check compares monitors with it.
    metric_names: tuple[str, ...] = ("loss",)

    def __init__(
        self,
        model: Mapping[str, Any],
        loss: Mapping[str, Any],
        optimizer: Mapping[str, Any],
        scheduler: Mapping[str, Any] | None = None,
        class_names: Sequence[str] = (),
        image_size: Sequence[int] = (32, 64),
        normalize: Mapping[str, Sequence[float]] | None = None,
        **task_options: Any,
    ) -> None:
        """`task_options`: the subclass's own arguments, recorded with the others."""
        super().__init__()
        self.save_hyperparameters(
            plain(
                {
                    "model": model,
                    "loss": loss,
                    "optimizer": optimizer,
                    "scheduler": scheduler,
                    "class_names": list(class_names),
                    "image_size": list(image_size),
                    "normalize": normalize or {"mean": [0.0] * 3, "std": [1.0] * 3},
                    **task_options,
                }
            )
        )
        self.model = instantiate(self.hparams.model, "model")
        self.loss_fn = instantiate(self.hparams.loss, "loss")
        self.class_names = list(class_names)

    def forward(self, images: Tensor) -> Tensor:
        return self.model(images)

    # -- the output contract, checked up front on the built model ------------------------
    @abstractmethod
    def example_targets(self, batch: int, height: int, width: int) -> Tensor:
        """Targets the loss takes for `batch` images of height × width."""

    @abstractmethod
    def expected_output_shape(self, batch: int, height: int, width: int) -> tuple[int, ...]:
        """The model's output shape for `batch` images of height × width."""

    # -- data statistics -----------------------------------------------------------------
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None and hasattr(self.loss_fn, "bind_data"):
            self.loss_fn.bind_data(datamodule)

    # -- steps (subclasses supply the metric updates) -------------------------------------
    def prepare_train_batch(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """Hook for batch-level augmentation (e.g. MixUp/CutMix); identity by default."""
        return batch

    def loss_targets(self, targets: Tensor) -> Tensor:
        """Targets in the form the loss takes (e.g. float for binary losses)."""
        return targets

    def update_metrics(self, logits: Tensor, targets: Tensor, stage: str) -> None:
        """Feed one validation/test batch to the stage's metrics."""

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, targets = self.prepare_train_batch(batch)
        loss = self.loss_fn(self(images), self.loss_targets(targets))
        self.log(
            "train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(images)
        )
        return loss

    def _eval_step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        images, targets = batch
        logits = self(images)
        loss = self.loss_fn(logits, self.loss_targets(targets))
        self.log(
            f"{stage}/loss",
            loss,
            on_epoch=True,
            prog_bar=stage == "val",
            batch_size=len(images),
            sync_dist=True,
        )
        self.update_metrics(logits, targets, stage)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._eval_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._eval_step(batch, "test")

    # -- optimisation --------------------------------------------------------------------
    def build_optimization(
        self, length: TrainingLength, effective_batch: int = 1, strict: bool = True
    ) -> tuple[torch.optim.Optimizer, LRSchedule | None]:
        """The optimizer and warmup + scheduler for a run of `length` (also used up front,
        with an estimated length, to check their configs before any data is read)."""
        optimizer = build_optimizer(self.hparams.optimizer, self.model, effective_batch)
        if self.hparams.scheduler is None:
            return optimizer, None
        return optimizer, build_lr_schedule(self.hparams.scheduler, optimizer, length, strict)

    def configure_optimizers(self) -> dict[str, Any]:
        debug_run = bool(self.trainer.fast_dev_run)  # a handful of steps: warmup is clamped
        optimizer, schedule = self.build_optimization(
            self.training_length(), self.effective_batch_size(), strict=not debug_run
        )
        if schedule is None:
            return {"optimizer": optimizer}
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def effective_batch_size(self) -> int:
        """Samples per optimizer step over all processes (for LR scaling)."""
        trainer = self.trainer
        datamodule = getattr(trainer, "datamodule", None)
        batch = int(getattr(datamodule, "batch_size", 1) or 1)
        return batch * int(trainer.world_size) * int(trainer.accumulate_grad_batches)

    def training_length(self) -> TrainingLength:
        """Optimizer steps of the whole run and per epoch, as the trainer will run them."""
        trainer = self.trainer
        total = max(1, int(trainer.estimated_stepping_batches))  # sets up the train data
        batches = float(trainer.num_training_batches)
        if math.isfinite(batches) and batches > 0:
            # From the batches, not total / max_epochs: max_steps may end the run early.
            per_epoch = max(1, math.ceil(batches / trainer.accumulate_grad_batches))
        else:  # an iterable dataset of unknown length
            per_epoch = max(1, -(-total // max(1, trainer.max_epochs or 1)))
        return TrainingLength(total_steps=total, steps_per_epoch=per_epoch)

    def lr_scheduler_step(self, scheduler: Any, metric: Any = None) -> None:
        if isinstance(scheduler, LRSchedule):
            scheduler.step_optimizer()
        else:  # e.g. SWALR installed by the SWA callback
            scheduler.step()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Lightning's checkpoints do not hold the global RNG states: seeding them from
        # (seed, rank, epoch, batch) gives a resumed run the dropout and MixUp draws of
        # the uninterrupted one (the data's own randomness: data/sampling.py).
        seed = os.environ.get("PL_GLOBAL_SEED")
        if seed is not None:
            reseed_globals(int(seed), self.global_rank, self.current_epoch, batch_idx)

    def on_train_epoch_end(self) -> None:
        # Runs after this epoch's validation, so plateau schedulers see fresh metrics.
        schedule = self.lr_schedulers()
        if isinstance(schedule, LRSchedule):
            schedule.step_epoch(dict(self.trainer.callback_metrics))
            for event in schedule.drain_events():
                # Multiplicative LR change with its reason in the console/log file.
                ratio = float(event["new_lr"]) / max(float(event["old_lr"]), 1e-30)
                self.log("lr/adjust_factor", ratio)
                rank_zero_info(
                    f"LR {event['reason']}: {event['old_lr']:.3g} -> {event['new_lr']:.3g} "
                    f"({event.get('detail', '')})"
                )
