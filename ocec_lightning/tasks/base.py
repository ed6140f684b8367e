"""What every task's LightningModule shares: the model, loss and optimisation plumbing.

A task subclass adds its steps and metrics. Here: building the optimizer (param groups,
LR scaling) and the warmup + scheduler `LRSchedule`, stepping it per optimizer step and
per epoch, logging LR-schedule events, the training length, and the `checkpoint["ocec"]`
block (task name, class names, the resolved run config, plus `checkpoint_extras()`).
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_info
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from ocec_lightning.optim.lr_schedule import LRSchedule, TrainingLength, build_lr_schedule
from ocec_lightning.optim.optimizer import build_optimizer


class BaseTask(pl.LightningModule):
    """Model + loss + optimizer/scheduler configs; subclasses define steps and metrics."""

    task_name = "base"
    metric_names: tuple[str, ...] = ("loss",)

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        optimizer: DictConfig,
        scheduler: DictConfig | None = None,
        class_names: tuple[str, ...] = (),
        run_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model, self.loss_fn = model, loss
        self.optimizer_cfg, self.scheduler_cfg = optimizer, scheduler
        self.class_names = list(class_names)
        self.run_config = run_config or {}

    @classmethod
    def from_config(cls, cfg: DictConfig, model: nn.Module, loss: nn.Module) -> BaseTask:
        """Build the task from a composed config (shared keys + `config_kwargs(cfg)`)."""
        return cls(
            model=model,
            loss=loss,
            optimizer=cfg.optimizer,
            scheduler=cfg.get("scheduler"),
            class_names=tuple(cfg.task.class_names),
            run_config=OmegaConf.to_container(cfg, resolve=True),
            **cls.config_kwargs(cfg),
        )

    @classmethod
    def config_kwargs(cls, cfg: DictConfig) -> dict[str, Any]:
        """Task-specific constructor arguments read from the config."""
        return {}

    def forward(self, images: Tensor) -> Tensor:
        return self.model(images)

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
    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = build_optimizer(self.optimizer_cfg, self.model, self.effective_batch_size())
        if self.scheduler_cfg is None:
            return {"optimizer": optimizer}
        debug_run = bool(self.trainer.fast_dev_run)  # a handful of steps: warmup is clamped
        schedule = build_lr_schedule(
            self.scheduler_cfg, optimizer, self.training_length(), strict=not debug_run
        )
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
        total = max(1, int(trainer.estimated_stepping_batches))
        if trainer.max_epochs and trainer.max_epochs > 0:
            per_epoch = max(1, -(-total // trainer.max_epochs))
        else:
            per_epoch = max(
                1, -(-int(trainer.num_training_batches) // trainer.accumulate_grad_batches)
            )
        return TrainingLength(total_steps=total, steps_per_epoch=per_epoch)

    def lr_scheduler_step(self, scheduler: Any, metric: Any = None) -> None:
        if isinstance(scheduler, LRSchedule):
            scheduler.step_optimizer()
        else:  # e.g. SWALR installed by the SWA callback
            scheduler.step()

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

    # -- checkpoint extras ---------------------------------------------------------------
    def checkpoint_extras(self) -> dict[str, Any]:
        """Task-specific values stored in checkpoint["ocec"] (e.g. the tuned threshold)."""
        return {}

    def load_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        """Restore what `checkpoint_extras` saved."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["ocec"] = {
            "task": self.task_name,
            "class_names": self.class_names,
            "config": self.run_config,
            **self.checkpoint_extras(),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.load_checkpoint_extras(checkpoint.get("ocec", {}))
