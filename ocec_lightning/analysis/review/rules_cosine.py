"""Review rules for time-driven schedules: cosine T_max, warm restarts, LR at epochs.

All numbers come from the replayed schedule (`review_schedule.replay`), i.e. from what the
scheduler builders will actually do:
- cosine: an LR that rises again after T_max (torch's periodic CosineAnnealingLR) is an
  error; a T_max shorter than the run leaves the tail at eta_min (warning) and decays
  *faster*, not slower (the premise of the MicroSegFormer "slow decay" plan); a T_max
  longer than the run cuts the cosine (note).
- warm restarts: no restart within the run is an error; early-stopping patience below
  T_0 (the run can end before the first restart) is an error, below the second cycle a
  warning (the MicroSegFormer plans: patience ≥ 100); a run that ends early in a fresh cycle, still
  above half the base LR, is a warning.
- the LR at chosen epochs (default: start, end of warmup, quarters and the last epoch;
  for segmentation the epochs the MicroSegFormer analyses quote: 60, 92, 120, 150).
"""

from __future__ import annotations

import math

from omegaconf import DictConfig

from ocec_lightning.analysis.review.facts import RunFacts, get
from ocec_lightning.analysis.review.findings import Finding, Msg, lr_str, pct
from ocec_lightning.analysis.review.registry import review_rule
from ocec_lightning.analysis.review.schedule import replay

QUOTED_EPOCHS = (60, 92, 120, 150)  # where the MicroSegFormer analyses quote the LR
HIGH_END_LR = 0.5  # a run ending above this share of the base LR after a restart


def probe_epochs(cfg: DictConfig, facts: RunFacts, chosen: list[int] | None = None) -> list[int]:
    last, epochs, warm = facts.max_epochs - 1, facts.max_epochs, facts.schedule.warmup_epochs
    if chosen:
        picks = list(chosen)
    elif str(get(cfg, "task.name")) == "segmentation":
        picks = [0, warm, *QUOTED_EPOCHS]
    else:
        picks = [0, warm, epochs // 4, epochs // 2, 3 * epochs // 4]
    return sorted({e for e in [*picks, last] if 0 <= e <= last})


def lr_table(
    cfg: DictConfig, facts: RunFacts, chosen: list[int] | None = None
) -> list[dict[str, float]]:
    """LR at the start of each chosen epoch, and as % of the base LR."""
    sched = facts.schedule
    return [
        {"epoch": e, "lr": sched.lr_at(e), "percent": 100 * sched.lr_at(e) / sched.base_lr}
        for e in probe_epochs(cfg, facts, chosen)
    ]


def at_epochs(table: list[dict[str, float]]) -> Msg:
    text = ", ".join(f"{int(r['epoch'])}: {lr_str(r['lr'])} ({r['percent']:.1f}%)" for r in table)
    return Msg(f"LR at epochs {text}", f"各轮次学习率 {text}")


def _short_t_max(
    cfg: DictConfig,
    facts: RunFacts,
    t_max: int,
    horizon: int,
    end: int,
    table: list[dict[str, float]],
) -> Finding:
    sched = facts.schedule
    whole = replay(
        {**get(cfg, "scheduler"), "T_max": None},
        sched.base_lr,
        facts.max_epochs,
        facts.steps_per_epoch,
    )
    base = sched.base_lr
    shown = [int(r["epoch"]) for r in table if sched.warmup_epochs < r["epoch"] < end]
    compare = ", ".join(
        f"{e}: {pct(sched.lr_at(e) / base)} vs {pct(whole.lr_at(e) / base)}" for e in shown
    )
    tail = facts.max_epochs - end
    eta = lr_str(float(get(cfg, "scheduler.eta_min", 0.0)))
    share = pct(tail / facts.max_epochs)
    return Finding(
        "cosine.short_t_max",
        "scheduler.T_max",
        "warning",
        Msg(
            f"T_max={t_max} ends the cosine at epoch {end}: a shorter T_max decays faster, "
            "not slower",
            f"T_max={t_max} 使余弦在第 {end} 轮就降到底：T_max 越短衰减越快，而不是越慢",
        ),
        Msg(
            f"% of base LR with T_max={t_max} vs T_max=null ({horizon}): {compare}; the last "
            f"{tail} epochs ({share} of the run) stay at eta_min {eta}. "
            "The slow-decay plan expected "
            "~90% at epoch 92 from 'T_max=150 decays slower': the premise is wrong",
            f"占基础学习率的比例，T_max={t_max} 对比 T_max=null（{horizon}）：{compare}；最后 "
            f"{tail} 轮（全程 {share}）停留在 eta_min {eta}。“慢衰减”方案认为 T_max=150 "
            "衰减更慢、第 92 轮约为 90%：这一前提是错误的",
        ),
        "scheduler.T_max=null",
        Msg(
            "cosine over the whole run; for a slower decay, a T_max longer than the run",
            "余弦覆盖全程；若想衰减更慢，应让 T_max 大于训练长度",
        ),
    )


@review_rule
def cosine(cfg: DictConfig, facts: RunFacts, chosen: list[int] | None = None) -> list[Finding]:
    if str(get(cfg, "scheduler.name")) != "cosine" or facts.schedule.error:
        return []
    sched = facts.schedule
    per_step = str(get(cfg, "scheduler.interval", "step")) == "step"
    unit = facts.steps_per_epoch if per_step else 1
    if per_step:
        horizon = facts.total_steps - sched.warmup_steps
    else:
        horizon = facts.max_epochs - sched.warmup_epochs
    t_max = int(get(cfg, "scheduler.T_max") or horizon)
    end = sched.warmup_epochs + math.ceil(t_max / unit)
    table = lr_table(cfg, facts, chosen)
    rises = sched.rises_after_warmup()
    base = sched.base_lr
    if rises:
        last = pct(sched.epoch_lrs[-1] / base)
        return [
            Finding(
                "cosine.climbs_back",
                "scheduler.T_max",
                "error",
                Msg(
                    f"the LR climbs back after T_max: rising from epoch {rises[0]} to {last}",
                    f"T_max 之后学习率回升：从第 {rises[0]} 轮起回升到 {last}",
                ),
                at_epochs(table),
                "scheduler.T_max=null",
                Msg("cosine over the whole run after warmup", "余弦覆盖预热后的全部训练"),
            )
        ]
    if t_max < horizon:
        return [_short_t_max(cfg, facts, t_max, horizon, end, table)]
    if t_max > horizon:
        cut, final = pct(horizon / t_max), pct(sched.epoch_lrs[-1] / base)
        title = Msg(
            f"cosine cut at {cut} of T_max={t_max}: the run ends at {final} of the base LR",
            f"余弦在 T_max={t_max} 的 {cut} 处截断：训练结束时学习率为基础值的 {final}",
        )
    else:
        title = Msg("cosine over the whole run after warmup", "余弦覆盖预热后的全部训练")
    return [Finding("cosine.t_max", "scheduler.T_max", "info", title, at_epochs(table))]


def _restart_vs_stopping(
    cfg: DictConfig, facts: RunFacts, listed: Msg, t0: float, second: float
) -> list[Finding]:
    stop = facts.es_patience
    if stop is None:
        return []
    seg = str(get(cfg, "task.name")) == "segmentation"
    target = max(math.ceil(second), 100 if seg else 0)
    evidence = listed + Msg(
        f"; early-stopping patience {stop} epochs", f"；早停 patience {stop} 轮"
    )
    key, override = (
        "callbacks.early_stopping.patience",
        f"callbacks.early_stopping.patience={target}",
    )
    why = Msg(
        "patience ≥ the next cycle (≥ 100 with warm restarts in the MicroSegFormer plans)",
        "patience 不小于下一个周期（MicroSegFormer 方案：热重启时 ≥ 100）",
    )
    if stop < t0:
        title = Msg(
            f"early stopping (patience {stop}) can end the run before the first restart",
            f"早停（patience {stop}）可能在第一次重启之前就结束训练",
        )
        return [Finding("restarts.vs_early_stopping", key, "error", title, evidence, override, why)]
    if stop < second:
        title = Msg("early stopping can cut the second cycle short", "早停可能截断第二个周期")
        evidence = evidence + Msg(
            f"; a best at the first restart leaves {stop} < {second:g} epochs for cycle 2",
            f"；若最佳结果出现在第一次重启处，第二个周期只剩 {stop} < {second:g} 轮",
        )
        return [
            Finding("restarts.vs_early_stopping", key, "warning", title, evidence, override, why)
        ]
    return []


@review_rule
def warm_restarts(
    cfg: DictConfig, facts: RunFacts, chosen: list[int] | None = None
) -> list[Finding]:
    if str(get(cfg, "scheduler.name")) != "cosine_warm_restarts" or facts.schedule.error:
        return []
    sched = facts.schedule
    unit = facts.steps_per_epoch if str(get(cfg, "scheduler.interval")) == "step" else 1
    t0, mult = int(get(cfg, "scheduler.T_0")), int(get(cfg, "scheduler.T_mult", 1))
    restarts = sched.rises_after_warmup()
    warm, epochs = sched.warmup_epochs, facts.max_epochs
    if restarts:
        at_en = "restarts at epochs " + ", ".join(map(str, restarts))
        at_zh = "重启发生在第 " + "、".join(map(str, restarts)) + " 轮"
    else:
        at_en, at_zh = "no restart", "没有任何重启"
    listed = Msg(
        f"{at_en} (T_0={t0}, T_mult={mult}, counted after {warm} warmup epochs) in a "
        f"{epochs}-epoch run",
        f"{at_zh}（T_0={t0}，T_mult={mult}，从 {warm} 轮预热结束后起算），共 {epochs} 轮",
    )
    out = []
    if not restarts:
        out.append(
            Finding(
                "restarts.never",
                "scheduler.T_0",
                "error",
                Msg("no warm restart happens within the run", "整个训练中一次重启都不会发生"),
                listed,
                f"scheduler.T_0={max(1, (epochs - warm) // 3) * unit} scheduler.T_mult=1",
                Msg(
                    "three cycles in the run, or use scheduler=cosine",
                    "训练内完成三个周期，或改用 scheduler=cosine",
                ),
            )
        )
    else:
        out += _restart_vs_stopping(cfg, facts, listed, t0 / unit, t0 * mult / unit)
        end_share = sched.epoch_lrs[-1] / sched.base_lr
        if end_share > HIGH_END_LR:
            into, share = epochs - restarts[-1], pct(end_share)
            out.append(
                Finding(
                    "restarts.ends_high",
                    "trainer.max_epochs",
                    "warning",
                    Msg(
                        f"the run ends {into} epochs into a fresh cycle, at {share} of the base LR",
                        f"训练在新周期开始 {into} 轮后结束，此时学习率仍为基础值的 {share}",
                    ),
                    listed,
                    f"trainer.max_epochs={restarts[-1]}",
                    Msg(
                        "end at the bottom of the previous cycle (the best checkpoint is kept "
                        "either way)",
                        "在上一个周期的谷底结束（无论如何都会保留最佳检查点）",
                    ),
                )
            )
    if not any(f.severity != "info" for f in out):
        title = Msg("warm restarts fit the run", "热重启周期与训练长度匹配")
        evidence = listed + Msg("; ", "；") + at_epochs(lr_table(cfg, facts, chosen))
        out.append(Finding("restarts.schedule", "scheduler.T_0", "info", title, evidence))
    return out


@review_rule
def overview(cfg: DictConfig, facts: RunFacts, chosen: list[int] | None = None) -> list[Finding]:
    """What the scheduler is and, for time-driven ones, the LR at chosen epochs."""
    name, sched = get(cfg, "scheduler.name"), facts.schedule
    lr = lr_str(facts.lr_effective)
    if name is None:
        title = Msg("constant LR (no scheduler)", "恒定学习率（无调度器）")
        evidence = Msg(
            f"lr {lr} for {facts.max_epochs} epochs", f"lr {lr}，共 {facts.max_epochs} 轮"
        )
        return [Finding("scheduler.overview", "scheduler", "info", title, evidence)]
    if sched.error:
        title = Msg("the scheduler does not build", "调度器无法构建")
        return [
            Finding("scheduler.builds", "scheduler", "error", title, Msg(sched.error, sched.error))
        ]
    if sched.metric_driven:
        monitor, mode = get(cfg, "scheduler.monitor"), get(cfg, "scheduler.mode")
        title = Msg(
            f"{name} on {monitor} ({mode}): the base LR until the metric stalls",
            f"{name}，监控 {monitor}（{mode}）：指标停滞之前保持基础学习率",
        )
        evidence = Msg(
            f"LR {lr} after warmup while {monitor} improves, checked once per validated epoch "
            "(what a stall does: see early stopping)",
            f"预热后只要 {monitor} 持续改善，学习率就保持 {lr}；每个验证轮次检查一次"
            "（停滞时的行为见“早停”一项）",
        )
        return [Finding("scheduler.overview", "scheduler", "info", title, evidence)]
    per_step = get(cfg, "scheduler.interval") == "step"
    title = Msg(
        f"{name}, stepped every {'step' if per_step else 'epoch'}",
        f"{name}，{'每步' if per_step else '每轮'}更新一次",
    )
    evidence = at_epochs(lr_table(cfg, facts, chosen))
    if sched.approximate:
        evidence = evidence + Msg(
            " (replayed with fewer steps per epoch)", "（以较少的每轮步数回放）"
        )
    return [Finding("scheduler.overview", "scheduler", "info", title, evidence)]
