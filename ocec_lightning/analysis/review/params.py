"""The parameter table of a config review: one row per training parameter (as in the
batch-4096 OCEC review's tables) with its composed value; the assessment and suggestion
come from the worst finding about the same key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig

from ocec_lightning.analysis.review.facts import RunFacts, get
from ocec_lightning.analysis.review.findings import SEVERITIES, Finding, Msg, lr_str, num

Value = Callable[[DictConfig, RunFacts], "str | Msg | None"]


def _short(target: Any) -> str:
    return str(target or "").rsplit(".", 1)[-1]


def _scheduler(cfg: DictConfig, facts: RunFacts) -> str | Msg:
    sched = get(cfg, "scheduler")
    if not sched:
        return Msg("none (constant LR)", "无（恒定学习率）")
    skip = {"_target_", "name", "warmup", "interval", "monitor", "mode"}
    params = ", ".join(f"{k} {v}" for k, v in sched.items() if k not in skip and v is not None)
    watch = f" {sched['monitor']} ({sched.get('mode')})" if sched.get("monitor") else ""
    per_step = sched.get("interval") == "step"
    return Msg(
        f"{sched.get('name')}{watch}, per {sched.get('interval')}: {params}",
        f"{sched.get('name')}{watch}，{'每步' if per_step else '每轮'}：{params}",
    )


def _warmup(cfg: DictConfig, facts: RunFacts) -> str | Msg | None:
    if not get(cfg, "scheduler"):
        return None
    steps = facts.schedule.warmup_steps
    if steps == 0:
        return Msg("none", "无")
    warm = get(cfg, "scheduler.warmup") or {}
    if warm.get("start_lr"):
        start = f"start_lr {lr_str(warm['start_lr'])}"
    else:
        start = f"start_factor {warm.get('start_factor')}"
    given = next((f"{k} {warm[k]}" for k in ("epochs", "steps", "ratio") if warm.get(k)), "")
    step = warm.get("interval", "step") == "step"
    mode = warm.get("mode")
    return Msg(
        f"{given} = {steps:,} steps, {start}, {mode}, per {'step' if step else 'epoch'}",
        f"{given} = {steps:,} 步，{start}，{mode}，{'每步' if step else '每轮'}更新",
    )


def _early_stopping(cfg: DictConfig, facts: RunFacts) -> str | Msg:
    stop = get(cfg, "callbacks.early_stopping")
    if not stop:
        return Msg("off", "未启用")
    return f"{stop.get('monitor')} ({stop.get('mode')}), patience {stop.get('patience')}"


def _ema(cfg: DictConfig, facts: RunFacts) -> str | Msg:
    ema = get(cfg, "callbacks.ema")
    if not ema:
        return Msg("off", "未启用")
    on = bool(ema.get("warmup"))
    return Msg(
        f"{ema.get('decay')} (decay warmup {'on' if on else 'off'})",
        f"{ema.get('decay')}（decay 预热{'开启' if on else '关闭'}）",
    )


def _loss(cfg: DictConfig, facts: RunFacts) -> str:
    loss = get(cfg, "loss") or {}
    skip = {"_target_", "num_classes", "ignore_index", "class_frequencies"}
    params = ", ".join(f"{k} {v}" for k, v in loss.items() if k not in skip and v is not None)
    name = _short(loss.get("_target_"))
    return f"{name} ({params})" if params else name


def _data(cfg: DictConfig, facts: RunFacts) -> Msg:
    data = facts.data
    counts = " / ".join(f"{k} {num(v)}" for k, v in data.counts.items()) or "?"
    share = data.positive_share
    en = f", {share:.1%} positive" if share is not None else ""
    zh = f"，正类占 {share:.1%}" if share is not None else ""
    how = Msg("read", "实测") if data.measured else Msg("from the config", "由配置推算")
    return Msg(
        f"{data.source}: {counts} ({how.en}{en})", f"{data.source}：{counts}（{how.zh}{zh}）"
    )


def _smoothing_key(cfg: DictConfig) -> str | None:
    return next(
        (k for k in ("loss.smoothing", "loss.label_smoothing") if get(cfg, k) is not None), None
    )


def _table(cfg: DictConfig, facts: RunFacts) -> list[tuple[str, Msg, Value]]:
    metric = facts.schedule.metric_driven
    name = get(cfg, "scheduler.name")
    dropout = "model.dropout" if get(cfg, "model.dropout") is not None else "model.drop_rate"
    smoothing = _smoothing_key(cfg)
    f = facts
    return [
        ("trainer.max_epochs", Msg("Epochs", "训练轮数"), lambda c, _: str(f.max_epochs)),
        (
            "data.batch_size",
            Msg("Batch size per device", "每设备批次大小"),
            lambda c, _: f"{f.batch:,}",
        ),
        (
            "effective_batch",
            Msg("Effective batch", "有效批次"),
            lambda c, _: Msg(
                f"{f.effective_batch:,} = {f.batch:,} × {f.world} device(s) × {f.accumulation}",
                f"{f.effective_batch:,} = {f.batch:,} × {f.world} 个设备 × {f.accumulation}",
            ),
        ),
        (
            "steps_per_epoch",
            Msg("Optimizer steps per epoch", "每轮优化步数"),
            lambda c, _: Msg(
                f"{f.steps_per_epoch:,} ({f.total_steps:,} in the run)",
                f"{f.steps_per_epoch:,}（全程 {f.total_steps:,}）",
            ),
        ),
        (
            "optimizer",
            Msg("Optimizer", "优化器"),
            lambda c, _: (
                f"{_short(get(c, 'optimizer._target_'))} betas {get(c, 'optimizer.betas')} "
                f"eps {get(c, 'optimizer.eps')}"
            ),
        ),
        (
            "optimizer.lr",
            Msg("Learning rate", "学习率"),
            lambda c, _: (
                lr_str(f.lr) + (f" → {lr_str(f.lr_effective)}" if f.lr_effective != f.lr else "")
            ),
        ),
        (
            "optimizer.weight_decay",
            Msg("Weight decay", "权重衰减"),
            lambda c, _: lr_str(float(get(c, "optimizer.weight_decay", 0) or 0)),
        ),
        ("scheduler", Msg("LR scheduler", "学习率调度器"), _scheduler),
        (
            "scheduler.patience",
            Msg("Scheduler patience", "调度器 patience"),
            lambda c, _: str(get(c, "scheduler.patience")) if metric else None,
        ),
        (
            "scheduler.factor",
            Msg("Scheduler factor", "调度器衰减因子"),
            lambda c, _: str(get(c, "scheduler.factor")) if metric else None,
        ),
        (
            "scheduler.T_max",
            Msg("Cosine T_max", "余弦周期 T_max"),
            lambda c, _: str(get(c, "scheduler.T_max") or "null") if name == "cosine" else None,
        ),
        (
            "scheduler.T_0",
            Msg("Restart period T_0 / T_mult", "重启周期 T_0 / T_mult"),
            lambda c, _: (
                f"{get(c, 'scheduler.T_0')} / {get(c, 'scheduler.T_mult')}"
                if name == "cosine_warm_restarts"
                else None
            ),
        ),
        ("scheduler.warmup", Msg("Warmup", "学习率预热"), _warmup),
        ("callbacks.early_stopping.patience", Msg("Early stopping", "早停"), _early_stopping),
        ("callbacks.ema.decay", Msg("EMA", "EMA"), _ema),
        (
            "callbacks.swa",
            Msg("SWA", "SWA"),
            lambda c, _: (
                Msg(f"from epoch {f.swa_start}", f"从第 {f.swa_start} 轮开始")
                if f.swa_start is not None
                else None
            ),
        ),
        (
            "trainer.precision",
            Msg("Precision (AMP)", "精度（混合精度）"),
            lambda c, _: (
                f"{get(c, 'trainer.precision')}, accelerator {get(c, 'trainer.accelerator')}"
            ),
        ),
        (
            "trainer.gradient_clip_val",
            Msg("Gradient clipping", "梯度裁剪"),
            lambda c, _: str(get(c, "trainer.gradient_clip_val")),
        ),
        (dropout, Msg("Dropout", "Dropout"), lambda c, _: str(get(c, dropout))),
        ("loss", Msg("Loss", "损失函数"), _loss),
        (
            "loss.pos_weight",
            Msg("pos_weight", "pos_weight"),
            lambda c, _: (
                str(get(c, "loss.pos_weight")) if "pos_weight" in (get(c, "loss") or {}) else None
            ),
        ),
        (
            smoothing or "loss.label_smoothing",
            Msg("Label smoothing", "标签平滑"),
            lambda c, _: str(get(c, smoothing)) if smoothing else None,
        ),
        (
            "aug",
            Msg("Augmentation", "数据增强"),
            lambda c, _: Msg(
                f"{get(c, 'aug.name')}: {len(get(c, f'aug.{f.task}', []) or [])} train transforms",
                f"{get(c, 'aug.name')}：{len(get(c, f'aug.{f.task}', []) or [])} 个训练集变换",
            ),
        ),
        (
            "data.image_size",
            Msg("Input size (H×W)", "输入尺寸（高×宽）"),
            lambda c, _: "×".join(map(str, f.data.image_size)),
        ),
        ("data", Msg("Data", "数据"), _data),
        ("seed", Msg("Seed", "随机种子"), lambda c, _: str(get(c, "seed"))),
    ]


def parameter_rows(
    cfg: DictConfig, facts: RunFacts, findings: list[Finding]
) -> list[dict[str, Any]]:
    """Rows (key, label, value, severity, assessment, suggestion) for every parameter the
    config has, each with the worst finding about its key."""
    out = []
    for key, label, value in _table(cfg, facts):
        shown = value(cfg, facts)
        if shown is None:
            continue
        about = [f for f in findings if f.key == key]
        worst = min(about, key=lambda f: SEVERITIES.index(f.severity)) if about else None
        out.append(
            {
                "key": key,
                "label": label,
                "value": shown,
                "severity": worst.severity if worst else None,
                "assessment": worst.title if worst else None,
                "suggestion": worst.suggestion if worst else None,
            }
        )
    return out
