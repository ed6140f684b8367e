"""Segmentation metrics (torchmetrics ``Metric`` subclasses, DDP-safe sum-reduced states).

- ``FScore``: the CE7454 competition F-score the seeds quote. For each image, for each
  class present in that image's ground truth, F1 = 2TP / (2TP + FP + FN) from pixel
  counts; the image scores the mean over those classes; the metric is the mean over
  images. Classes predicted but absent from the ground truth are ignored, which is why
  this is not torchmetrics' macro F1 (macro averaging would count them as F1 0).
  Images whose pixels are all ``ignore_index`` have no classes to score and are skipped.
- ``SegmentationScores``: one dataset-level confusion matrix, from which per-class F1
  and IoU, LaPa-style macro F1 without background, mIoU and a per-class table follow.

Both accept class-index maps ``[B, H, W]`` or logits ``[B, C, H, W]`` (argmax is taken)
with an int target ``[B, H, W]``; ``ignore_index`` pixels count nowhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torchmetrics import Metric

from ocec_lightning.checks import int_at_least

__all__ = ["FScore", "SegmentationScores", "confusion_counts"]


def confusion_counts(
    preds: Tensor, target: Tensor, num_classes: int, ignore_index: int | None = 255
) -> Tensor:
    """Per-image confusion matrices ``[B, C, C]`` (rows = target, columns = prediction).

    ``preds`` are class indices ``[B, H, W]`` or logits ``[B, C, H, W]``.
    """
    if preds.ndim == target.ndim + 1:
        preds = preds.argmax(dim=1)
    if preds.shape != target.shape:
        raise ValueError(f"preds {tuple(preds.shape)} and target {tuple(target.shape)} differ")
    preds, target = preds.long(), target.long()
    batch = target.shape[0]
    preds, target = preds.reshape(batch, -1), target.reshape(batch, -1)
    valid = torch.ones_like(target, dtype=torch.bool)
    if ignore_index is not None:
        valid = target != ignore_index
    out_of_range = (((target < 0) | (target >= num_classes)) & valid) | (
        (preds < 0) | (preds >= num_classes)
    )
    if bool(out_of_range.any()):
        raise ValueError(
            f"class ids must lie in [0, {num_classes}) (or equal ignore_index={ignore_index})"
        )
    image = torch.arange(batch, device=target.device).unsqueeze(1).expand_as(target)
    # One bincount over (image, target, pred) triples is the whole confusion tensor.
    index = (image * num_classes + target) * num_classes + preds
    counts = torch.bincount(index[valid], minlength=batch * num_classes * num_classes)
    return counts.reshape(batch, num_classes, num_classes)


def _f1_iou(confusion: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(f1, iou, target pixels, predicted pixels) per class over the last two axes;
    a class with no target and no predicted pixel gets F1 = IoU = 0."""
    # float64 keeps pixel counts above 2^24 exact; MPS has no float64.
    dtype = torch.float32 if confusion.device.type == "mps" else torch.float64
    tp = confusion.diagonal(dim1=-2, dim2=-1).to(dtype)
    support = confusion.sum(dim=-1).to(dtype)
    predicted = confusion.sum(dim=-2).to(dtype)
    # 2TP + FP + FN = target pixels + predicted pixels.
    f1 = torch.where(support + predicted > 0, 2 * tp / (support + predicted).clamp_min(1), 0.0)
    union = support + predicted - tp
    iou = torch.where(union > 0, tp / union.clamp_min(1), 0.0)
    return f1, iou, support, predicted


class FScore(Metric):
    """Mean over images of the mean F1 over the classes present in each image's target."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, num_classes: int, ignore_index: int | None = 255, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes = int_at_least("num_classes", num_classes, 1)
        self.ignore_index = ignore_index
        # float32 (MPS has no float64) is plenty: one addition per batch, values in [0, B].
        self.add_state("score_sum", torch.tensor(0.0), dist_reduce_fx="sum")
        self.add_state("num_images", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add the per-image scores of one batch."""
        confusion = confusion_counts(preds, target, self.num_classes, self.ignore_index)
        f1, _, support, _ = _f1_iou(confusion)
        present = support > 0
        count = present.sum(dim=1)
        scored = count > 0
        per_image = (f1 * present).sum(dim=1)[scored] / count[scored]
        self.score_sum += per_image.sum().to(self.score_sum.dtype)
        self.num_images += scored.sum()

    def compute(self) -> Tensor:
        """The F-score (float32); 0 before any image with a scorable pixel."""
        return self.score_sum / self.num_images.clamp_min(1)


class SegmentationScores(Metric):
    """Dataset-level per-class F1 / IoU, macro F1 without background, mIoU and a table.

    ``compute()`` returns a dict:
    - ``f1``, ``iou`` (``[C]``): per class from the summed confusion matrix; 0 for a class
      neither in the target nor predicted;
    - ``support`` (``[C]``): target pixels per class;
    - ``macro_f1``: mean F1 over classes 1..C-1 with support (background excluded, as in
      LaPa-style evaluations);
    - ``miou``: mean IoU over classes present in the target or the prediction (a class
      predicted but absent counts with IoU 0; one in neither is left out);
    - ``pixel_accuracy``: correct / valid pixels.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(
        self,
        num_classes: int,
        ignore_index: int | None = 255,
        class_names: Sequence[str] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.num_classes = int_at_least("num_classes", num_classes, 1)
        self.ignore_index = ignore_index
        # One name per class id: the task checks that (data.masks.check_segmentation_task).
        names = [str(n) for n in class_names] if class_names is not None else None
        self.class_names = names or [f"class_{i}" for i in range(self.num_classes)]
        # long counts: exact, and sum-reduced across DDP processes.
        zeros = torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)
        self.add_state("confusion", zeros, dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add one batch's pixels to the confusion matrix."""
        confusion = confusion_counts(preds, target, self.num_classes, self.ignore_index)
        self.confusion += confusion.sum(dim=0)

    def compute(self) -> dict[str, Tensor]:
        f1, iou, support, predicted = _f1_iou(self.confusion)
        with_support = support > 0
        foreground = with_support.clone()
        foreground[0] = False
        seen = with_support | (predicted > 0)
        total = support.sum()
        return {
            "f1": f1.float(),
            "iou": iou.float(),
            "support": support.long(),
            "macro_f1": _masked_mean(f1, foreground),
            "miou": _masked_mean(iou, seen),
            "pixel_accuracy": (self.confusion.diagonal().sum() / total.clamp_min(1)).float(),
        }

    def table(self) -> list[tuple[str, float, float, int]]:
        """Rows ``(class_name, f1, iou, support_pixels)``, one per class, in class order."""
        scores = self.compute()
        return [
            (name, float(f), float(i), int(s))
            for name, f, i, s in zip(
                self.class_names, scores["f1"], scores["iou"], scores["support"], strict=True
            )
        ]


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` where ``mask`` (float32); 0 when the mask is empty."""
    return ((values * mask).sum() / mask.sum().clamp_min(1)).float()
