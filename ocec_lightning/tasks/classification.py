"""Binary image classification (open = 1) as a LightningModule.

The module knows the model only as `nn.Module -> logits [N]`, the loss as a callable on
(logits, soft targets) and the optimizer as a factory; schedules come from
`ocec_lightning.optim`. Metrics are torchmetrics at threshold 0.5 plus the F1 at the
threshold that maximises validation F1; that threshold is stored in every checkpoint
(`checkpoint["ocec"]["threshold"]`) and used again by test, eval and export.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryAveragePrecision,
    BinaryF1Score,
    BinaryPrecision,
    BinaryPrecisionRecallCurve,
    BinaryRecall,
)

from ocec_lightning.optim.lr_schedule import LRSchedule, TrainingLength, build_lr_schedule
from ocec_lightning.tasks.batch_mix import BinaryBatchMix

# Every metric this task logs per stage; config validation checks monitors against it.
METRIC_NAMES = ("loss", "acc", "precision", "recall", "f1", "auroc", "ap", "f1_best", "threshold")


def _threshold_metrics(threshold: float) -> dict[str, Any]:
    return {
        "acc": BinaryAccuracy(threshold=threshold),
        "precision": BinaryPrecision(threshold=threshold),
        "recall": BinaryRecall(threshold=threshold),
        "f1": BinaryF1Score(threshold=threshold),
    }


def best_f1_threshold(curve: BinaryPrecisionRecallCurve) -> tuple[float, float]:
    """(threshold, F1) maximising F1 over the curve's thresholds."""
    precision, recall, thresholds = curve.compute()
    f1 = 2 * precision[:-1] * recall[:-1] / (precision[:-1] + recall[:-1]).clamp_min(1e-12)
    best = int(torch.argmax(f1))
    return float(thresholds[best]), float(f1[best])


class ClassificationTask(pl.LightningModule):
    """Train/validate/test a one-logit binary classifier."""

    metric_names = METRIC_NAMES

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: DictConfig | None = None,
        batch_mix: dict[str, float] | None = None,
        class_names: tuple[str, ...] = ("closed", "open"),
        run_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.model, self.loss_fn = model, loss
        self.optimizer_factory, self.scheduler_cfg = optimizer, scheduler
        self.batch_mix = BinaryBatchMix(**(batch_mix or {}))
        self.class_names = list(class_names)
        self.run_config = run_config or {}
        # A plain attribute, not a buffer: EMA averages/swaps buffers and must not touch it.
        self.threshold = 0.5
        ranked = {"auroc": BinaryAUROC(), "ap": BinaryAveragePrecision()}
        self.val_metrics = MetricCollection({**_threshold_metrics(0.5), **ranked}, prefix="val/")
        self.test_metrics = self.val_metrics.clone(prefix="test/")
        self.val_curve = BinaryPrecisionRecallCurve()
        self.test_tuned: MetricCollection | None = None

    def forward(self, images: Tensor) -> Tensor:
        """Logits [N] for images [N, C, H, W]."""
        return self.model(images)

    # -- steps -------------------------------------------------------------------------
    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        images, targets = self.batch_mix(*batch)
        loss = self.loss_fn(self(images), targets)
        self.log(
            "train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(images)
        )
        return loss

    def _eval_step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        images, targets = batch
        logits = self(images)
        loss = self.loss_fn(logits, targets.float())
        probs = torch.sigmoid(logits.float())
        self.log(
            f"{stage}/loss",
            loss,
            on_epoch=True,
            prog_bar=stage == "val",
            batch_size=len(images),
            sync_dist=True,
        )
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        metrics.update(probs, targets.long())
        if stage == "val":
            self.val_curve.update(probs, targets.long())
        elif self.test_tuned is not None:
            self.test_tuned.update(probs, targets.long())
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._eval_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._eval_step(batch, "test")

    # -- epoch ends ----------------------------------------------------------------------
    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_metrics.compute(), prog_bar=False, sync_dist=True)
        self.val_metrics.reset()
        threshold, f1 = best_f1_threshold(self.val_curve)
        self.val_curve.reset()
        if not self.trainer.sanity_checking:
            self.threshold = threshold
        self.log_dict({"val/f1_best": f1, "val/threshold": threshold}, sync_dist=True)

    def on_test_epoch_start(self) -> None:
        tuned = {f"{k}_tuned": v for k, v in _threshold_metrics(self.threshold).items()}
        self.test_tuned = MetricCollection(tuned, prefix="test/").to(self.device)

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute(), sync_dist=True)
        self.test_metrics.reset()
        assert self.test_tuned is not None
        self.log_dict(self.test_tuned.compute(), sync_dist=True)
        self.log("test/threshold", self.threshold, sync_dist=True)
        self.test_tuned = None

    def on_train_epoch_end(self) -> None:
        # Runs after this epoch's validation, so plateau schedulers see fresh metrics.
        schedule = self.lr_schedulers()
        if isinstance(schedule, LRSchedule):
            schedule.step_epoch(dict(self.trainer.callback_metrics))

    # -- optimisation --------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_cfg is None:
            return {"optimizer": optimizer}
        schedule = build_lr_schedule(self.scheduler_cfg, optimizer, self.training_length())
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def training_length(self) -> TrainingLength:
        """Optimizer steps of the whole run and per epoch, as the trainer will run them."""
        trainer = self.trainer
        total = int(trainer.estimated_stepping_batches)
        if trainer.max_epochs and trainer.max_epochs > 0:
            per_epoch = max(1, -(-total // trainer.max_epochs))
        else:
            per_epoch = max(
                1, -(-int(trainer.num_training_batches) // trainer.accumulate_grad_batches)
            )
        return TrainingLength(total_steps=max(1, total), steps_per_epoch=per_epoch)

    def lr_scheduler_step(self, scheduler: Any, metric: Any = None) -> None:
        scheduler.step_optimizer()

    # -- checkpoint extras ---------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["ocec"] = {
            "task": "classification",
            "threshold": self.threshold,
            "class_names": self.class_names,
            "config": self.run_config,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        extra = checkpoint.get("ocec", {})
        self.threshold = float(extra.get("threshold", self.threshold))
