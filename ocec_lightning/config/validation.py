"""Check a composed config before anything is built (SPEC §3, §12).

Each check names the key, the bad value and a valid alternative. `validate_config`
runs the static checks, builds the model (its constructor validates architecture
choices such as the token-mixer grid) and runs two blank images through model and loss
(a model or loss of the other task fails here). Rules that need the real number of
optimizer steps (a warmup given in steps or as a ratio) are checked where the schedule is
built, from the trainer's own step count (`optim.lr_schedule.build_lr_schedule`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.errors import ConfigError, OCECError
from ocec_lightning.losses.seg_ce import config_needs_class_frequencies

PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "bf16-true", "16-true", "64-true")


def _in_range(
    cfg: DictConfig,
    key: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> None:
    value = _get(cfg, key)
    if value is None:
        return
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, value, f"a number{hint}") from None
    below = number <= low if low_open else number < low
    above = number >= high if high_open else number > high
    if math.isnan(number) or below or above:
        lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
        raise ConfigError(key, value, f"a number in {lo}{low}, {high}{hi}{hint}")


def _get(cfg: DictConfig, key: str) -> Any:
    return OmegaConf.select(cfg, key, default=None)


def _one_of(cfg: DictConfig, key: str, choices: tuple[str, ...]) -> None:
    value = _get(cfg, key)
    if value is not None and str(value) not in choices:
        raise ConfigError(key, value, "one of " + ", ".join(choices))


def check_trainer(cfg: DictConfig) -> None:
    if _get(cfg, "trainer.max_epochs") != -1:  # -1 = unlimited (bounded by max_steps)
        _in_range(cfg, "trainer.max_epochs", 1, 1e6, hint=" (epochs to train)")
    _in_range(cfg, "trainer.accumulate_grad_batches", 1, 1e4)
    _in_range(cfg, "trainer.gradient_clip_val", 0, 1e6, low_open=True, hint=" or null")
    _one_of(cfg, "trainer.precision", PRECISIONS)
    accelerator = str(_get(cfg, "trainer.accelerator") or "auto")
    if _get(cfg, "trainer.sync_batchnorm") and accelerator == "cpu":
        raise ConfigError(
            "trainer.sync_batchnorm", True, "false on CPU (SyncBatchNorm needs CUDA GPUs)"
        )
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "trainer.accelerator", accelerator, "a visible CUDA GPU; none found: use trainer=cpu"
        )


def check_optimizer(cfg: DictConfig) -> None:
    _in_range(cfg, "optimizer.lr", 0, 10, low_open=True, hint=", e.g. 1e-3")
    _in_range(cfg, "optimizer.weight_decay", 0, 1, hint=", e.g. 1e-4")
    _in_range(cfg, "optimizer.eps", 0, 1, low_open=True)
    _in_range(cfg, "optimizer.momentum", 0, 1, high_open=True)
    betas = _get(cfg, "optimizer.betas")
    if betas is not None and (len(betas) != 2 or not all(0 <= float(b) < 1 for b in betas)):
        raise ConfigError(
            "optimizer.betas", list(betas), "two numbers in [0, 1), e.g. [0.9, 0.999]"
        )
    _in_range(
        cfg,
        "optimizer.layer_decay",
        0,
        1,
        low_open=True,
        high_open=True,
        hint=" or null, e.g. 0.75",
    )
    _in_range(cfg, "optimizer.base_batch_size", 1, 1e9, hint=" or null")
    name = _get(cfg, "optimizer.opt")
    if name is not None and str(_get(cfg, "optimizer._target_")).startswith("timm."):
        from timm.optim import list_optimizers

        known = list_optimizers()
        if str(name).lower() not in known:
            close = difflib.get_close_matches(str(name).lower(), known, n=5)
            raise ConfigError(
                "optimizer.opt",
                name,
                "a timm optimizer name, e.g. " + ", ".join(close or known[:5]),
            )
    if _get(cfg, "optimizer.nesterov") and not _get(cfg, "optimizer.momentum"):
        raise ConfigError(
            "optimizer.nesterov",
            True,
            "momentum > 0 (e.g. optimizer.momentum=0.9) or nesterov=false",
        )


def check_scheduler(cfg: DictConfig) -> None:
    if _get(cfg, "scheduler") is None:
        return
    _one_of(cfg, "scheduler.interval", ("step", "epoch"))
    _in_range(cfg, "scheduler.factor", 0, 1, low_open=True, high_open=True, hint=", e.g. 0.5")
    _in_range(cfg, "scheduler.patience", 0, 1e6)
    _in_range(cfg, "scheduler.cooldown", 0, 1e6)
    _in_range(cfg, "scheduler.min_lr", 0, 10)
    _in_range(cfg, "scheduler.T_max", 1, 1e9, hint=" or null (= rest of the run)")
    _one_of(cfg, "scheduler.mode", ("min", "max"))
    lr = float(_get(cfg, "optimizer.lr") or 0)
    eta_min = _get(cfg, "scheduler.eta_min")
    if eta_min is not None and lr and float(eta_min) >= lr:
        raise ConfigError("scheduler.eta_min", eta_min, f"a value below optimizer.lr={lr}")
    warmup = _get(cfg, "scheduler.warmup") or {}
    _in_range(cfg, "scheduler.warmup.epochs", 0, 1e6)
    _in_range(cfg, "scheduler.warmup.steps", 0, 1e9)
    _in_range(cfg, "scheduler.warmup.ratio", 0, 1, high_open=True)
    _in_range(cfg, "scheduler.warmup.start_factor", 0, 1, low_open=True)
    _one_of(cfg, "scheduler.warmup.mode", ("linear", "cosine"))
    start_lr = warmup.get("start_lr")
    if start_lr is not None and lr and not 0 < float(start_lr) <= lr:
        raise ConfigError(
            "scheduler.warmup.start_lr", start_lr, f"a value in (0, optimizer.lr={lr}]"
        )
    set_lengths = [k for k in ("epochs", "steps", "ratio") if warmup.get(k)]
    if len(set_lengths) > 1:
        raise ConfigError(
            "scheduler.warmup",
            {k: warmup[k] for k in set_lengths},
            "only one of warmup.epochs, warmup.steps, warmup.ratio (set the others to 0)",
        )
    epochs = _get(cfg, "scheduler.warmup.epochs") or 0
    max_epochs = _get(cfg, "trainer.max_epochs") or -1
    if epochs and max_epochs > 0 and epochs >= max_epochs:
        raise ConfigError(
            "scheduler.warmup.epochs",
            epochs,
            f"fewer than trainer.max_epochs={max_epochs}, e.g. {max(1, max_epochs // 10)}",
        )
    if "monitor" in cfg.scheduler and cfg.scheduler.monitor is not None:
        _check_monitor(cfg, "scheduler.monitor", str(cfg.scheduler.monitor))
        if str(_get(cfg, "scheduler.interval")) == "step":
            raise ConfigError(
                "scheduler.interval", "step", "'epoch' for a metric-driven (plateau) scheduler"
            )


def _check_monitor(cfg: DictConfig, key: str, monitor: str) -> None:
    from ocec_lightning.tasks import TASKS  # local: tasks import torch-heavy modules

    task = TASKS.get(str(cfg.task.name))
    if task is None:
        return
    logged = [f"{stage}/{name}" for stage in ("val", "train") for name in task.metric_names]
    logged = [m for m in logged if m.startswith("val/") or m == "train/loss"]
    if monitor not in logged:
        raise ConfigError(key, monitor, "a metric the task logs: " + ", ".join(logged))


def check_task(cfg: DictConfig) -> None:
    from ocec_lightning.tasks import TASKS

    if str(cfg.task.name) not in TASKS:
        raise ConfigError("task.name", cfg.task.name, "one of " + ", ".join(TASKS))
    _check_monitor(cfg, "task.monitor", str(cfg.task.monitor))
    _one_of(cfg, "task.monitor_mode", ("min", "max"))
    mode, monitor = str(cfg.task.monitor_mode), str(cfg.task.monitor)
    if monitor.endswith("loss") and mode == "max":
        raise ConfigError("task.monitor_mode", mode, f"'min' for the loss monitor {monitor}")


def check_loss(cfg: DictConfig) -> None:
    _in_range(cfg, "loss.label_smoothing", 0, 0.5, high_open=True)
    _in_range(cfg, "loss.smoothing", 0, 1, high_open=True)
    _in_range(cfg, "loss.gamma", 0, 10)
    _in_range(cfg, "loss.alpha", 0, 1)
    weight = _get(cfg, "loss.pos_weight")
    if isinstance(weight, str) and weight != "auto":
        raise ConfigError("loss.pos_weight", weight, "'auto', a positive number or null")
    if weight is not None and not isinstance(weight, str):
        _in_range(cfg, "loss.pos_weight", 0, 1e6, low_open=True)


def check_data(cfg: DictConfig) -> None:
    size = _get(cfg, "data.image_size")
    if size is None or len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        raise ConfigError(
            "data.image_size",
            size if size is None else list(size),
            "[height, width], e.g. [32, 64]",
        )
    _in_range(cfg, "data.batch_size", 1, 1e7)
    _in_range(cfg, "data.num_workers", 0, 1024)
    _in_range(cfg, "callbacks.ema.decay", 0, 1, low_open=True, high_open=True, hint=", e.g. 0.999")
    _in_range(cfg, "callbacks.early_stopping.patience", 0, 1e6)


def _dummy_targets(cfg: DictConfig, height: int, width: int) -> torch.Tensor:
    if str(cfg.task.name) == "segmentation":
        return torch.zeros(2, height, width, dtype=torch.long)
    return torch.tensor([0.0, 1.0])


def check_model_and_loss(cfg: DictConfig) -> None:
    """Build the model (its constructor rejects impossible architectures), then run two
    blank images through it and the loss: a model or loss written for the other task
    fails here, before any data is read, instead of deep inside the first step."""
    task = str(cfg.task.name)
    model_cfg = _resolved(cfg, "model", _DEFAULT_MODEL[task])
    model = instantiate(model_cfg, "model")
    height, width = (int(v) for v in cfg.data.image_size)
    images = torch.zeros(2, int(cfg.model.get("in_channels", 3)), height, width)
    model.eval()
    with torch.no_grad():
        logits = model(images)
    expected = (2, int(cfg.task.num_classes), height, width) if task == "segmentation" else (2,)
    if tuple(logits.shape) != expected:
        raise ConfigError(
            "model",
            cfg.model.get("_target_"),
            f"a model whose output for task={task} has shape {list(expected)} for 2 images "
            f"(this one gives {list(logits.shape)}); e.g. model={_DEFAULT_MODEL[task]}",
        )
    loss_cfg = _resolved(cfg, "loss", _DEFAULT_LOSS[task])
    if loss_cfg.get("pos_weight") == "auto":
        loss_cfg["pos_weight"] = 1.0  # placeholders for values the training data provides
    if config_needs_class_frequencies(loss_cfg):
        loss_cfg["class_frequencies"] = [1.0] * int(cfg.task.num_classes)
    loss = instantiate(loss_cfg, "loss")
    try:
        value = loss(logits, _dummy_targets(cfg, height, width))
    except OCECError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure means "wrong loss for this task"
        raise ConfigError(
            "loss",
            loss_cfg.get("_target_"),
            f"a loss for task={task}, e.g. loss={_DEFAULT_LOSS[task]} "
            f"(this one fails on the task's outputs: {' '.join(str(err).split())[:160]})",
        ) from None
    if value.ndim != 0:
        raise ConfigError("loss", loss_cfg.get("_target_"), "a loss returning a scalar")


def _resolved(cfg: DictConfig, group: str, default: str) -> dict[str, Any]:
    """The group's config as a plain dict; a reference to a key this task lacks (e.g.
    ${task.num_classes} under task=classification) means the option is for another task."""
    try:
        node = OmegaConf.to_container(cfg[group], resolve=True)
    except InterpolationResolutionError as err:
        raise ConfigError(
            group,
            cfg[group].get("_target_"),
            f"an option for task={cfg.task.name} (it needs {err.msg.split(chr(10))[0]}); "
            f"e.g. {group}={default}",
        ) from None
    assert isinstance(node, dict)
    return node


_DEFAULT_MODEL = {"classification": "ocec", "segmentation": "microsegformer"}
_DEFAULT_LOSS = {"classification": "bce", "segmentation": "ce_dice"}


CHECKS: tuple[Callable[[DictConfig], None], ...] = (
    check_task,
    check_trainer,
    check_optimizer,
    check_scheduler,
    check_loss,
    check_data,
    check_model_and_loss,
)


def validate_config(cfg: DictConfig) -> None:
    """Raise ConfigError for the first problem found in the composed config."""
    for check in CHECKS:
        check(cfg)
