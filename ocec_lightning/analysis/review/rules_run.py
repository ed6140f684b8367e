"""Review rules for the run around the LR: EMA, SWA, early stopping, precision, gradient
clipping and the optimizer steps an epoch holds.

- EMA: its time constant 1/(1−decay) optimizer steps, in epochs. Longer than the whole run
  without decay warmup (the average still holds the initial weights), or longer than
  early-stopping patience (early stopping judges stale weights): warning.
- SWA: Lightning copies the average into the model only after the last epoch, so early
  stopping that can fire before SWA starts is an error; after it started, a warning.
- precision 32 on an accelerator that may be a GPU: warning ("use_amp").
- fewer than `MIN_STEPS_PER_EPOCH` optimizer steps per epoch: warning; none: error.
"""

from __future__ import annotations

import math

from omegaconf import DictConfig

from ocec_lightning.analysis.review.dataset import TARGET_STEPS, recommend_batch
from ocec_lightning.analysis.review.facts import RunFacts, get
from ocec_lightning.analysis.review.findings import Finding, Msg, join, num, pct
from ocec_lightning.analysis.review.registry import review_rule

NICE_DECAYS = (0.9999, 0.9998, 0.9995, 0.999, 0.998, 0.995, 0.99, 0.98, 0.95, 0.9)
MIN_STEPS_PER_EPOCH = 10


def decay_for(horizon_steps: float, every: int = 1) -> float:
    """The largest 'round' decay whose time constant is at most `horizon_steps`."""
    for decay in NICE_DECAYS:
        if every / (1 - decay) <= horizon_steps:
            return decay
    return NICE_DECAYS[-1]


def _ema_evidence(facts: RunFacts, decay: float, every: int) -> tuple[Msg, float]:
    """The EMA's time constant (nominal, or at the run's end with decay warmup)."""
    spe = max(facts.steps_per_epoch, 1)
    horizon = every / (1 - decay)
    updates = facts.total_steps // every
    text = Msg(
        f"time constant 1/(1−{decay}) = {horizon:,.0f} steps = {horizon / spe:.3g} epochs at "
        f"{spe:,} steps/epoch; {updates:,} updates in the run",
        f"时间常数 1/(1−{decay}) = {horizon:,.0f} 步 = {horizon / spe:.3g} 轮（每轮 {spe:,} 步）；"
        f"全程共 {updates:,} 次更新",
    )
    if not facts.ema_warmup:
        return text, horizon
    reach = (10 * decay - 1) / (1 - decay)
    end = every / (1 - min(decay, (1 + updates) / (10 + updates)))
    text = text + Msg(
        f"; decay warmup min(decay, (1+n)/(10+n)) reaches {decay} after {reach:,.0f} updates; at "
        f"the end the average spans {end:,.0f} steps = {end / spe:.3g} epochs",
        f"；decay 预热 min(decay, (1+n)/(10+n)) 在 {reach:,.0f} 次更新后才达到 {decay}；"
        f"训练结束时平均窗口为 {end:,.0f} 步 = {end / spe:.3g} 轮",
    )
    return text, end


@review_rule
def ema(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    key = "callbacks.ema.decay"
    if facts.ema_decay is None:
        title = Msg("no EMA of the weights", "未使用权重 EMA")
        evidence = Msg("validation and checkpoints use the raw weights", "验证与检查点使用原始权重")
        return [Finding("ema.horizon", key, "info", title, evidence)]
    decay = facts.ema_decay
    every = int(get(cfg, "callbacks.ema.update_every_n_steps", 1) or 1)
    evidence, horizon = _ema_evidence(facts, decay, every)
    updates = facts.total_steps // every
    spe = max(facts.steps_per_epoch, 1)
    if not facts.ema_warmup and updates < horizon:
        left = pct(decay**updates)
        return [
            Finding(
                "ema.horizon",
                key,
                "warning",
                Msg("the EMA spans more than the whole run", "EMA 的时间常数比整个训练还长"),
                evidence
                + Msg(
                    f"; at the end {left} of the average is still the initial weights",
                    f"；训练结束时平均权重中仍有 {left} 来自初始权重",
                ),
                "callbacks.ema.warmup=true",
                Msg(
                    "decay warmup (TensorFlow's rule) or a smaller decay",
                    "启用 decay 预热（TensorFlow 规则）或减小 decay",
                ),
            )
        ]
    stop = facts.es_patience
    if stop is not None and horizon / spe > stop:
        target_epochs = max(1.0, stop / 2)
        lag = f"{horizon / spe:.3g}"
        return [
            Finding(
                "ema.horizon",
                key,
                "warning",
                Msg(
                    f"EMA lags ~{lag} epochs, longer than early-stopping patience {stop}",
                    f"EMA 约滞后 {lag} 轮，超过早停 patience {stop}",
                ),
                evidence
                + Msg(
                    "; validation (on EMA weights) shows an improvement that late, so early "
                    "stopping and the plateau judge stale weights",
                    "；验证使用 EMA 权重，改进要滞后这么久才显现，"
                    "早停与平台调度器评估的是过时的权重",
                ),
                f"callbacks.ema.decay={decay_for(target_epochs * spe, every)}",
                Msg(
                    f"time constant ≤ {target_epochs:g} epochs (0.999 may be too slow)",
                    f"时间常数 ≤ {target_epochs:g} 轮（decay=0.999 可能过于保守）",
                ),
            )
        ]
    title = Msg("EMA time constant fits the run", "EMA 时间常数与训练匹配")
    return [Finding("ema.horizon", key, "info", title, evidence)]


@review_rule
def swa(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    if facts.swa_start is None:
        return []
    start, last, key = facts.swa_start, facts.max_epochs - 1, "callbacks.swa"
    given = get(cfg, "callbacks.swa.swa_epoch_start")
    evidence = Msg(
        f"SWA averages epochs {start}-{last} (swa_epoch_start {given}); Lightning copies the "
        "average into the model only after the last epoch",
        f"SWA 平均第 {start}-{last} 轮（swa_epoch_start {given}）；Lightning 只在最后一轮之后"
        "才把平均权重写回模型",
    )
    if start >= facts.max_epochs:
        title = Msg("SWA never starts", "SWA 永远不会开始")
        override = "callbacks.swa.swa_epoch_start=0.8"
        return [Finding("swa.start", key, "error", title, evidence, override)]
    stop = facts.es_patience
    if stop is not None:
        before = stop < start + 1
        title = (
            Msg(
                f"early stopping (patience {stop}) can end the run before SWA starts at epoch "
                f"{start}",
                f"早停（patience {stop}）可能在第 {start} 轮 SWA 开始之前就结束训练",
            )
            if before
            else Msg(
                "an early stop after SWA started discards the average",
                "SWA 开始后一旦早停，平均权重即被丢弃",
            )
        )
        why = Msg("SWA needs the whole run", "SWA 需要完整跑完训练")
        severity = "error" if before else "warning"
        override = "callbacks.early_stopping=null"
        return [Finding("swa.vs_early_stopping", key, severity, title, evidence, override, why)]
    notes = [evidence]
    if facts.ema_decay is not None:
        notes.append(
            Msg(
                "EMA is on too: validation and checkpoints use the EMA weights; SWA replaces the "
                "raw ones at the end",
                "同时启用了 EMA：验证与检查点使用 EMA 权重；SWA 在结束时替换原始权重",
            )
        )
    title = Msg("SWA runs to the end of training", "SWA 可以完整执行")
    return [Finding("swa.start", key, "info", title, join(notes))]


@review_rule
def early_stopping(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    key, stop = "callbacks.early_stopping.patience", facts.es_patience
    if stop is None:
        title = Msg("no early stopping", "未启用早停")
        epochs = facts.max_epochs
        evidence = Msg(f"every run trains all {epochs} epochs", f"每次训练都跑满 {epochs} 轮")
        return [Finding("early_stopping.off", key, "info", title, evidence)]
    if stop >= facts.max_epochs:
        title = Msg("early stopping can never fire", "早停永远不会触发")
        evidence = Msg(
            f"patience {stop} ≥ max_epochs {facts.max_epochs}",
            f"patience {stop} ≥ max_epochs {facts.max_epochs}",
        )
        return [Finding("early_stopping.never", key, "info", title, evidence)]
    return []


@review_rule
def precision(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    value = str(get(cfg, "trainer.precision", "32-true"))
    accelerator = str(get(cfg, "trainer.accelerator", "auto"))
    key = "trainer.precision"
    if value in ("32-true", "32", "64-true", "64") and accelerator != "cpu":
        return [
            Finding(
                "precision.amp_off",
                key,
                "warning",
                Msg("mixed precision (AMP) is off", "未启用混合精度训练（AMP）"),
                Msg(
                    f"precision {value} with accelerator={accelerator}: on a GPU bf16-mixed runs "
                    "about 2× faster and halves activation memory",
                    f"precision {value}，accelerator={accelerator}："
                    "在 GPU 上 bf16-mixed 约快 2 倍，"
                    "激活显存减半",
                ),
                "trainer.precision=bf16-mixed",
                Msg(
                    "16-mixed on pre-Ampere GPUs; check numerical stability",
                    "Ampere 之前的 GPU 用 16-mixed；需验证数值稳定性",
                ),
            )
        ]
    title = Msg(f"precision {value}", f"精度 {value}")
    evidence = Msg(f"accelerator={accelerator}", f"accelerator={accelerator}")
    return [Finding("precision.ok", key, "info", title, evidence)]


@review_rule
def grad_clip(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    value = get(cfg, "trainer.gradient_clip_val")
    key = "trainer.gradient_clip_val"
    if value is None:
        title = Msg("no gradient clipping", "未使用梯度裁剪")
        evidence = Msg(
            "fine while the loss is stable; the adaptive-LR recipe and the MicroSegFormer "
            "recipe clip at 1.0",
            "损失稳定时无妨；自适应学习率配方与 MicroSegFormer 配方都裁剪到 1.0",
        )
        return [Finding("grad_clip.off", key, "info", title, evidence)]
    algorithm = get(cfg, "trainer.gradient_clip_algorithm")
    title = Msg(f"clipping at {value} ({algorithm})", f"梯度裁剪 {value}（{algorithm}）")
    evidence = Msg("guards the high-LR phases", "保护高学习率阶段")
    return [Finding("grad_clip.on", key, "info", title, evidence)]


@review_rule
def steps(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    key, train = "steps_per_epoch", facts.data.train
    origin = {
        "data": Msg("counted in the data", "数据实测"),
        "config": Msg("from the config", "由配置推算"),
        "estimate": Msg("placeholder: data size unknown", "占位估计：数据量未知"),
    }[facts.steps_source]
    n, spe, total = num(train) if train else "?", facts.steps_per_epoch, facts.total_steps
    per = f"({facts.batch:,} × {facts.world}) / {facts.accumulation}"
    evidence = Msg(
        f"{n} train samples / {per} = {spe:,} steps ({origin.en}); {facts.max_epochs} epochs = "
        f"{total:,} steps",
        f"训练样本 {n} / {per} = {spe:,} 步（{origin.zh}）；{facts.max_epochs} 轮 = {total:,} 步",
    )
    if train and spe == 0:
        batch = 2 ** int(math.log2(max(1, train // facts.world)))
        title = Msg(
            "no training step: each process gets less than one full batch",
            "没有训练步：每个进程分到的样本不足一个完整批次",
        )
        return [Finding("steps.none", key, "error", title, evidence, f"data.batch_size={batch}")]
    if train and spe < MIN_STEPS_PER_EPOCH:
        batch, target = recommend_batch(facts), TARGET_STEPS.get(facts.task, 100)
        return [
            Finding(
                "steps.few",
                key,
                "warning",
                Msg(f"only {spe} optimizer steps per epoch", f"每轮只有 {spe} 个优化步"),
                evidence,
                f"data.batch_size={batch}",
                Msg(
                    f"≥ {target} steps per epoch: plateau, early stopping and EMA work in epochs",
                    f"每轮 ≥ {target} 步：平台调度、早停和 EMA 都以轮为单位工作",
                ),
            )
        ]
    title = Msg(f"{spe:,} optimizer steps per epoch", f"每轮 {spe:,} 个优化步")
    return [Finding("steps.ok", key, "info", title, evidence)]
