"""The LightningModules, one per task; `conf/task/<name>.yaml` names its class under
`task.module._target_` (there is no registry to update when a task is added)."""

from ocec_lightning.tasks.base import BaseTask
from ocec_lightning.tasks.classification import ClassificationTask
from ocec_lightning.tasks.segmentation import SegmentationTask

__all__ = ["BaseTask", "ClassificationTask", "SegmentationTask"]
