"""LR sequences of warmup + scheduler, checked numerically step by step."""

import math

import pytest
from omegaconf import OmegaConf
from schedule_helpers import WARMUP_NONE, sgd

from ocec_lightning.errors import ConfigError
from ocec_lightning.optim.lr_schedule import TrainingLength, build_lr_schedule


def _cfg(name: str, target: str, interval: str, warmup: dict | None = None, **params) -> object:
    return OmegaConf.create(
        {
            "_target_": target,
            "name": name,
            "interval": interval,
            "warmup": {**WARMUP_NONE, **(warmup or {})},
            **params,
        }
    )


def _run_steps(schedule, n: int) -> list[float]:
    """LR used by optimizer steps 0..n-1."""
    lrs = []
    for _ in range(n):
        lrs.append(schedule.optimizer.param_groups[0]["lr"])
        schedule.step_optimizer()
    return lrs


def test_linear_warmup_reaches_base_exactly_at_its_end_then_cosine() -> None:
    cfg = _cfg(
        "cosine",
        "ocec_lightning.optim.schedulers.cosine.build",
        "step",
        {"steps": 10},
        T_max=None,
        eta_min=0.0,
    )
    schedule = build_lr_schedule(cfg, sgd(1.0), TrainingLength(total_steps=110, steps_per_epoch=11))
    lrs = _run_steps(schedule, 110)
    for k in range(10):
        assert lrs[k] == pytest.approx(0.1 + 0.9 * k / 10)
    assert lrs[9] < 1.0 and lrs[10] == pytest.approx(1.0, abs=1e-12)
    # T_max defaults to the training length minus warmup (100 steps).
    assert schedule.inner.T_max == 100
    for k in range(10, 110):
        assert lrs[k] == pytest.approx(0.5 * (1 + math.cos(math.pi * (k - 10) / 100)), abs=1e-9)


def test_start_lr_and_cosine_warmup_shape() -> None:
    cfg = _cfg(
        "none",
        "ocec_lightning.optim.schedulers.constant.build",
        "step",
        {"steps": 4, "start_lr": 1e-5, "mode": "cosine"},
    )
    schedule = build_lr_schedule(cfg, sgd(5e-4), TrainingLength(total_steps=20, steps_per_epoch=5))
    lrs = _run_steps(schedule, 20)
    assert lrs[0] == pytest.approx(1e-5)
    f = 1e-5 / 5e-4
    assert lrs[2] == pytest.approx(5e-4 * (f + (1 - f) * 0.5))
    assert lrs[4:] == pytest.approx([5e-4] * 16)


def test_epoch_warmup_and_ratio_lengths() -> None:
    length = TrainingLength(total_steps=100, steps_per_epoch=10)
    by_epochs = _cfg(
        "none", "ocec_lightning.optim.schedulers.constant.build", "step", {"epochs": 3}
    )
    by_ratio = _cfg(
        "none", "ocec_lightning.optim.schedulers.constant.build", "step", {"ratio": 0.25}
    )
    assert build_lr_schedule(by_epochs, sgd(), length).warmup_steps == 30
    assert build_lr_schedule(by_ratio, sgd(), length).warmup_steps == 25


def test_plateau_behind_warmup_reduces_only_after_warmup() -> None:
    cfg = _cfg(
        "plateau",
        "ocec_lightning.optim.schedulers.plateau.build",
        "epoch",
        {"epochs": 2},
        monitor="val/loss",
        mode="min",
        factor=0.5,
        patience=0,
        threshold=0.0,
        min_lr=0.0,
    )
    schedule = build_lr_schedule(cfg, sgd(1.0), TrainingLength(total_steps=50, steps_per_epoch=5))
    epoch_end_lrs = []
    for _epoch in range(6):
        _run_steps(schedule, 5)
        schedule.step_epoch({"val/loss": 1.0})  # never improves
        epoch_end_lrs.append(schedule.optimizer.param_groups[0]["lr"])
    # Epochs 0-1 are warmup: not observed. Epoch 2 (first at base LR) sets the best value,
    # epochs 3+ are bad epochs and halve the LR (patience 0).
    assert epoch_end_lrs == pytest.approx([0.1 + 0.9 * 5 / 10, 1.0, 1.0, 0.5, 0.25, 0.125])


def test_plateau_without_metric_does_not_step() -> None:
    cfg = _cfg(
        "plateau",
        "ocec_lightning.optim.schedulers.plateau.build",
        "epoch",
        monitor="val/loss",
        patience=0,
        factor=0.5,
    )
    schedule = build_lr_schedule(cfg, sgd(1.0), TrainingLength(total_steps=50, steps_per_epoch=5))
    schedule.step_epoch({})
    assert schedule.inner.num_bad_epochs == 0 and schedule.epochs_after_warmup == 0


def test_epoch_scheduler_starts_with_the_first_epoch_after_warmup() -> None:
    cfg = _cfg(
        "cosine",
        "ocec_lightning.optim.schedulers.cosine.build",
        "epoch",
        {"epochs": 2},
        T_max=None,
        eta_min=0.0,
    )
    schedule = build_lr_schedule(cfg, sgd(1.0), TrainingLength(total_steps=40, steps_per_epoch=4))
    assert schedule.inner.T_max == 8  # 10 epochs - 2 warmup
    firsts = []
    for _ in range(10):
        firsts.append(_run_steps(schedule, 4)[0])
        schedule.step_epoch({})
    assert firsts[2] == 1.0  # the base LR is used for a whole epoch, not skipped
    assert firsts[3] == pytest.approx(0.5 * (1 + math.cos(math.pi / 8)))


def test_epoch_interval_cosine_steps_once_per_epoch() -> None:
    cfg = _cfg(
        "cosine", "ocec_lightning.optim.schedulers.cosine.build", "epoch", T_max=None, eta_min=0.0
    )
    schedule = build_lr_schedule(cfg, sgd(1.0), TrainingLength(total_steps=40, steps_per_epoch=4))
    assert schedule.inner.T_max == 10
    lrs = []
    for _ in range(10):
        assert len(set(_run_steps(schedule, 4))) == 1  # constant inside an epoch
        lrs.append(schedule.optimizer.param_groups[0]["lr"])
        schedule.step_epoch({})
    assert lrs[0] == 1.0 and lrs[5] == pytest.approx(0.5)


def test_warmup_longer_than_training_is_rejected() -> None:
    cfg = _cfg("none", "ocec_lightning.optim.schedulers.constant.build", "step", {"epochs": 10})
    with pytest.raises(ConfigError, match="scheduler.warmup.epochs.*shorter than the run"):
        build_lr_schedule(cfg, sgd(), TrainingLength(total_steps=50, steps_per_epoch=5))


def test_two_warmup_lengths_are_rejected() -> None:
    cfg = _cfg(
        "none", "ocec_lightning.optim.schedulers.constant.build", "step", {"epochs": 1, "steps": 3}
    )
    with pytest.raises(ConfigError, match="only one of"):
        build_lr_schedule(cfg, sgd(), TrainingLength(total_steps=50, steps_per_epoch=5))


def test_state_dict_round_trip_continues_the_same_sequence() -> None:
    cfg = _cfg(
        "cosine",
        "ocec_lightning.optim.schedulers.cosine.build",
        "step",
        {"steps": 5},
        T_max=None,
        eta_min=0.0,
    )
    length = TrainingLength(total_steps=30, steps_per_epoch=6)
    full = build_lr_schedule(cfg, sgd(), length)
    reference = _run_steps(full, 30)
    first = build_lr_schedule(cfg, sgd(), length)
    _run_steps(first, 12)
    opt2 = sgd()
    opt2.load_state_dict(first.optimizer.state_dict())
    resumed = build_lr_schedule(cfg, opt2, length)
    resumed.load_state_dict(first.state_dict())
    opt2.param_groups[0]["lr"] = first.optimizer.param_groups[0]["lr"]
    assert _run_steps(resumed, 18) == pytest.approx(reference[12:])
