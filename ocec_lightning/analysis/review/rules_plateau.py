"""Review rules for metric-driven schedulers (plateau, adaptive_plateau).

- patience < `MIN_PLATEAU_PATIENCE` ("patience=2 可能过于敏感", use 5-10)
  and factor ≤ `MAX_GENTLE_FACTOR` ("factor=0.5 可能过于激进", use 0.7-0.8):
  warnings.
- against early stopping, on the replayed *flat* scenario (the metric stops improving
  right after warmup): no LR reduction before early stopping ends the run is an error,
  one is a warning (recommended patience 2 × (patience + 1) + cooldown + 1: two tries).
- against the run: no LR change possible within `max_epochs` (warmup + patience longer
  than the run, the adaptive-LR scheme's rules in a 12-epoch run) is an error.
"""

from __future__ import annotations

from omegaconf import DictConfig

from ocec_lightning.analysis.review.facts import RunFacts, get
from ocec_lightning.analysis.review.findings import Finding, Msg, join, lr_str, pct
from ocec_lightning.analysis.review.registry import review_rule
from ocec_lightning.analysis.review.schedule import LREvent

MIN_PLATEAU_PATIENCE = 5
MAX_GENTLE_FACTOR = 0.5
REASONS = {
    "reduce": Msg("reduce", "衰减"),
    "raise": Msg("raise", "上调"),
    "plateau_reduce": Msg("plateau_reduce", "平台衰减"),
    "long_plateau_decay": Msg("long_plateau_decay", "长平台衰减"),
    "stagnation_boost": Msg("stagnation_boost", "停滞提升"),
}


def _new_best(mode: str) -> Msg:
    return Msg("a new best", "未创新低" if mode == "min" else "未创新高")


@review_rule
def patience_and_factor(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    if not facts.schedule.metric_driven:
        return []
    patience = int(get(cfg, "scheduler.patience", 0))
    factor = float(get(cfg, "scheduler.factor", 0.5))
    monitor, mode = get(cfg, "scheduler.monitor"), str(get(cfg, "scheduler.mode", "min"))
    threshold = get(cfg, "scheduler.threshold", 1e-4)
    window = max(30, 3 * (patience + 1))
    n = window // (patience + 1)
    evidence = Msg(
        f"LR × {factor} after {patience + 1} validations without a new best {monitor} "
        f"(relative threshold {threshold}); {window} such epochs allow {n} reductions → "
        f"LR × {factor**n:.2g}",
        f"{monitor} 连续 {patience + 1} 次验证{_new_best(mode).zh}即 LR × {factor}（相对阈值 "
        f"{threshold}）；{window} 个这样的轮次可衰减 {n} 次 → LR × {factor**n:.2g}",
    )
    out = []
    if patience < MIN_PLATEAU_PATIENCE:
        title = Msg(
            f"patience {patience} too sensitive to validation noise",
            f"patience={patience} 对验证集的正常波动过于敏感",
        )
        why = Msg("5-10 epochs", "5-10 轮")
        out.append(
            Finding(
                "plateau.patience",
                "scheduler.patience",
                "warning",
                title,
                evidence,
                f"scheduler.patience={MIN_PLATEAU_PATIENCE}",
                why,
            )
        )
    else:
        title = Msg(
            f"patience {patience} tolerates normal noise", f"patience={patience} 可容忍正常波动"
        )
        out.append(Finding("plateau.patience", "scheduler.patience", "info", title, evidence))
    to_tenth = next(k for k in range(1, 1000) if factor**k <= 0.1)
    min_lr = lr_str(float(get(cfg, "scheduler.min_lr", 0.0) or 0.0))
    evidence = Msg(
        f"each reduction keeps {pct(factor, 0)} of the LR: 3 reductions → {pct(factor**3)}; "
        f"{to_tenth} reductions to reach 10%; min_lr {min_lr}",
        f"每次衰减保留 {pct(factor, 0)}：3 次后剩 {pct(factor**3)}；降到 10% 需 {to_tenth} 次；"
        f"min_lr {min_lr}",
    )
    if factor <= MAX_GENTLE_FACTOR:
        title = Msg(
            f"factor {factor} cuts the LR by half or more each time",
            f"factor={factor} 每次至少减半，衰减过于激进",
        )
        why = Msg("0.7-0.8", "0.7-0.8")
        out.append(
            Finding(
                "plateau.factor",
                "scheduler.factor",
                "warning",
                title,
                evidence,
                "scheduler.factor=0.7",
                why,
            )
        )
    else:
        title = Msg(f"factor {factor} is gentle", f"factor={factor} 衰减温和")
        out.append(Finding("plateau.factor", "scheduler.factor", "info", title, evidence))
    return out


def events_text(events: list[LREvent], base: float, until: int | None = None) -> Msg:
    """The LR changes up to bad epoch `until` and the first one after it."""
    shown = [e for e in events if until is None or e.bad_epoch <= until]
    shown += [e for e in events if e not in shown][:1]
    parts = []
    for e in shown[:8]:
        reason = REASONS.get(e.reason, Msg(e.reason, e.reason))
        lr, share = lr_str(e.lr), pct(e.lr / base)
        parts.append(
            Msg(
                f"bad epoch {e.bad_epoch}: {reason.en} → {lr} ({share})",
                f"第 {e.bad_epoch} 个未改善轮次：{reason.zh} → {lr}（{share}）",
            )
        )
    return join(parts) if parts else Msg("no LR change", "学习率无变化")


def _unreachable(cfg: DictConfig, facts: RunFacts) -> Finding:
    warm = facts.schedule.warmup_epochs
    patience = int(get(cfg, "scheduler.patience", 0))
    first = min(patience, int(get(cfg, "scheduler.long_plateau_epochs", patience) or patience))
    needed = max(50, 3 * (warm + first + 2))
    return Finding(
        "plateau.reachable",
        "trainer.max_epochs",
        "error",
        Msg(
            "the scheduler can never change the LR within max_epochs",
            "在 max_epochs 内调度器永远无法调整学习率",
        ),
        Msg(
            f"{warm} warmup epochs (not observed) + more than {first} epochs without improvement "
            f"> max_epochs={facts.max_epochs}",
            f"预热 {warm} 轮（不计入观察）+ 超过 {first} 个未改善轮次 > "
            f"max_epochs={facts.max_epochs}",
        ),
        f"trainer.max_epochs={needed}",
        Msg(
            "long enough for the plateau rules to act several times", "足够长，使平台规则能多次生效"
        ),
    )


@review_rule
def versus_run(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    """LR reductions the scheduler gets before early stopping or the end of the run."""
    sched = facts.schedule
    if not sched.metric_driven:
        return []
    if not sched.flat_events:
        return [_unreachable(cfg, facts)]
    stop = facts.es_patience
    if stop is None:
        return []
    patience = int(get(cfg, "scheduler.patience", 0))
    cooldown = int(get(cfg, "scheduler.cooldown", 0) or 0)
    tried = [e for e in sched.flat_events if e.bad_epoch < stop]
    reductions = [e for e in tried if e.reason not in ("stagnation_boost", "raise")]
    recommended = 2 * (patience + 1) + cooldown + 1
    es_monitor, monitor = (
        get(cfg, "callbacks.early_stopping.monitor"),
        get(cfg, "scheduler.monitor"),
    )
    warm, n = sched.warmup_epochs, len(reductions)
    evidence = (
        Msg(f"if the metric stalls after epoch {warm}: ", f"若指标在第 {warm} 轮后停滞：")
        + events_text(sched.flat_events, sched.base_lr, stop)
        + Msg(
            f"; early stopping (patience {stop}) ends the run at bad epoch {stop}, so {n} "
            f"reduction(s) get tried; early stopping follows {es_monitor}, the scheduler {monitor}",
            f"；早停（patience {stop}）在第 {stop} 个未改善轮次结束训练，只有 {n} 次衰减得到尝试；"
            f"早停监控 {es_monitor}，调度器监控 {monitor}",
        )
    )
    key = "callbacks.early_stopping.patience"
    override = f"callbacks.early_stopping.patience={recommended}"
    why = Msg(
        "room for two reductions: 2 × (patience + 1) + cooldown + 1",
        "留出两次衰减的空间：2 ×（patience + 1）+ cooldown + 1",
    )
    if n == 0:
        title = Msg(
            "early stopping fires before the scheduler's first LR reduction",
            "早停在调度器第一次降低学习率之前就会触发",
        )
        return [Finding("plateau.vs_early_stopping", key, "error", title, evidence, override, why)]
    if n == 1:
        title = Msg("only one LR reduction before early stopping", "早停前只有一次学习率衰减")
        return [
            Finding("plateau.vs_early_stopping", key, "warning", title, evidence, override, why)
        ]
    title = Msg(f"{n} LR reductions before early stopping", f"早停前有 {n} 次学习率衰减")
    return [Finding("plateau.vs_early_stopping", key, "info", title, evidence)]
