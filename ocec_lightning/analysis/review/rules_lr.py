"""Review rules for the learning rate against the batch, and for the warmup.

- LR vs batch: from a reference recipe's (lr, batch) the square-root rule (Adam-type
  optimizers) or the linear rule (SGD) gives the LR for the effective batch (devices ×
  batch × accumulation). Below `SMALL_LR` of it: warning ("lr=1e-4 对于大
  batch size 可能偏保守"). Above the linear rule without a warmup: warning.
- warmup: none with an effective batch ≥ `LARGE_BATCH` or an LR above the linear rule:
  warning ("缺少warmup阶段"); longer than `MAX_WARMUP_SHARE` of the run:
  warning (the dataset templates use warmup_ratio 0.0-0.3).
The other rules: `rules_plateau` (plateau vs early stopping and run length),
`rules_cosine` (cosine T_max, warm restarts, LR at chosen epochs),
`rules_run` (callbacks, precision, steps) and `rules_model` (regularisation,
loss, augmentation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from omegaconf import DictConfig

from ocec_lightning.analysis.review.facts import RunFacts, get
from ocec_lightning.analysis.review.findings import Finding, Msg, join, lr_str, pct, round_sig
from ocec_lightning.analysis.review.registry import review_rule

SMALL_LR = 0.25  # LR below this fraction of the batch-scaled reference: warning
ADAPTIVE_LR_CAP = 3e-3  # suggested Adam-type LRs are capped here (ViT-scale batches use ~3e-3)
MAX_WARMUP_SHARE = 0.3  # the dataset templates: warmup_ratio 0.0-0.3
LARGE_BATCH = 1024  # large batches want a warmup


@dataclass(frozen=True)
class Reference:
    """A recipe's (lr, batch) the scaling rules start from."""

    lr: float
    batch: int
    source: Msg


REFERENCES = {
    "classification": Reference(
        1e-4,
        32,
        Msg(
            "upstream OCEC trainer, lr 1e-4 at its default batch 32",
            "上游 OCEC 训练脚本，默认 batch 32 时 lr 1e-4",
        ),
    ),
    "segmentation": Reference(
        8e-4,
        32,
        Msg(
            "MicroSegFormer recipe, AdamW 8e-4 at batch 32",
            "MicroSegFormer 配方，batch 32 时 AdamW 8e-4",
        ),
    ),
    "sgd": Reference(
        0.1,
        256,
        Msg("Goyal et al. 2017, SGD 0.1 per 256 samples", "Goyal 等 2017，每 256 个样本 SGD 0.1"),
    ),
}


def optimizer_family(cfg: DictConfig) -> str:
    """sgd | adaptive (Adam, AdamW, RMSprop, Lion, LAMB, ...)."""
    target = str(get(cfg, "optimizer._target_", "")).lower()
    name = str(get(cfg, "optimizer.opt", "") or "").lower()
    sgd = target.endswith(".sgd") or name in ("sgd", "momentum", "nesterov")
    return "sgd" if sgd else "adaptive"


def reference_for(cfg: DictConfig, override: Reference | None = None) -> Reference:
    if override is not None:
        return override
    if optimizer_family(cfg) == "sgd":
        return REFERENCES["sgd"]
    return REFERENCES.get(str(get(cfg, "task.name")), REFERENCES["classification"])


def scaled_targets(ref: Reference, batch: int) -> tuple[float, float]:
    """(linear rule, square-root rule) LRs for an effective `batch`."""
    ratio = batch / ref.batch
    return ref.lr * ratio, ref.lr * math.sqrt(ratio)


def suggested_lr(cfg: DictConfig, ref: Reference, batch: int) -> float:
    linear, sqrt = scaled_targets(ref, batch)
    adaptive = optimizer_family(cfg) == "adaptive"
    return round_sig(min(sqrt, ADAPTIVE_LR_CAP) if adaptive else linear)


def suggested_warmup_epochs(facts: RunFacts) -> int:
    return max(1, min(5, facts.max_epochs // 20))


@review_rule
def lr_vs_batch(cfg: DictConfig, facts: RunFacts, ref: Reference | None = None) -> list[Finding]:
    ref = reference_for(cfg, ref)
    adaptive = optimizer_family(cfg) == "adaptive"
    linear, sqrt = scaled_targets(ref, facts.effective_batch)
    target = sqrt if adaptive else linear
    rule = Msg("square-root rule", "平方根缩放") if adaptive else Msg("linear rule", "线性缩放")
    lr = facts.lr_effective
    scaled = Msg(" (after optimizer.base_batch_size)", "（已按 optimizer.base_batch_size 缩放）")
    scaled = scaled if lr != facts.lr else Msg("", "")
    b, w, a = f"{facts.batch:,}", facts.world, facts.accumulation
    evidence = join(
        [
            Msg(
                f"effective batch {facts.effective_batch:,} = {b} × {w} device(s) × "
                f"{a} accumulation",
                f"有效批次 {facts.effective_batch:,} = {b} × {w} 个设备 × 梯度累积 {a}",
            ),
            Msg(f"reference: {ref.source.en}", f"参考：{ref.source.zh}"),
            Msg(
                f"linear rule {lr_str(linear)}, square-root rule {lr_str(sqrt)}; "
                f"lr {lr_str(lr)}{scaled.en} = {lr / target:.2g}× the {rule.en}",
                f"线性缩放 {lr_str(linear)}，平方根缩放 {lr_str(sqrt)}；"
                f"当前 lr {lr_str(lr)}{scaled.zh} 为{rule.zh}值的 {lr / target:.2g} 倍",
            ),
        ]
    )
    no_warmup = facts.schedule.warmup_steps == 0
    if lr < SMALL_LR * target:
        overrides = f"optimizer.lr={lr_str(suggested_lr(cfg, ref, facts.effective_batch))}"
        if no_warmup:
            overrides += f" scheduler.warmup.epochs={suggested_warmup_epochs(facts)}"
        cap = lr_str(ADAPTIVE_LR_CAP)
        return [
            Finding(
                "lr.batch_scaling",
                "optimizer.lr",
                "warning",
                Msg(
                    f"LR small for the effective batch {facts.effective_batch:,}",
                    f"对有效批次 {facts.effective_batch:,} 而言学习率偏小",
                ),
                evidence,
                overrides,
                Msg(
                    f"the {rule.en} value (capped at {cap}) with a warmup; confirm with an "
                    "LR range test",
                    f"取{rule.zh}值（上限 {cap}）并配合预热；再用 LR range test 确认",
                ),
            )
        ]
    if lr > max(linear, sqrt) and no_warmup:
        return [
            Finding(
                "lr.batch_scaling",
                "optimizer.lr",
                "warning",
                Msg(
                    "LR above the linear-scaling rule, without warmup",
                    "学习率高于线性缩放值且无预热",
                ),
                evidence,
                f"scheduler.warmup.epochs={suggested_warmup_epochs(facts)}",
                Msg(
                    "a short warmup keeps the first updates at this LR stable",
                    "短暂预热可让该学习率下的最初几次更新保持稳定",
                ),
            )
        ]
    if lr > max(linear, sqrt):
        title = Msg(
            "LR above the linear-scaling rule; the warmup eases the start",
            "学习率高于线性缩放值；预热缓和了训练初期",
        )
    else:
        title = Msg("LR within the batch-scaling range", "学习率处于批次缩放的合理区间")
    return [Finding("lr.batch_scaling", "optimizer.lr", "info", title, evidence)]


def _no_warmup(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    key = "scheduler.warmup"
    if str(get(cfg, "scheduler.name")) == "onecycle":
        pct_start = get(cfg, "scheduler.pct_start")
        title = Msg("no extra warmup: onecycle rises by itself", "无额外预热：onecycle 自带上升段")
        evidence = Msg(f"pct_start {pct_start}", f"pct_start {pct_start}")
        return [Finding("warmup.length", key, "info", title, evidence)]
    linear, sqrt = scaled_targets(reference_for(cfg), facts.effective_batch)
    large = facts.effective_batch >= LARGE_BATCH or facts.lr_effective > max(linear, sqrt)
    lr = lr_str(facts.lr_effective)
    evidence = Msg(
        f"the first step already uses the full LR {lr} on batches of {facts.effective_batch:,}",
        f"第一步就以完整学习率 {lr} 在 {facts.effective_batch:,} 的批次上更新",
    )
    if not large:
        title = Msg("no warmup (moderate batch and LR)", "无预热（批次与学习率适中）")
        return [Finding("warmup.length", key, "info", title, evidence)]
    epochs = suggested_warmup_epochs(facts)
    return [
        Finding(
            "warmup.length",
            key,
            "warning",
            Msg("no warmup", "缺少预热阶段"),
            evidence,
            f"scheduler.warmup.epochs={epochs}",
            Msg(
                f"{epochs} warmup epochs (5 is the usual choice) against early instability",
                f"预热 {epochs} 轮（常用 5 轮），避免训练初期震荡",
            ),
        )
    ]


@review_rule
def warmup(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    if not get(cfg, "scheduler"):
        return []
    steps = facts.schedule.warmup_steps
    if steps == 0:
        return _no_warmup(cfg, facts)
    share = steps / max(facts.total_steps, 1)
    epochs = steps / max(facts.steps_per_epoch, 1)
    first = facts.schedule.epoch_lrs[: min(facts.schedule.warmup_epochs + 1, 8)]
    shown = ", ".join(f"{v / facts.lr_effective:.2f}" for v in first)
    per_step = str(get(cfg, "scheduler.warmup.interval", "step")) == "step"
    evidence = Msg(
        f"{steps:,} steps = {epochs:.3g} epochs = {pct(share)} of the run; LR / base LR at the "
        f"start of the first epochs: {shown} (it changes every {'step' if per_step else 'epoch'})",
        f"{steps:,} 步 = {epochs:.3g} 轮 = 全程的 {pct(share)}；前几轮开始时的学习率 / 基础学习率："
        f"{shown}（{'每步' if per_step else '每轮'}变化一次）",
    )
    if share > MAX_WARMUP_SHARE:
        return [
            Finding(
                "warmup.length",
                "scheduler.warmup",
                "warning",
                Msg(f"warmup takes {pct(share)} of the run", f"预热占全程 {pct(share)}，过长"),
                evidence,
                f"scheduler.warmup.epochs={max(1, round(0.1 * facts.max_epochs))}",
                Msg(
                    "dataset templates: warmup_ratio 0.05-0.15",
                    "数据集模板：warmup_ratio 0.05-0.15",
                ),
            )
        ]
    title = Msg("warmup length reasonable", "预热长度合理")
    return [Finding("warmup.length", "scheduler.warmup", "info", title, evidence)]
