"""torchmetrics metrics that torchmetrics itself does not provide in the form the seeds
quote: the competition's per-image segmentation F-score and a per-class score table."""

from ocec_lightning.metrics.segmentation import FScore, SegmentationScores

__all__ = ["FScore", "SegmentationScores"]
