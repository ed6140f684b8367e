"""The LightningModules, one per task, looked up by `task.name`."""

from ocec_lightning.tasks.classification import ClassificationTask

TASKS = {"classification": ClassificationTask}

__all__ = ["TASKS", "ClassificationTask"]
