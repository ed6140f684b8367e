"""Binary image classification (open = 1) as a LightningModule.

The model is any `nn.Module -> logits [N]`; the loss a callable on (logits, soft
targets). Metrics are torchmetrics at threshold 0.5 plus the F1 at the threshold that
maximises validation F1; that threshold is stored in every checkpoint
(`checkpoint["ocec"]["threshold"]`) and used again by test, eval and export.
"""

from __future__ import annotations

from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
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

from ocec_lightning.tasks.base import BaseTask
from ocec_lightning.tasks.batch_mix import BinaryBatchMix


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


class ClassificationTask(BaseTask):
    """Train/validate/test a one-logit binary classifier."""

    task_name = "classification"
    # Every metric logged per stage; config validation checks monitors against it.
    metric_names = (
        "loss",
        "acc",
        "precision",
        "recall",
        "f1",
        "auroc",
        "ap",
        "f1_best",
        "threshold",
    )

    def __init__(self, batch_mix: dict[str, float] | None = None, **base: Any) -> None:
        """`base`: BaseTask's arguments (model, loss, optimizer, scheduler, class_names, ...)."""
        base.setdefault("class_names", ("closed", "open"))
        super().__init__(**base)
        self.batch_mix = BinaryBatchMix(**(batch_mix or {}))
        # A plain attribute, not a buffer: EMA averages/swaps buffers and must not touch it.
        self.threshold = 0.5
        ranked = {"auroc": BinaryAUROC(), "ap": BinaryAveragePrecision()}
        self.val_metrics = MetricCollection({**_threshold_metrics(0.5), **ranked}, prefix="val/")
        self.test_metrics = self.val_metrics.clone(prefix="test/")
        self.val_curve = BinaryPrecisionRecallCurve()
        self.test_tuned: MetricCollection | None = None

    # -- steps -------------------------------------------------------------------------
    def prepare_train_batch(self, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        return self.batch_mix(*batch)  # soft targets when MixUp/CutMix is on

    def loss_targets(self, targets: Tensor) -> Tensor:
        return targets.float()

    def update_metrics(self, logits: Tensor, targets: Tensor, stage: str) -> None:
        probs, labels = torch.sigmoid(logits.float()), targets.long()
        if stage == "val":
            self.val_metrics.update(probs, labels)
            self.val_curve.update(probs, labels)
        else:
            self.test_metrics.update(probs, labels)
            if self.test_tuned is not None:
                self.test_tuned.update(probs, labels)

    # -- epoch ends ----------------------------------------------------------------------
    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_metrics.compute(), sync_dist=True)
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

    @classmethod
    def config_kwargs(cls, cfg: DictConfig) -> dict[str, Any]:
        batch = cfg.aug.get("batch")
        return {"batch_mix": OmegaConf.to_container(batch, resolve=True) if batch else None}

    # -- checkpoint extras ---------------------------------------------------------------
    def checkpoint_extras(self) -> dict[str, Any]:
        return {"threshold": self.threshold}

    def load_checkpoint_extras(self, extras: dict[str, Any]) -> None:
        self.threshold = float(extras.get("threshold", self.threshold))
