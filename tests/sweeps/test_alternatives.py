"""`hydra.sweeper.alternatives` of our basic sweeper: each job runs once per named line
of overrides (several keys, a group switch, deletions), in `<n>_<label>` folders."""

from __future__ import annotations

import pytest
from hydra.errors import HydraException

from ocec_lightning.config import compose_config
from ocec_lightning.sweeps.basic import folder_label, with_alternatives

EMA = "'callbacks.ema={_target_:ocec_lightning.callbacks.ema.EMA,decay:0.999}'"
ALTERNATIVES = {
    "baseline": "",
    "lr_never_decayed-1": "scheduler=cosine",
    "plateau": "scheduler=plateau scheduler.monitor=val/f1 scheduler.mode=max",
    "ema": EMA,
}


def test_each_job_runs_once_per_alternative_with_its_keys_winning() -> None:
    batch = [["scheduler=none", "callbacks.ema=null", "seed=1"]]
    jobs = with_alternatives(batch, ALTERNATIVES, first_num=0)
    assert jobs == [
        ["scheduler=none", "callbacks.ema=null", "seed=1", "hydra.sweep.subdir=0_baseline"],
        [
            "callbacks.ema=null",
            "seed=1",
            "scheduler=cosine",
            "hydra.sweep.subdir=1_lr_never_decayed-1",
        ],
        [
            "callbacks.ema=null",
            "seed=1",
            "scheduler=plateau",
            "scheduler.monitor=val/f1",
            "scheduler.mode=max",
            "hydra.sweep.subdir=2_plateau",
        ],
        [
            "scheduler=none",
            "seed=1",
            "callbacks.ema={_target_:ocec_lightning.callbacks.ema.EMA,decay:0.999}",
            "hydra.sweep.subdir=3_ema",
        ],
    ]
    for job in jobs:  # what the launcher composes: every job is a valid config
        cfg = compose_config([o for o in job if not o.startswith("hydra.")])
        assert cfg.seed == 1
    assert compose_config(jobs[3][:-1]).callbacks.ema.decay == 0.999


def test_swept_keys_multiply_and_numbers_continue_from_earlier_batches() -> None:
    batch = [["seed=1"], ["seed=2"]]
    jobs = with_alternatives(batch, {"a": "trainer.max_epochs=3", "b": ""}, first_num=4)
    assert [job[-1] for job in jobs] == [
        "hydra.sweep.subdir=4_a",
        "hydra.sweep.subdir=5_b",
        "hydra.sweep.subdir=6_a",
        "hydra.sweep.subdir=7_b",
    ]


def test_deletions_and_chinese_options_keep_their_meaning() -> None:
    (job,) = with_alternatives(
        [["preset=balanced"]], {"x": "scheduler=cosine ~scheduler.factor aug=激进"}, 0
    )
    assert job == [
        "preset=balanced",
        "scheduler=cosine",
        "~scheduler.factor",
        "aug='激进'",
        "hydra.sweep.subdir=0_x",
    ]
    patience = "~scheduler.patience"  # balanced sets factor and patience; cosine takes neither
    cfg = compose_config([*job[:-1], patience])
    assert "factor" not in cfg.scheduler and cfg.aug == compose_config(["aug=aggressive"]).aug


def test_a_sweep_inside_an_alternative_or_bad_grammar_is_refused() -> None:
    with pytest.raises(HydraException, match="alternatives.bad: seed=1,2 is a sweep"):
        with_alternatives([[]], {"bad": "seed=1,2"}, 0)
    with pytest.raises(HydraException, match="alternatives.quote"):
        with_alternatives([[]], {"quote": "'unclosed=1"}, 0)
    assert folder_label("lr too/early: 1") == "lr_too_early_1"
