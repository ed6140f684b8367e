"""The LightningModules, one per task, looked up by `task.name`."""

from ocec_lightning.tasks.base import BaseTask
from ocec_lightning.tasks.classification import ClassificationTask
from ocec_lightning.tasks.segmentation import SegmentationTask

TASKS: dict[str, type[BaseTask]] = {
    "classification": ClassificationTask,
    "segmentation": SegmentationTask,
}

__all__ = ["TASKS", "BaseTask", "ClassificationTask", "SegmentationTask"]
