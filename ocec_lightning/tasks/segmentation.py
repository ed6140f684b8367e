"""Semantic segmentation (face parsing) as a LightningModule.

Same optimisation plumbing as classification (`BaseTask`); the model maps images to
logits [B, C, H, W] and the loss takes (logits, int64 masks [B, H, W]). Metrics:
`fscore` (per image, mean F1 over the classes present in its ground truth — the number
the source documents quote), macro F1 without background, mIoU, pixel accuracy, and
per-class F1 / IoU, logged every validation epoch and written to
`<run dir>/per_class_metrics.csv` (the latest epoch's table).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from torch import Tensor

from ocec_lightning.metrics.segmentation import FScore, SegmentationScores
from ocec_lightning.tasks.base import BaseTask


class SegmentationTask(BaseTask):
    """Train/validate/test a per-pixel classifier."""

    task_name = "segmentation"
    metric_names = ("loss", "fscore", "macro_f1", "miou", "pixel_accuracy")

    def __init__(self, num_classes: int = 11, ignore_index: int | None = 255, **base: Any) -> None:
        """`base`: BaseTask's arguments (model, loss, optimizer, scheduler, class_names, ...)."""
        super().__init__(**base)
        class_names = self.class_names
        self.num_classes, self.ignore_index = int(num_classes), ignore_index
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

    def update_metrics(self, logits: Tensor, targets: Tensor, stage: str) -> None:
        preds = logits.argmax(dim=1)
        self.fscore[stage].update(preds, targets)
        self.scores[stage].update(preds, targets)

    def _epoch_end(self, stage: str) -> None:
        fscore, scores = self.fscore[stage], self.scores[stage]
        summary = scores.compute()
        self.log(f"{stage}/fscore", fscore.compute(), prog_bar=True, sync_dist=True)
        metrics = {f"{stage}/{k}": summary[k] for k in ("macro_f1", "miou", "pixel_accuracy")}
        for name, f1 in zip(scores.class_names, summary["f1"], strict=True):
            metrics[f"{stage}_class/f1_{name}"] = f1
        self.log_dict(metrics, sync_dist=True)
        if not self.trainer.sanity_checking and self.trainer.is_global_zero:
            self._write_table(scores.table(), stage)
        fscore.reset()
        scores.reset()

    def _write_table(self, rows: list[tuple[str, float, float, int]], stage: str) -> None:
        out_dir = Path(self.trainer.default_root_dir or ".")
        out_dir.mkdir(parents=True, exist_ok=True)
        name = "per_class_metrics.csv" if stage == "val" else "per_class_metrics_test.csv"
        with open(out_dir / name, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", "class", "f1", "iou", "support_pixels"])
            writer.writerows(
                (self.current_epoch, c, f"{f:.4f}", f"{i:.4f}", s) for c, f, i, s in rows
            )

    def on_validation_epoch_end(self) -> None:
        self._epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._epoch_end("test")

    @classmethod
    def config_kwargs(cls, cfg: DictConfig) -> dict[str, Any]:
        return {
            "num_classes": int(cfg.task.num_classes),
            "ignore_index": cfg.task.get("ignore_index"),
        }

    def checkpoint_extras(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "ignore_index": self.ignore_index}
