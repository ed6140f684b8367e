"""Semantic segmentation (face parsing) as a LightningModule.

Same optimisation plumbing as classification (`BaseTask`); the model maps images to
logits [B, C, H, W] and the loss takes (logits, int64 masks [B, H, W]). Metrics:
`fscore` (per image, mean F1 over the classes present in its ground truth — the number
the source documents quote), macro F1 without background, mIoU, pixel accuracy, and
per-class F1 (`val/class_f1/<class>`), logged every validation epoch; every key starts
with its stage (`val/`, `test/`). The latest per-class table (F1, IoU, support) of each
stage is kept in `class_tables` for the `PerClassMetricsTable` callback to write.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ocec_lightning.data.masks import check_segmentation_task
from ocec_lightning.metrics.segmentation import FScore, SegmentationScores
from ocec_lightning.tasks.base import BaseTask


class SegmentationTask(BaseTask):
    """Train/validate/test a per-pixel classifier."""

    metric_names = ("loss", "fscore", "macro_f1", "miou", "pixel_accuracy")

    def __init__(
        self,
        num_classes: int = 11,
        ignore_index: int | None = 255,
        palette: list[list[int]] | None = None,
        **base: Any,
    ) -> None:
        """`base`: BaseTask's arguments (model, loss, optimizer, scheduler, class_names, ...);
        `palette`: an RGB colour per class id, for overlays made from the checkpoint."""
        super().__init__(
            **base, num_classes=int(num_classes), ignore_index=ignore_index, palette=palette
        )
        class_names = self.class_names
        self.num_classes, self.ignore_index = check_segmentation_task(
            class_names, num_classes, ignore_index
        )
        self.fscore = {
            stage: FScore(num_classes, ignore_index=ignore_index) for stage in ("val", "test")
        }
        self.scores = {
            stage: SegmentationScores(
                num_classes, ignore_index=ignore_index, class_names=class_names or None
            )
            for stage in ("val", "test")
        }
        # Registered as modules so they follow the device and sync under DDP.
        self.val_fscore, self.test_fscore = self.fscore["val"], self.fscore["test"]
        self.val_scores, self.test_scores = self.scores["val"], self.scores["test"]
        # (epoch, rows) of the latest finished epoch per stage: class, f1, iou, support.
        self.class_tables: dict[str, tuple[int, list[tuple[str, float, float, int]]]] = {}

    def example_targets(self, batch: int, height: int, width: int) -> Tensor:
        return torch.zeros(batch, height, width, dtype=torch.long)

    def expected_output_shape(self, batch: int, height: int, width: int) -> tuple[int, ...]:
        return (batch, self.num_classes, height, width)

    def update_metrics(self, logits: Tensor, targets: Tensor, stage: str) -> None:
        preds = logits.argmax(dim=1)
        self.fscore[stage].update(preds, targets)
        self.scores[stage].update(preds, targets)

    def _epoch_end(self, stage: str) -> None:
        fscore, scores = self.fscore[stage], self.scores[stage]
        summary = scores.compute()
        self.log(f"{stage}/fscore", fscore.compute(), prog_bar=True, sync_dist=True)
        metrics = {f"{stage}/{k}": summary[k] for k in ("macro_f1", "miou", "pixel_accuracy")}
        # Every key under `{stage}/`: the curve readers tell the post-fit test row from
        # the training epochs by that prefix (a `test_class/...` key made it look like an
        # epoch of its own, with no train loss).
        for name, f1 in zip(scores.class_names, summary["f1"], strict=True):
            metrics[f"{stage}/class_f1/{name}"] = f1
        self.log_dict(metrics, sync_dist=True)
        if not self.trainer.sanity_checking:
            self.class_tables[stage] = (self.current_epoch, scores.table())
        fscore.reset()
        scores.reset()

    def on_validation_epoch_end(self) -> None:
        self._epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._epoch_end("test")
