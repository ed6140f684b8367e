"""Binary image classification (open = 1) as a LightningModule.

The model is any `nn.Module -> logits [N]`; the loss a callable on (logits, soft
targets). Metrics are torchmetrics at threshold 0.5 plus the F1 at the threshold that
maximises validation F1; that threshold is a hyper-parameter (`hparams.threshold`),
updated after every validation epoch, so every checkpoint carries it and
`load_from_checkpoint` restores it for test, eval and export.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn
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
from torchmetrics.utilities import dim_zero_cat

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
    """(threshold, F1) maximising F1 over the curve's finite thresholds; (nan, nan) when
    there is none (every score NaN: a diverged model)."""
    precision, recall, thresholds = curve.compute()
    # All scores equal (an untrained or collapsed model): torchmetrics returns the one
    # threshold as a 0-d tensor.
    thresholds = thresholds.reshape(-1)
    f1 = 2 * precision[:-1] * recall[:-1] / (precision[:-1] + recall[:-1]).clamp_min(1e-12)
    # NaN scores become NaN thresholds: never pick one (a NaN threshold breaks testing).
    usable = torch.isfinite(thresholds) & torch.isfinite(f1)
    if not bool(usable.any()):
        return float("nan"), float("nan")
    best = int(torch.argmax(torch.where(usable, f1, torch.full_like(f1, -1.0))))
    return float(thresholds[best]), float(f1[best])


def usable_threshold(threshold: float, default: float = 0.5) -> float:
    """`threshold` when it is a number in [0, 1], else `default` (with a warning): a
    checkpoint of a diverged run may carry a NaN threshold."""
    if math.isfinite(threshold) and 0.0 <= threshold <= 1.0:
        return threshold
    rank_zero_warn(
        f"decision threshold {threshold} is not a number in [0, 1] (from a diverged "
        f"run?); testing at {default} instead"
    )
    return default


class ClassificationTask(BaseTask):
    """Train/validate/test a one-logit binary classifier."""

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

    def __init__(
        self,
        batch_mix: Mapping[str, float] | None = None,
        threshold: float = 0.5,
        **base: Any,
    ) -> None:
        """`base`: BaseTask's arguments (model, loss, optimizer, scheduler, class_names, ...);
        `threshold`: the decision threshold on P(open), tuned on validation."""
        base.setdefault("class_names", ("closed", "open"))
        super().__init__(**base, batch_mix=batch_mix, threshold=float(threshold))
        self.batch_mix = BinaryBatchMix(**(self.hparams.batch_mix or {}))
        ranked = {"auroc": BinaryAUROC(), "ap": BinaryAveragePrecision()}
        self.val_metrics = MetricCollection({**_threshold_metrics(0.5), **ranked}, prefix="val/")
        self.test_metrics = self.val_metrics.clone(prefix="test/")
        self.val_curve = BinaryPrecisionRecallCurve()
        self.test_tuned: MetricCollection | None = None

    @property
    def threshold(self) -> float:
        # A hyper-parameter, not a buffer: EMA averages/swaps buffers and must not touch it.
        return float(self.hparams.threshold)

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.hparams.threshold = float(value)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # trainer.test(ckpt_path=...) loads weights into this module without rebuilding
        # it: take that checkpoint's tuned threshold too (load_from_checkpoint gets it
        # from the hyper-parameters anyway).
        saved = checkpoint.get(self.CHECKPOINT_HYPER_PARAMS_KEY, {}).get("threshold")
        if saved is not None:
            self.threshold = float(saved)

    def example_targets(self, batch: int, height: int, width: int) -> Tensor:
        return (torch.arange(batch) % 2).float()

    def expected_output_shape(self, batch: int, height: int, width: int) -> tuple[int, ...]:
        return (batch,)

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

    def val_scores(self) -> tuple[Tensor, Tensor]:
        """This validation epoch's P(open) and labels (1-D, on the CPU; gathered from all
        processes, so every rank must call it), for diagnostics callbacks. They live until
        this module's `on_validation_epoch_end` resets them; callbacks' hooks of that name
        run before it."""
        with self.val_curve.sync_context():
            probs, labels = self.val_curve.preds, self.val_curve.target
            if len(probs) == 0:
                return torch.empty(0), torch.empty(0, dtype=torch.long)
            return dim_zero_cat(probs).detach().cpu(), dim_zero_cat(labels).detach().cpu()

    # -- epoch ends ----------------------------------------------------------------------
    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_metrics.compute(), sync_dist=True)
        self.val_metrics.reset()
        threshold, f1 = best_f1_threshold(self.val_curve)
        self.val_curve.reset()
        if not math.isfinite(threshold):  # every score NaN: keep the threshold in use
            threshold = self.threshold
        elif not self.trainer.sanity_checking:
            self.threshold = threshold
        self.log_dict({"val/f1_best": f1, "val/threshold": threshold}, sync_dist=True)

    def on_test_epoch_start(self) -> None:
        self.threshold = usable_threshold(self.threshold)
        tuned = {f"{k}_tuned": v for k, v in _threshold_metrics(self.threshold).items()}
        self.test_tuned = MetricCollection(tuned, prefix="test/").to(self.device)

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute(), sync_dist=True)
        self.test_metrics.reset()
        assert self.test_tuned is not None
        self.log_dict(self.test_tuned.compute(), sync_dist=True)
        self.log("test/threshold", self.threshold, sync_dist=True)
        self.test_tuned = None
