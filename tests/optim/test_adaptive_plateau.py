"""adaptive_plateau (the adaptive-LR scheme of a DECODE rewrite) on synthetic loss
sequences: stagnation boost, once-per-plateau decay, ReduceLROnPlateau parity, bounds,
logging, resume and warmup."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from schedule_helpers import sgd

from ocec_lightning.errors import ConfigError
from ocec_lightning.optim.lr_schedule import TrainingLength, build_lr_schedule
from ocec_lightning.optim.schedulers.adaptive_plateau import (
    AdaptivePlateau,
    build,
    least_squares_slope,
    population_variance,
)

# Settings that switch one rule off: a window that never fills, a plateau never that long.
NO_BOOST = {"window": 10**6}
NO_DECAY = {"long_plateau_epochs": 10**6}
NO_REDUCE = {"patience": 10**6}


def _scheduler(lr: float = 1.0, **params: object) -> AdaptivePlateau:
    return build(sgd(lr), horizon=100, **params)


def _feed(scheduler: AdaptivePlateau, values: list[float]) -> list[float]:
    """LR after each observed epoch."""
    lrs = []
    for value in values:
        scheduler.step(value)
        lrs.append(scheduler.get_last_lr()[0])
    return lrs


def _reasons(scheduler: AdaptivePlateau) -> list[tuple[int, str]]:
    return [(e["epoch"], e["reason"]) for e in scheduler.events]


def test_flat_loss_boosts_after_stagnation_patience_and_logs_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = _scheduler(window=5, stagnation_patience=3, **NO_DECAY, **NO_REDUCE)
    with caplog.at_level(logging.INFO, logger="ocec_lightning.optim"):
        lrs = _feed(scheduler, [4.25] * 10)
    # Epoch 0 improves on +inf; the window is full at epoch 4, so epochs 4, 5, 6 are the
    # three stagnant epochs; the count restarts after the boost: 7, 8, 9.
    assert _reasons(scheduler) == [(6, "stagnation_boost"), (9, "stagnation_boost")]
    assert lrs == pytest.approx([1.0] * 6 + [1.5] * 3 + [2.25])
    event = scheduler.events[0]
    assert event["old_lr"] == 1.0 and event["new_lr"] == pytest.approx(1.5)
    assert "3 stagnant epochs" in event["detail"] and "variance of last 5 = 0" in event["detail"]
    records = [r for r in caplog.records if r.name == "ocec_lightning.optim"]
    assert len(records) == 2 and records[0].levelno == logging.INFO
    assert "stagnation_boost" in records[0].getMessage() and "1 -> 1.5" in records[0].getMessage()


def test_scheme_defaults_on_a_flat_loss() -> None:
    scheduler = _scheduler()
    _feed(scheduler, [4.25] * 60)
    # Window of 20 full at epoch 19 → boosts at 23, 28; decay once at 31 (> 30 epochs
    # without improvement), which restarts the stagnant count; plateau reduce at 51 (> 50).
    assert _reasons(scheduler) == [
        (23, "stagnation_boost"),
        (28, "stagnation_boost"),
        (31, "long_plateau_decay"),
        (36, "stagnation_boost"),
        (41, "stagnation_boost"),
        (46, "stagnation_boost"),
        (51, "plateau_reduce"),
        (56, "stagnation_boost"),
    ]


def test_slowly_decreasing_loss_does_not_boost() -> None:
    values = [2.0 - 1e-4 * t for t in range(80)]  # 0.005 %/epoch: below `threshold`
    scheduler = _scheduler(**NO_DECAY, **NO_REDUCE)
    lrs = _feed(scheduler, values)
    assert population_variance(values[-10:]) < 0.001  # flat enough, but trending down
    assert least_squares_slope(values[-20:]) < 0
    assert scheduler.events == [] and lrs == [1.0] * 80


def test_a_rising_low_variance_loss_counts_as_stagnant() -> None:
    scheduler = _scheduler(window=4, stagnation_patience=2, **NO_DECAY, **NO_REDUCE)
    _feed(scheduler, [1.0 + 1e-3 * t for t in range(6)])
    assert _reasons(scheduler) == [(4, "stagnation_boost")]


def test_long_plateau_decays_once_per_plateau() -> None:
    scheduler = _scheduler(long_plateau_epochs=3, decay_factor=0.5, **NO_BOOST, **NO_REDUCE)
    # Plateau 1: epochs 1-10 never beat 1.0; improvement at 11; plateau 2 from epoch 12.
    lrs = _feed(scheduler, [1.0] + [1.0] * 10 + [0.5] + [0.6] * 10)
    assert _reasons(scheduler) == [(4, "long_plateau_decay"), (15, "long_plateau_decay")]
    assert lrs == pytest.approx([1.0] * 4 + [0.5] * 11 + [0.25] * 7)
    assert "4 epochs without improvement > long_plateau_epochs 3" in scheduler.events[0]["detail"]


@pytest.mark.parametrize("cooldown", [0, 2])
def test_plateau_reduce_matches_reduce_lr_on_plateau(cooldown: int) -> None:
    values = [1.0, 0.9, 0.95, 0.93, 0.92, 0.8, 0.85, 0.81, 0.82, 0.83, 0.84, 0.7] + [0.75] * 20
    settings = {"factor": 0.5, "patience": 2, "threshold": 1e-4, "cooldown": cooldown}
    ours = _scheduler(min_lr=0.05, **settings, **NO_BOOST, **NO_DECAY)
    reference_opt = sgd()
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(reference_opt, min_lr=0.05, **settings)
    expected = []
    for value in values:
        reference.step(value)
        expected.append(reference_opt.param_groups[0]["lr"])
    assert _feed(ours, values) == pytest.approx(expected)
    assert {e["reason"] for e in ours.events} == {"plateau_reduce"}
    assert len(ours.events) == len(set(expected)) - 1  # one event per actual change


def test_reduce_wins_over_a_decay_due_in_the_same_epoch() -> None:
    scheduler = _scheduler(patience=3, long_plateau_epochs=3, factor=0.5, **NO_BOOST)
    _feed(scheduler, [1.0] * 12)
    # Epoch 4: both due → one plateau_reduce, which counts as this plateau's decay.
    assert _reasons(scheduler) == [(4, "plateau_reduce"), (8, "plateau_reduce")]
    assert "long-plateau decay also due" in scheduler.events[0]["detail"]


def test_lr_stays_within_min_and_max() -> None:
    boosted = _scheduler(max_lr=2.0, window=3, stagnation_patience=1, **NO_DECAY, **NO_REDUCE)
    lrs = _feed(boosted, [1.0] * 10)
    assert max(lrs) == pytest.approx(2.0) and lrs[-1] == pytest.approx(2.0)
    assert [e["new_lr"] for e in boosted.events] == pytest.approx([1.5, 2.0])  # no no-op events
    default_cap = _scheduler(lr=0.01, window=3, stagnation_patience=1, **NO_DECAY, **NO_REDUCE)
    assert max(_feed(default_cap, [1.0] * 30)) == pytest.approx(0.1)  # 10 × the optimizer LR
    reduced = _scheduler(min_lr=0.05, factor=0.1, patience=0, **NO_BOOST, **NO_DECAY)
    lrs = _feed(reduced, [1.0] * 6)
    assert lrs == pytest.approx([1.0, 0.1, 0.05, 0.05, 0.05, 0.05])
    assert len(reduced.events) == 2


def test_mode_max_watches_for_a_score_that_stops_rising() -> None:
    rising = _scheduler(mode="max", window=4, stagnation_patience=1, **NO_DECAY, **NO_REDUCE)
    _feed(rising, [0.5 + 1e-6 * t for t in range(10)])  # sub-threshold, but upward
    assert rising.events == []
    flat = _scheduler(mode="max", window=4, stagnation_patience=1, **NO_DECAY, **NO_REDUCE)
    _feed(flat, [0.5] * 4)
    assert _reasons(flat) == [(3, "stagnation_boost")]


def test_state_dict_round_trip_continues_identically() -> None:
    values = [3.0 - 0.01 * t for t in range(15)] + [2.86] * 45 + [2.5] + [2.6] * 40
    full = _scheduler(cooldown=1, patience=20)
    reference = _feed(full, values)
    first = _scheduler(cooldown=1, patience=20)
    _feed(first, values[:40])
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)  # must survive a checkpoint (weights_only load)
    buffer.seek(0)
    resumed = _scheduler(cooldown=1, patience=20)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    resumed.optimizer.param_groups[0]["lr"] = first.get_last_lr()[0]
    assert _feed(resumed, values[40:]) == pytest.approx(reference[40:])
    assert resumed.events == full.events and len(full.events) > 3


def test_nothing_happens_during_warmup() -> None:
    cfg = OmegaConf.load(
        Path(__file__).resolve().parents[2] / "conf/scheduler/adaptive_plateau.yaml"
    )
    cfg.pop("defaults")
    cfg.merge_with(
        {
            "warmup": {"epochs": 3, "steps": 0, "ratio": 0.0, "start_factor": 0.1},
            "window": 3,
            "stagnation_patience": 1,
        }
    )
    schedule = build_lr_schedule(cfg, sgd(), TrainingLength(40, steps_per_epoch=2))
    lrs = []
    for _epoch in range(8):
        for _ in range(2):
            lrs.append(schedule.get_last_lr()[0])
            schedule.step_optimizer()
        schedule.step_epoch({"val/loss": 1.0})  # flat: would boost if it were observed
        if _epoch < 3:
            assert schedule.inner.epoch == 0 and schedule.inner.history == []
    assert lrs[:6] == pytest.approx([0.1 + 0.9 * k / 6 for k in range(6)])
    # Observed epochs 0 (first after warmup, improvement), 1, 2: the window of 3 is full
    # at observed epoch 2 = trainer epoch 5, which boosts; epoch 6 trains at 1.5.
    assert lrs[6:12] == pytest.approx([1.0] * 6) and lrs[12:14] == pytest.approx([1.5] * 2)
    assert _reasons(schedule.inner)[0] == (2, "stagnation_boost")


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"factor": 1.5}, "factor"),
        ({"factor": "a"}, "factor"),
        ({"boost_factor": 0.9}, "boost_factor"),
        ({"decay_factor": 0.0}, "decay_factor"),
        ({"window": 1}, "window"),
        ({"window": 2.5}, "window"),
        ({"mode": "up"}, "mode"),
        ({"patience": "5"}, "patience"),
        ({"cooldown": -1}, "cooldown"),
        ({"threshold": None}, "threshold"),
        ({"min_lr": -1e-6}, "min_lr"),
        ({"max_lr": 0}, "max_lr"),
        ({"max_lr": 1e-7}, "max_lr"),
        ({"stagnation_threshold": "low"}, "stagnation_threshold"),
        ({"stagnation_patience": 0}, "stagnation_patience"),
        ({"long_plateau_epochs": 1.5}, "long_plateau_epochs"),
    ],
)
def test_bad_settings_name_their_key(params: dict, key: str) -> None:
    # Built directly: the bare argument name (through the config it is scheduler.<key>).
    with pytest.raises(ConfigError) as info:
        _scheduler(**params)
    assert info.value.key == key
    assert "\n" not in str(info.value)
