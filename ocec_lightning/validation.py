"""`check_config(cfg)`: the rules that span config groups, in one pass before a run is built.

Each component checks its own arguments where it is defined (models, losses, the
optimizer and scheduler builders, callbacks, the trainer factory, the datamodule and its
sources); the instantiate wrapper names the config key. What is left here are the rules
no single component can see, checked together, before anything else is built or read:

- the aug preset has transforms for the task;
- the model and loss options belong to the task (a reference to `${task.num_classes}`
  under task=classification means the option is for segmentation);
- the monitored metrics (`task.monitor`, `scheduler.monitor`) are ones the task logs,
  and a loss is never maximised;
- the model's output fits the task and the loss (two blank images through both);
- the optimizer and warmup + scheduler build for the run's length (warmup shorter than
  `trainer.max_epochs`, eta_min below the LR, ...; the rules themselves live in
  `optim/`, run here once with the length the `trainer` config gives, and again in
  `configure_optimizers` with the real step count);
- a `ckpt_path` to resume from is a checkpoint of this task and model.
The last four need the task: `check_config` builds it once and returns it for the run.
`data.image_size` is checked first: the model, the task and the data source all read it.
The token grid vs image size rule lives with the model, which receives `data.image_size`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from ocec_lightning.checkpoints import check_checkpoint_fits, read_checkpoint_file
from ocec_lightning.checks import int_pair, is_int, one_of
from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.errors import ConfigError, OCECError
from ocec_lightning.optim.lr_schedule import TrainingLength

if TYPE_CHECKING:
    from ocec_lightning.tasks.base import BaseTask

# Suggested in messages when an option of the other task is chosen.
_DEFAULT_OPTION = {
    ("classification", "model"): "ocec",
    ("classification", "loss"): "bce",
    ("segmentation", "model"): "microsegformer",
    ("segmentation", "loss"): "ce_dice",
}
# Steps per epoch assumed before the data is read (only the epoch count is real then).
_PLACEHOLDER_STEPS_PER_EPOCH = 1000
# Lightning's ckpt_path names for a checkpoint of the run itself (resume in place).
LIGHTNING_CKPT_NAMES = ("last", "hpc", "registry")


def check_config(cfg: DictConfig) -> BaseTask:
    """Every rule between config groups (raises ConfigError naming the key of the first
    bad value); returns the task built for them, which the run then uses."""
    int_pair("data.image_size", cfg.data.image_size)  # before the model and source read it
    check_aug_fits_task(cfg)
    task = build_task(cfg)
    check_monitors(cfg, task)
    check_model_fits_task(cfg, task)
    trainer = cfg.get("trainer") or {}
    task.build_optimization(estimated_length(trainer), strict=not trainer.get("fast_dev_run"))
    check_ckpt_path(cfg, task)
    return task


def check_aug_fits_task(cfg: DictConfig) -> None:
    """The aug preset has a list of per-sample transforms for the task (the datamodule's
    `train_transforms: ${aug.<task>}`)."""
    task = str(cfg.task.name)
    if task not in cfg.aug:
        raise ConfigError(
            f"aug.{task}", None, f"a list of transforms for task '{task}' (or aug=none)"
        )


def check_options_fit_task(cfg: DictConfig) -> None:
    """`model` and `loss` resolve under this task (they may reference task-only keys)."""
    task = str(cfg.task.name)
    for group in ("model", "loss"):
        try:
            OmegaConf.to_container(cfg[group], resolve=True)
        except InterpolationResolutionError as err:
            default = _DEFAULT_OPTION.get((task, group), "...")
            raise ConfigError(
                group,
                cfg[group].get("_target_"),
                f"an option for task={task} (it needs {str(err).splitlines()[0]}); "
                f"e.g. {group}={default}",
            ) from None


def build_task(cfg: DictConfig) -> BaseTask:
    """The task's LightningModule from `task.module` (model and loss built inside, once),
    after checking that the model and loss options are this task's."""
    check_options_fit_task(cfg)
    task: BaseTask = instantiate(cfg.task.module, "task.module")
    return task


def logged_metrics(task: BaseTask) -> list[str]:
    """Metrics a monitor may follow: every validation metric and the training loss."""
    return [f"val/{name}" for name in task.metric_names] + ["train/loss"]


def better_direction(metric: str) -> str:
    """'min' for losses, 'max' for the scores every task logs (f1, fscore, miou, ...)."""
    return "min" if str(metric).endswith("loss") else "max"


def check_monitors(cfg: DictConfig, task: BaseTask) -> None:
    """`task.monitor` / `scheduler.monitor` are logged by the task and followed in the
    direction that is better for them (a loss is never maximised, a score never
    minimised). Runs before the callbacks that read them are built."""
    logged = logged_metrics(task)
    monitors = {"task": (cfg.task.monitor, cfg.task.get("monitor_mode"), "monitor_mode")}
    scheduler = cfg.get("scheduler")
    if scheduler is not None and scheduler.get("monitor") is not None:
        monitors["scheduler"] = (scheduler.monitor, scheduler.get("mode", "min"), "mode")
    for group, (monitor, mode, mode_key) in monitors.items():
        if str(monitor) not in logged:
            raise ConfigError(
                f"{group}.monitor", monitor, "a metric the task logs: " + ", ".join(logged)
            )
        one_of(f"{group}.{mode_key}", mode, ("min", "max"))
        if mode != better_direction(monitor):
            raise ConfigError(
                f"{group}.{mode_key}",
                mode,
                f"'{better_direction(monitor)}' for the monitor {monitor}",
            )


def check_model_fits_task(cfg: DictConfig, task: BaseTask) -> None:
    """Two blank images through the built model and loss: a model or loss written for the
    other task fails here, before any data is read, not deep inside the first step."""
    name = str(cfg.task.name)
    height, width = (int(v) for v in task.hparams.image_size)
    images = torch.zeros(2, int(cfg.model.get("in_channels", 3)), height, width)
    was_training = task.model.training
    task.model.eval()
    with torch.no_grad():
        logits = task.model(images)
    task.model.train(was_training)
    expected = task.expected_output_shape(2, height, width)
    if tuple(logits.shape) != expected:
        raise ConfigError(
            "model",
            cfg.model.get("_target_"),
            f"a model whose output for task={name} has shape {list(expected)} for 2 images "
            f"(this one gives {list(logits.shape)}); "
            f"e.g. model={_DEFAULT_OPTION.get((name, 'model'), '...')}",
        )
    loss = task.loss_fn
    if getattr(loss, "needs_class_frequencies", False):  # placeholders until setup()
        loss = copy.deepcopy(loss)
        loss.set_class_frequencies([1.0] * expected[1])
    try:
        value = loss(logits, task.example_targets(2, height, width))
    except OCECError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure means "wrong loss for this task"
        raise ConfigError(
            "loss",
            cfg.loss.get("_target_"),
            f"a loss for task={name}, e.g. loss={_DEFAULT_OPTION.get((name, 'loss'), '...')} "
            f"(this one fails on the task's outputs: {' '.join(str(err).split())[:160]})",
        ) from None
    if value.ndim != 0:
        raise ConfigError("loss", cfg.loss.get("_target_"), "a loss returning a scalar")


def estimated_length(trainer: Mapping[str, Any]) -> TrainingLength:
    """The run's length from the `trainer` config, before the data is read: real epochs,
    placeholder steps per epoch unless a batch count fixes them (`limit_train_batches`,
    `overfit_batches` or `fast_dev_run` as an integer; Lightning's own rules for each)."""
    fast = trainer.get("fast_dev_run") or 0
    limit = trainer.get("limit_train_batches")
    if fast:
        limit = 1 if fast is True else int(fast)
    elif trainer.get("overfit_batches"):
        limit = trainer["overfit_batches"]
    measured = is_int(limit)
    per_epoch = int(limit) if measured else _PLACEHOLDER_STEPS_PER_EPOCH
    per_epoch = max(1, -(-per_epoch // int(trainer.get("accumulate_grad_batches") or 1)))
    max_steps = int(trainer.get("max_steps") if trainer.get("max_steps") is not None else -1)
    max_epochs = 1 if fast else trainer.get("max_epochs")
    if max_epochs is None:  # Lightning: 1000 epochs unless max_steps / max_time bound the run
        max_epochs = 1000 if max_steps == -1 and trainer.get("max_time") is None else -1
    epochs = int(max_epochs) if int(max_epochs) > 0 else None
    total = per_epoch * epochs if epochs else max(1, max_steps)
    return TrainingLength(total_steps=total, steps_per_epoch=per_epoch, measured=measured)


def check_ckpt_path(cfg: DictConfig, task: BaseTask) -> None:
    """The `ckpt_path` to resume (or, with train=false, test) from is a readable ocec-train
    checkpoint of this task and model: a one-line error naming the file otherwise, before
    any data is read. Read with weights_only=True, as Lightning then reads it."""
    ckpt = cfg.get("ckpt_path")
    if not ckpt or str(ckpt) in LIGHTNING_CKPT_NAMES:
        return
    check_checkpoint_fits(read_checkpoint_file(str(ckpt), "ckpt_path"), str(ckpt), task)
