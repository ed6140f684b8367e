"""The torch-backed schedulers (conf/scheduler/*.yaml), driven through `build_lr_schedule`
and checked step by step against their closed forms, alone and behind a warmup."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from schedule_helpers import WARMUP_NONE, sgd

from ocec_lightning.errors import ConfigError
from ocec_lightning.optim.lr_schedule import LRSchedule, TrainingLength, build_lr_schedule

CONF = Path(__file__).resolve().parents[2] / "conf" / "scheduler"
NEW_OPTIONS = (
    "cosine_warm_restarts",
    "step",
    "multistep",
    "exponential",
    "onecycle",
    "cyclic",
    "poly",
    "adaptive_plateau",
)


def _cfg(option: str, warmup: dict | None = None, **params: object) -> object:
    """The option's YAML (its own defaults) with `params` overridden, warmup merged in."""
    node = OmegaConf.load(CONF / f"{option}.yaml")
    node.pop("defaults")
    node.merge_with({"warmup": {**WARMUP_NONE, **(warmup or {})}, **params})
    return node


def _build(cfg: object, total_steps: int, steps_per_epoch: int = 1, **opt: object) -> LRSchedule:
    length = TrainingLength(total_steps=total_steps, steps_per_epoch=steps_per_epoch)
    return build_lr_schedule(cfg, sgd(**opt), length)


def _lr(schedule: LRSchedule) -> float:
    return schedule.optimizer.param_groups[0]["lr"]


def _step_lrs(schedule: LRSchedule, n: int) -> list[float]:
    """LR used by optimizer steps 0..n-1 (interval=step schedulers)."""
    lrs = []
    for _ in range(n):
        lrs.append(_lr(schedule))
        schedule.step_optimizer()
    return lrs


def _epoch_lrs(schedule: LRSchedule, epochs: int, steps_per_epoch: int = 1) -> list[float]:
    """LR of the first step of each epoch; checks it is constant inside the epoch."""
    firsts = []
    for _ in range(epochs):
        lrs = _step_lrs(schedule, steps_per_epoch)
        firsts.append(lrs[0])
        schedule.step_epoch({})
    return firsts


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))


# -- cosine_warm_restarts (preset=seg_warm_restart) ----------------------------------------
def _sgdr(t: int, eta_min: float = 1e-6, base: float = 1.0) -> float:
    """SGDR closed form for T_0=25, T_mult=2: cycles [0, 25), [25, 75), [75, 175)."""
    start, length = 0, 25
    while t >= start + length:
        start, length = start + length, length * 2
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * (t - start) / length)) / 2


def test_warm_restarts_restart_at_25_and_75_epochs() -> None:
    schedule = _build(_cfg("cosine_warm_restarts"), total_steps=100)
    lrs = _epoch_lrs(schedule, 100)
    assert lrs[0] == lrs[25] == pytest.approx(1.0) and lrs[75] == pytest.approx(1.0)
    assert lrs[24] < 0.01 and lrs[74] < 0.01  # the end of a cycle is near eta_min
    assert lrs == pytest.approx([_sgdr(t) for t in range(100)], abs=1e-12)


def test_warm_restarts_shift_by_the_warmup_epochs() -> None:
    cfg = _cfg("cosine_warm_restarts", {"epochs": 3})
    schedule = _build(cfg, total_steps=2 * 90, steps_per_epoch=2)
    lrs = _epoch_lrs(schedule, 90, steps_per_epoch=2)
    assert lrs[:3] == pytest.approx([0.1 + 0.9 * k / 3 for k in range(3)])
    assert lrs[3:] == pytest.approx([_sgdr(t) for t in range(87)], abs=1e-12)
    assert lrs[28] == pytest.approx(1.0) and lrs[78] == pytest.approx(1.0)


# -- cosine: eta_min held after T_max ------------------------------------------------------
def test_cosine_holds_eta_min_after_t_max_and_resumes_there() -> None:
    """torch's CosineAnnealingLR is periodic and climbs back after T_max; ours stays at
    eta_min, across a checkpoint round trip (state_dict as torch's)."""
    cfg = _cfg("cosine", interval="epoch", T_max=4, eta_min=0.1)
    schedule = _build(cfg, total_steps=10)
    lrs = _epoch_lrs(schedule, 6)
    assert lrs == pytest.approx([_cos(1.0, 0.1, t / 4) for t in range(5)] + [0.1])
    torch_cosine = torch.optim.lr_scheduler.CosineAnnealingLR(sgd(), T_max=4, eta_min=0.1)
    for _ in range(6):
        torch_cosine.optimizer.step()
        torch_cosine.step()
    assert torch_cosine.get_last_lr()[0] > 0.2  # the periodic climb we do not copy
    state = schedule.state_dict()
    assert set(state["inner"]) == set(torch_cosine.state_dict())
    resumed = _build(cfg, total_steps=10)
    resumed.load_state_dict(state)
    resumed.optimizer.param_groups[0]["lr"] = _lr(schedule)  # as Lightning restores it
    assert _epoch_lrs(resumed, 4) == pytest.approx([0.1] * 4)


# -- step, multistep, exponential (interval epoch) -----------------------------------------
def test_step_decay_every_step_size_epochs() -> None:
    schedule = _build(_cfg("step", step_size=3, gamma=0.5), total_steps=10)
    assert _epoch_lrs(schedule, 10) == pytest.approx([0.5 ** (e // 3) for e in range(10)])


def test_step_size_defaults_to_a_third_of_the_run_after_warmup() -> None:
    schedule = _build(_cfg("step", {"epochs": 3}), total_steps=2 * 15, steps_per_epoch=2)
    assert schedule.inner.step_size == 4  # (15 - 3) // 3
    lrs = _epoch_lrs(schedule, 15, steps_per_epoch=2)
    assert lrs[3:] == pytest.approx([0.1 ** (e // 4) for e in range(12)])


def test_multistep_drops_at_the_milestones() -> None:
    schedule = _build(_cfg("multistep", milestones=[2, 5], gamma=0.1), total_steps=8)
    assert _epoch_lrs(schedule, 8) == pytest.approx([1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01])


def test_multistep_default_milestones_are_half_and_three_quarters() -> None:
    schedule = _build(_cfg("multistep"), total_steps=20)
    assert sorted(schedule.inner.milestones) == [10, 15]
    lrs = _epoch_lrs(schedule, 20)
    assert lrs == pytest.approx([1.0] * 10 + [0.1] * 5 + [0.01] * 5)


def test_exponential_behind_an_epoch_warmup() -> None:
    schedule = _build(_cfg("exponential", {"epochs": 2}, gamma=0.9), total_steps=12)
    lrs = _epoch_lrs(schedule, 12)
    assert lrs[:2] == pytest.approx([0.1, 0.55])
    assert lrs[2:] == pytest.approx([0.9**t for t in range(10)])


# -- poly ----------------------------------------------------------------------------------
def test_poly_reaches_zero_over_the_run_after_warmup() -> None:
    schedule = _build(_cfg("poly", {"steps": 5}, power=0.9), total_steps=25)
    assert schedule.inner.total_iters == 20
    lrs = _step_lrs(schedule, 25)
    assert lrs[:5] == pytest.approx([0.1 + 0.9 * k / 5 for k in range(5)])
    assert lrs[5:] == pytest.approx([(1 - k / 20) ** 0.9 for k in range(20)], abs=1e-12)
    schedule.step_optimizer()
    assert _lr(schedule) == pytest.approx(0.0, abs=1e-12)


# -- onecycle ------------------------------------------------------------------------------
def _onecycle(k: int, total: int, max_lr: float = 1.0, pct: float = 0.3) -> float:
    """torch's 1cycle (two phases, cos): initial = max/25, final = initial/1e4."""
    initial = max_lr / 25
    rise_end = pct * total - 1
    if k <= rise_end:
        return _cos(initial, max_lr, k / rise_end)
    return _cos(max_lr, initial / 1e4, (k - rise_end) / (total - 1 - rise_end))


def test_onecycle_spans_exactly_the_run() -> None:
    schedule = _build(_cfg("onecycle"), total_steps=50)
    lrs = _step_lrs(schedule, 50)
    assert lrs == pytest.approx([_onecycle(k, 50) for k in range(50)], abs=1e-12)
    assert lrs[0] == pytest.approx(1 / 25) and max(lrs) == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(1 / 25 / 1e4)
    # Lightning's step estimate may be short: past the end the final LR is held.
    _step_lrs(schedule, 3)
    assert _lr(schedule) == pytest.approx(lrs[-1])


def test_onecycle_behind_warmup_starts_at_the_handover() -> None:
    schedule = _build(_cfg("onecycle", {"steps": 10}, max_lr=2.0), total_steps=60)
    assert schedule.base_lrs == pytest.approx([2.0 / 25])  # warmup rises to the cycle's start
    lrs = _step_lrs(schedule, 60)
    assert lrs[:10] == pytest.approx([2 / 25 * (0.1 + 0.9 * k / 10) for k in range(10)])
    assert lrs[10] == pytest.approx(2.0 / 25)  # first step after warmup = the cycle's step 0
    assert lrs[10:] == pytest.approx([_onecycle(k, 50, 2.0) for k in range(50)], abs=1e-12)


def test_onecycle_momentum_cycles_only_when_the_optimizer_has_momentum() -> None:
    with_momentum = _build(_cfg("onecycle"), total_steps=20, momentum=0.9)
    assert with_momentum.optimizer.param_groups[0]["momentum"] == pytest.approx(0.95)
    without = _build(_cfg("onecycle"), total_steps=20)
    _step_lrs(without, 5)
    assert without.optimizer.param_groups[0]["momentum"] == 0  # not switched on
    adam = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    build_lr_schedule(_cfg("onecycle"), adam, TrainingLength(20, 1))
    assert adam.param_groups[0]["betas"] == (0.9, 0.999)


def test_onecycle_rejects_a_degenerate_first_phase() -> None:
    with pytest.raises(ConfigError, match="scheduler.pct_start"):
        _build(_cfg("onecycle", pct_start=0.1), total_steps=10)  # 0.1 × 10 steps = 1
    with pytest.raises(ConfigError, match="scheduler.pct_start"):
        _build(_cfg("onecycle", pct_start=0.6, three_phase=True), total_steps=10)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"pct_start": "x"}, "(0, 1), e.g. 0.3"),
        ({"pct_start": 0.0}, "(0, 1), e.g. 0.3"),
        ({"pct_start": 0.6, "three_phase": True}, "(0, 0.5) with three_phase"),
        ({"pct_start": 0.1}, "pct_start × 10 steps ≠ 1"),
    ],
)
def test_onecycle_built_directly_names_the_bare_key(params: dict, expected: str) -> None:
    from ocec_lightning.optim.schedulers.onecycle import build

    with pytest.raises(ConfigError) as info:
        build(sgd(), horizon=10, **params)
    assert info.value.key == "pct_start"
    assert expected in str(info.value)


# -- cyclic --------------------------------------------------------------------------------
def _triangle(k: int, base: float, peak: float, half: int) -> float:
    """Smith's triangular policy with equal up and down half-cycles."""
    cycle = math.floor(1 + k / (2 * half))
    x = abs(k / half - 2 * cycle + 1)
    return base + (peak - base) * max(0.0, 1 - x)


def test_cyclic_triangular_matches_the_closed_form() -> None:
    cfg = _cfg("cyclic", base_lr=0.2, max_lr=1.0, step_size_up=4)
    lrs = _step_lrs(_build(cfg, total_steps=40), 40)
    assert lrs == pytest.approx([_triangle(k, 0.2, 1.0, 4) for k in range(40)], abs=1e-12)


def test_cyclic_defaults_behind_warmup() -> None:
    schedule = _build(_cfg("cyclic", {"steps": 4}), total_steps=44, lr=0.5)
    lrs = _step_lrs(schedule, 44)
    # max_lr = optimizer LR, base_lr = max/10, step_size_up = 40 // 4 = 10.
    assert lrs[:4] == pytest.approx([0.05 * (0.1 + 0.9 * k / 4) for k in range(4)])
    assert lrs[4:] == pytest.approx([_triangle(k, 0.05, 0.5, 10) for k in range(40)])


def test_cyclic_triangular2_halves_the_amplitude_each_cycle() -> None:
    cfg = _cfg("cyclic", base_lr=0.0, max_lr=1.0, step_size_up=2, cycle_mode="triangular2")
    lrs = _step_lrs(_build(cfg, total_steps=12), 12)
    assert lrs[2] == pytest.approx(1.0) and lrs[6] == pytest.approx(0.5)
    assert lrs[10] == pytest.approx(0.25)


def test_cyclic_momentum_auto_and_explicit() -> None:
    sgd = _build(_cfg("cyclic", step_size_up=2), total_steps=8, momentum=0.9)
    momenta = []
    for _ in range(3):
        momenta.append(sgd.optimizer.param_groups[0]["momentum"])
        sgd.step_optimizer()
    assert momenta == pytest.approx([0.9, 0.85, 0.8])  # inverse to the LR
    plain = _build(_cfg("cyclic"), total_steps=8)  # SGD without momentum: left alone
    assert not plain.inner.cycle_momentum and plain.optimizer.param_groups[0]["momentum"] == 0
    adam = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    auto = build_lr_schedule(_cfg("cyclic", step_size_up=2), adam, TrainingLength(8, 1))
    auto.step_optimizer()
    assert not auto.inner.cycle_momentum and adam.param_groups[0]["betas"] == (0.9, 0.999)
    adam = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    cfg = _cfg("cyclic", step_size_up=2, cycle_momentum=True)
    explicit = build_lr_schedule(cfg, adam, TrainingLength(8, 1))
    explicit.step_optimizer()
    assert adam.param_groups[0]["betas"] == pytest.approx((0.85, 0.999))  # beta1 cycles


def test_cyclic_and_onecycle_keep_param_group_ratios() -> None:
    model = torch.nn.Linear(2, 1)
    groups = [{"params": [model.weight], "lr": 1.0}, {"params": [model.bias], "lr": 0.5}]
    optimizer = torch.optim.SGD(groups, lr=1.0)
    build_lr_schedule(_cfg("onecycle", max_lr=4.0), optimizer, TrainingLength(20, 1))
    assert [g["max_lr"] for g in optimizer.param_groups] == pytest.approx([4.0, 2.0])
    for group, lr in zip(optimizer.param_groups, (1.0, 0.5), strict=True):
        group["lr"] = lr
    cyclic = build_lr_schedule(_cfg("cyclic", max_lr=2.0), optimizer, TrainingLength(20, 1))
    assert cyclic.inner.max_lrs == pytest.approx([2.0, 1.0])
    assert cyclic.inner.base_lrs == pytest.approx([0.2, 0.1])


# -- every new option builds and runs on tiny and odd run lengths --------------------------
@pytest.mark.parametrize("option", NEW_OPTIONS)
@pytest.mark.parametrize("total", [1, 2, 3, 7])
def test_every_option_runs_on_tiny_runs(option: str, total: int) -> None:
    cfg = _cfg(option)
    schedule = _build(cfg, total_steps=total)
    for _ in range(total + 2):  # two steps past the estimate must not crash either
        schedule.step_optimizer()
        schedule.step_epoch({"val/loss": 1.0})
        assert all(math.isfinite(lr) and lr >= 0 for lr in schedule.get_last_lr())
