"""Review rules for regularisation, the loss and augmentation.

- dropout ≥ `HIGH_DROPOUT`: warning; ≥ `NOTE_DROPOUT` on the OCEC classifier: note with
  the OCEC review's 0.2-0.25; below 0.15 for segmentation on ≤ 2,000 images: note (the
  MicroSegFormer run used 0.15).
- weight decay on plain Adam (coupled L2): warning; light AdamW decay: note.
- pos_weight: a fixed value 2× or more off negatives/positives of the train split, or
  none with a minority class under `MINORITY_SHARE`: warning.
- label smoothing ≥ `HIGH_LABEL_SMOOTHING`: warning.
- augmentation: validation and test get only the eval transform (our datamodule never
  augments them: said, with the transforms); a plain HorizontalFlip in a segmentation
  task with left/right classes is an error; no augmentation on < 5,000 samples: warning.
"""

from __future__ import annotations

from omegaconf import DictConfig

from ocec_lightning.analysis.review.facts import RunFacts, get
from ocec_lightning.analysis.review.findings import Finding, Msg, lr_str, num, pct
from ocec_lightning.analysis.review.registry import review_rule

HIGH_DROPOUT, NOTE_DROPOUT = 0.5, 0.3
MINORITY_SHARE = 0.35
HIGH_LABEL_SMOOTHING = 0.2
SMALL_DATA = 5_000


@review_rule
def dropout(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    key = "model.dropout" if get(cfg, "model.dropout") is not None else "model.drop_rate"
    if get(cfg, key) is None:
        return []
    value, train = float(get(cfg, key)), facts.data.train
    n = num(train) if train else "?"
    params = f", {num(facts.parameters)} parameters" if facts.parameters else ""
    params_zh = f"，参数量 {num(facts.parameters)}" if facts.parameters else ""
    evidence = Msg(
        f"dropout {value} before the classifier; {n} train samples{params}",
        f"分类器前 dropout {value}；训练样本 {n}{params_zh}",
    )
    if value >= HIGH_DROPOUT:
        title = Msg("dropout very high", "dropout 过高")
        return [Finding("dropout.level", key, "warning", title, evidence, f"{key}=0.25")]
    if facts.task == "segmentation" and train and train <= 2000 and value < 0.15:
        title = Msg("light dropout for a small dataset", "对小数据集而言 dropout 偏弱")
        why = Msg(
            "MicroSegFormer: 0.15, 0.2 against overfitting", "MicroSegFormer：0.15，过拟合时 0.2"
        )
        return [Finding("dropout.level", key, "info", title, evidence, f"{key}=0.15", why)]
    if facts.task == "classification" and value >= NOTE_DROPOUT:
        title = Msg(f"dropout {value} may be on the high side", f"dropout {value} 可能偏高")
        why = Msg("try 0.2-0.25", "可尝试 0.2 或 0.25")
        return [Finding("dropout.level", key, "info", title, evidence, f"{key}=0.25", why)]
    title = Msg(f"dropout {value} reasonable", f"dropout {value} 合理")
    return [Finding("dropout.level", key, "info", title, evidence)]


@review_rule
def weight_decay(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    key = "optimizer.weight_decay"
    value = float(get(cfg, key, 0.0) or 0.0)
    target = str(get(cfg, "optimizer._target_", ""))
    name = target.rsplit(".", 1)[-1]
    norms = bool(get(cfg, "optimizer.decay_norm_and_bias"))
    evidence = Msg(
        f"{name} weight_decay {lr_str(value)}; norm weights and biases "
        f"{'decayed' if norms else 'not decayed'}",
        f"{name} weight_decay {lr_str(value)}；"
        f"归一化层权重与偏置{'参与' if norms else '不参与'}衰减",
    )
    if target.endswith(".Adam") and value > 0:
        title = Msg(
            "Adam couples weight decay with the adaptive step (L2, not decoupled)",
            "Adam 的权重衰减与自适应步长耦合（L2 正则，而非解耦的权重衰减）",
        )
        return [Finding("weight_decay.coupled", key, "warning", title, evidence, "optimizer=adamw")]
    if value == 0:
        title = Msg("no weight decay", "未使用权重衰减")
        return [Finding("weight_decay.none", key, "info", title, evidence, f"{key}=1e-4")]
    if facts.task == "classification" and value < 5e-4 and name == "AdamW":
        title = Msg("weight decay on the light side", "权重衰减偏弱")
        why = Msg("5e-4 or 1e-3", "5e-4 或 1e-3")
        return [Finding("weight_decay.level", key, "info", title, evidence, f"{key}=5e-4", why)]
    title = Msg("weight decay reasonable", "权重衰减合理")
    return [Finding("weight_decay.level", key, "info", title, evidence)]


@review_rule
def pos_weight(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    share, counts = facts.data.positive_share, facts.data.class_counts
    if facts.task != "classification" or share is None or not counts:
        return []
    neg, pos = list(counts.values())[0], list(counts.values())[-1]
    ratio = neg / max(pos, 1)
    balance = Msg(
        f"train split {num(neg)} negative / {num(pos)} positive ({pct(share)} positive): "
        f"negatives/positives = {ratio:.3g}",
        f"训练集 负类 {num(neg)} / 正类 {num(pos)}（正类占 {pct(share)}）：负/正 = {ratio:.3g}",
    )
    minority = min(share, 1 - share)
    loss = str(get(cfg, "loss._target_", "")).rsplit(".", 1)[-1]
    if loss != "BCELoss":
        if minority < MINORITY_SHARE:
            title = Msg(
                f"{loss} without class weights on imbalanced data",
                f"{loss} 在不平衡数据上没有类别权重",
            )
            return [
                Finding(
                    "pos_weight.focal",
                    "loss",
                    "warning",
                    title,
                    balance,
                    "data.weighted_sampler=true",
                )
            ]
        title = Msg(
            f"{loss}: classes nearly balanced, γ reweights hard samples",
            f"{loss}：类别基本平衡，γ 负责关注难例",
        )
        return [Finding("pos_weight.focal", "loss", "info", title, balance)]
    key, value = "loss.pos_weight", get(cfg, "loss.pos_weight")
    if value == "auto":
        title = Msg(f"auto pos_weight = {ratio:.3g}", f"自动计算 pos_weight = {ratio:.3g}")
        effect = Msg(
            f"; it scales the positive-class loss by {ratio - 1:+.0%}",
            f"；正类损失相应缩放 {ratio - 1:+.0%}",
        )
        return [Finding("pos_weight.auto", key, "info", title, balance + effect)]
    if value is None:
        if minority < MINORITY_SHARE:
            title = Msg("no pos_weight on imbalanced data", "数据不平衡却未设置 pos_weight")
            return [Finding("pos_weight.none", key, "warning", title, balance, f"{key}=auto")]
        title = Msg("no pos_weight; classes nearly balanced", "未设置 pos_weight；类别基本平衡")
        return [Finding("pos_weight.none", key, "info", title, balance)]
    off = max(float(value), ratio) / max(min(float(value), ratio), 1e-12)
    severity = "warning" if off >= 2 else "info"
    title = Msg(
        f"pos_weight {value} vs the data's {ratio:.3g}", f"pos_weight {value}，而数据为 {ratio:.3g}"
    )
    override = f"{key}=auto" if severity == "warning" else None
    return [Finding("pos_weight.fixed", key, severity, title, balance, override)]


@review_rule
def label_smoothing(cfg: DictConfig, facts: RunFacts) -> list[Finding]:
    key = "loss.smoothing" if get(cfg, "loss.smoothing") is not None else "loss.label_smoothing"
    if not get(cfg, key):
        return []
    value = float(get(cfg, key))
    mix = float(get(cfg, "aug.batch.prob", 0.0) or 0.0) if facts.task == "classification" else 0
    evidence = Msg(f"targets {1 - value:g} / {value:g}", f"目标变为 {1 - value:g} / {value:g}")
    if mix:
        evidence = evidence + Msg(
            f"; MixUp/CutMix on {pct(mix, 0)} of batches softens the targets too",
            f"；MixUp/CutMix 作用于 {pct(mix, 0)} 的批次，也会软化目标",
        )
    if value >= HIGH_LABEL_SMOOTHING:
        title = Msg("strong label smoothing", "标签平滑过强")
        return [Finding("label_smoothing.level", key, "warning", title, evidence, f"{key}=0.1")]
    title = Msg(f"label smoothing {value:g}", f"标签平滑 {value:g}")
    return [Finding("label_smoothing.level", key, "info", title, evidence)]


def _transform_name(item: object) -> str:
    """`PerSample(CLAHE)` for a wrapped albumentations transform, else the class name."""
    item = item if isinstance(item, dict) else {}
    name = str(item.get("_target_", "?")).rsplit(".", 1)[-1]
    inner = (
        (item.get("transform") or {}).get("_target_")
        if isinstance(item.get("transform"), dict)
        else None
    )
    return f"{name}({str(inner).rsplit('.', 1)[-1]})" if inner else name


@review_rule
def augmentation(
    cfg: DictConfig, facts: RunFacts, eval_names: list[str] | None = None
) -> list[Finding]:
    task, key = facts.task, "aug"
    # Per-sample transforms (aug.<task>) run first, then the batched ones on the device.
    transforms = [*(get(cfg, f"aug.{task}", []) or []), *(get(cfg, f"aug.batched.{task}") or [])]
    names = [_transform_name(t) for t in transforms]
    shown = ", ".join(f"{n} p={t.get('p', 1.0)}" for n, t in zip(names, transforms, strict=True))
    shown = shown or "none"
    val = ", ".join(eval_names) if eval_names else "normalisation"
    # A flip that does not swap the left/right ids: albumentations' plain HorizontalFlip,
    # or the batched HorizontalFlip without `pairs`.
    plain_flip = any(
        n == "HorizontalFlip" and not t.get("pairs") for n, t in zip(names, transforms, strict=True)
    )
    evidence = Msg(
        f"train: {shown}; validation/test: {val} only (the datamodule never augments them, so no "
        "augmentation reaches validation)",
        f"训练：{shown}；验证/测试：仅 {val}（数据模块从不对其做增强，验证集不受增强影响）",
    )
    if task == "segmentation" and plain_flip and get(cfg, "task.flip_pairs"):
        title = Msg(
            "a plain HorizontalFlip mirrors left/right classes without swapping their ids",
            "普通 HorizontalFlip 翻转了图像，却没有交换左右类别的 id",
        )
        why = Msg(
            "a flip given pairs: ${task.flip_pairs} (batched HorizontalFlip / HorizontalFlipSwap)",
            "改用带 pairs: ${task.flip_pairs} 的翻转（HorizontalFlip / HorizontalFlipSwap）",
        )
        return [Finding("aug.flip_swap", key, "error", title, evidence, "aug=conservative", why)]
    batch = get(cfg, "aug.batch") or {}
    prob = float(batch.get("prob", 0) or 0)
    if task == "classification" and prob > 0:
        mixup, cutmix = batch.get("mixup_alpha"), batch.get("cutmix_alpha")
        evidence = evidence + Msg(
            f"; MixUp α {mixup} / CutMix α {cutmix} on {pct(prob, 0)} of train batches",
            f"；MixUp α {mixup} / CutMix α {cutmix} 作用于 {pct(prob, 0)} 的训练批次",
        )
    train = facts.data.train
    if not names and train and train < SMALL_DATA:
        title = Msg("no augmentation on a small dataset", "小数据集却没有数据增强")
        return [Finding("aug.none", key, "warning", title, evidence, "aug=conservative")]
    name = get(cfg, "aug.name")
    title = Msg(
        f"aug={name}: train split only, validation stays clean",
        f"aug={name}：只增强训练集，验证集保持干净",
    )
    return [Finding("aug.train_only", key, "info", title, evidence)]
