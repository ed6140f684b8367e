"""Optimizers and learning-rate schedules: `build_lr_schedule` turns the `scheduler`
config (an inner scheduler plus `warmup`) into one `LRSchedule` stepped by the task."""

from ocec_lightning.optim.lr_schedule import LRSchedule, build_lr_schedule

__all__ = ["LRSchedule", "build_lr_schedule"]
