"""`scheduler.warmup.interval: epoch`: a warmup held for each epoch (a per-epoch LambdaLR),
e.g. preset=aggressive's (epoch+1)/5, vs the default per-step ramp."""

import pytest
from omegaconf import OmegaConf
from schedule_helpers import WARMUP_NONE, sgd

from ocec_lightning.errors import ConfigError
from ocec_lightning.optim.lr_schedule import TrainingLength, build_lr_schedule

PLATEAU = "ocec_lightning.optim.schedulers.plateau.build"


def _plateau(**warmup: object) -> object:
    return OmegaConf.create(
        {
            "_target_": PLATEAU,
            "name": "plateau",
            "interval": "epoch",
            "monitor": "val/loss",
            "mode": "min",
            "factor": 0.5,
            "patience": 0,
            "warmup": {**WARMUP_NONE, **warmup},
        }
    )


def _epochs(schedule, epochs: int, steps: int, loss: float = 1.0) -> list[list[float]]:
    """LR of every step, per epoch, with a constant (never improving) val/loss."""
    out = []
    for _ in range(epochs):
        lrs = []
        for _ in range(steps):
            lrs.append(schedule.optimizer.param_groups[0]["lr"])
            schedule.step_optimizer()
        schedule.step_epoch({"val/loss": loss})
        out.append(lrs)
    return out


def test_epoch_interval_reproduces_the_aggressive_plans_epoch_plus_one_over_five() -> None:
    cfg = _plateau(epochs=4, start_factor=0.2, interval="epoch")
    schedule = build_lr_schedule(cfg, sgd(1.0), TrainingLength(total_steps=70, steps_per_epoch=7))
    per_epoch = _epochs(schedule, 7, 7)
    for epoch in range(5):  # LambdaLR(lambda e: (e + 1) / 5) stepped per epoch
        assert per_epoch[epoch] == pytest.approx([(epoch + 1) / 5] * 7)
    # The plateau's first value is epoch 4's (the first at the base LR); epoch 5 does not
    # improve on it, so with patience 0 epoch 6 trains at half the LR.
    assert per_epoch[5] == pytest.approx([1.0] * 7) and per_epoch[6] == pytest.approx([0.5] * 7)


def test_step_interval_ramps_within_each_epoch() -> None:
    cfg = _plateau(epochs=4, start_factor=0.2)
    schedule = build_lr_schedule(cfg, sgd(1.0), TrainingLength(total_steps=70, steps_per_epoch=7))
    first = _epochs(schedule, 1, 7)[0]
    assert first[0] == pytest.approx(0.2) and first[-1] == pytest.approx(0.2 + 0.8 * 6 / 28)


def test_epoch_interval_rounds_a_step_warmup_up_to_whole_epochs() -> None:
    cfg = _plateau(steps=10, start_factor=0.5, interval="epoch")
    schedule = build_lr_schedule(cfg, sgd(1.0), TrainingLength(total_steps=80, steps_per_epoch=8))
    assert schedule.warmup_steps == 16
    per_epoch = _epochs(schedule, 3, 8)
    assert per_epoch[0] == pytest.approx([0.5] * 8) and per_epoch[1] == pytest.approx([0.75] * 8)
    assert per_epoch[2] == pytest.approx([1.0] * 8)


def test_unknown_warmup_interval_names_the_key() -> None:
    with pytest.raises(ConfigError, match="scheduler.warmup.interval"):
        build_lr_schedule(_plateau(epochs=1, interval="batch"), sgd(1.0), TrainingLength(80, 8))
