"""Dataset-aware recommendations ("智能推荐：基于数据集特征的参数建议").

From the train size, class balance and image size (read from the data for parquet /
folder / csv, derived from the config for synthetic data) the review recommends:
- batch size: a power of two giving ≥ 100 optimizer steps per epoch for classification
  (16…4096), ≥ 25 for segmentation (8…32: large images, dense targets; the MicroSegFormer
  recipe ran 32 × 31 steps);
- LR for that batch: the square-root (Adam-type) or linear (SGD) rule from the recipe's
  reference (`rules_lr.REFERENCES`);
- epochs by data size, as the dataset-size templates: < 2,000 train samples 200 (high
  precision), < 50,000 100 (balanced), larger 50 (large data converges in fewer epochs);
- `pos_weight` = negatives / positives when the minority class is under 40%;
- input size: the stored images' median size when the model input up-samples them more
  than 2× (rounded to multiples of 8, of 32 for segmentation);
- a preset: the 平衡 (balanced) plan for large eye data, the dataset-size templates for
  smaller sets, warm restarts for segmentation (the recommended MicroSegFormer LR plan).
"""

from __future__ import annotations

import math

from omegaconf import DictConfig

from ocec_lightning.analysis.review.facts import RunFacts, get
from ocec_lightning.analysis.review.findings import Finding, Msg, lr_str, num, pct
from ocec_lightning.analysis.review.rules_lr import (
    Reference,
    optimizer_family,
    reference_for,
    suggested_lr,
)

# Steps per epoch the recommended batch aims at: dense masks carry more signal per image.
TARGET_STEPS = {"classification": 100, "segmentation": 25}
BATCH_RANGE = {"classification": (16, 4096), "segmentation": (8, 32)}
SMALL_DATA, LARGE_DATA = 2_000, 50_000
IMBALANCED = 0.40
UPSAMPLING = 2.0


def _pow2_floor(value: float) -> int:
    return 2 ** int(math.floor(math.log2(max(1.0, value))))


def recommend_batch(facts: RunFacts) -> int:
    low, high = BATCH_RANGE.get(facts.task, BATCH_RANGE["classification"])
    per_device = (facts.data.train or 0) / (
        facts.world * facts.accumulation * TARGET_STEPS.get(facts.task, 100)
    )
    return min(high, max(low, _pow2_floor(per_device)))


def recommend_epochs(train: int) -> tuple[int, Msg]:
    if train < SMALL_DATA:
        return 200, Msg("high-precision template (small data)", "高精度模板（小数据）")
    if train < LARGE_DATA:
        return 100, Msg("balanced template", "平衡模板")
    return 50, Msg(
        "large data converges in fewer epochs (upstream OCEC: 50)",
        "大数据集收敛所需轮数更少（上游 OCEC：50）",
    )


def recommend_preset(facts: RunFacts) -> tuple[str, Msg]:
    train = facts.data.train or 0
    if facts.task == "segmentation":
        return "seg_warm_restart", Msg(
            "warm restarts, the recommended MicroSegFormer plan, patience 100",
            "热重启（MicroSegFormer 推荐方案），patience 100",
        )
    if train >= LARGE_DATA:
        return "balanced", Msg(
            "the 平衡 (balanced) plan, written for ~470k eye crops",
            "平衡方案，针对约 47 万张眼部裁剪图",
        )
    if train >= SMALL_DATA:
        return "template_balanced", Msg("balanced template (平衡模板)", "平衡模板")
    return "template_high_precision", Msg(
        "high-precision template: strong regularisation for small data",
        "高精度模板：小数据需强正则",
    )


def _size_suggestion(facts: RunFacts) -> tuple[int, int] | None:
    native, size = facts.data.native_size, facts.data.image_size
    if not native or not facts.data.measured:
        return None
    scale = max(size[0] / native[0], size[1] / native[1])
    if scale <= UPSAMPLING:
        return None
    step = 32 if facts.task == "segmentation" else 8
    return tuple(max(step, int(math.ceil(v / step)) * step) for v in native)  # type: ignore[return-value]


def recommend(cfg: DictConfig, facts: RunFacts, ref: Reference | None = None) -> list[Finding]:
    data = facts.data
    if not data.train:
        return []
    train = data.train
    origin = (
        Msg("read from the data", "读取自数据")
        if data.measured
        else Msg("derived from the config", "由配置推算")
    )
    shape = Msg(
        f"{data.source}: {num(train)} train / {num(data.counts.get('val', 0))} val / "
        f"{num(data.counts.get('test', 0))} test samples ({origin.en})",
        f"{data.source}：训练 {num(train)} / 验证 {num(data.counts.get('val', 0))} / 测试 "
        f"{num(data.counts.get('test', 0))}（{origin.zh}）",
    )
    out: list[Finding] = []
    batch = recommend_batch(facts)
    effective = batch * facts.world * facts.accumulation
    adaptive = optimizer_family(cfg) == "adaptive"
    lr = suggested_lr(cfg, reference_for(cfg, ref), effective)
    spe = math.ceil(train / effective)
    target = TARGET_STEPS.get(facts.task, 100)
    out.append(
        Finding(
            "dataset.batch_lr",
            "data.batch_size",
            "info",
            Msg(f"batch {batch} with lr {lr_str(lr)}", f"batch {batch}，lr {lr_str(lr)}"),
            shape
            + Msg(
                f"; batch {batch} gives ~{spe} steps/epoch (target ≥ {target}); "
                f"{'square-root' if adaptive else 'linear'} rule for the effective batch "
                f"{effective:,}",
                f"；batch {batch} 约每轮 {spe} 步（目标 ≥ {target}）；"
                f"按有效批次 {effective:,} 做{'平方根' if adaptive else '线性'}缩放",
            ),
            f"data.batch_size={batch} optimizer.lr={lr_str(lr)}",
        )
    )
    epochs, why = recommend_epochs(train)
    out.append(
        Finding(
            "dataset.epochs",
            "trainer.max_epochs",
            "info",
            Msg(f"{epochs} epochs", f"{epochs} 轮"),
            shape,
            f"trainer.max_epochs={epochs}",
            why,
        )
    )
    share = data.positive_share
    if facts.task == "classification" and share is not None:
        counts = list((data.class_counts or {}).values())
        ratio = counts[0] / max(counts[-1], 1)
        balanced = min(share, 1 - share) >= IMBALANCED
        out.append(
            Finding(
                "dataset.pos_weight",
                "loss.pos_weight",
                "info",
                Msg(
                    f"class balance {pct(share)} positive: "
                    + ("pos_weight optional" if balanced else f"pos_weight {ratio:.3g}"),
                    f"类别比例：正类 {pct(share)}，"
                    + ("pos_weight 可选" if balanced else f"pos_weight {ratio:.3g}"),
                ),
                Msg(
                    f"negatives/positives = {ratio:.3g} in the train split",
                    f"训练集负/正 = {ratio:.3g}",
                ),
                None if balanced else "loss=bce loss.pos_weight=auto",
            )
        )
    size = _size_suggestion(facts)
    if size is not None:
        native = data.native_size or (0, 0)
        median = f"{native[0]:g}×{native[1]:g}"
        out.append(
            Finding(
                "dataset.image_size",
                "data.image_size",
                "info",
                Msg(
                    f"input {list(data.image_size)} up-samples the images (median {median})",
                    f"输入尺寸 {list(data.image_size)} 会放大图像（中位尺寸 {median}）",
                ),
                Msg(
                    "up-sampling adds compute, not information (upstream OCEC chose 24×40 from "
                    "measured eye sizes)",
                    "放大只增加计算量，不增加信息（上游 OCEC 依据实测的眼睛尺寸选择了 24×40）",
                ),
                f"data.image_size=[{size[0]},{size[1]}]",
            )
        )
    preset, why = recommend_preset(facts)
    out.append(
        Finding(
            "dataset.preset",
            "preset",
            "info",
            Msg(f"preset={preset}", f"preset={preset}"),
            shape,
            f"preset={preset}",
            why,
        )
    )
    return out


def data_summary(cfg: DictConfig, facts: RunFacts) -> dict:
    """The data part of the review's summary (JSON-friendly)."""
    data = facts.data
    return {
        "source": data.source,
        "measured": data.measured,
        "counts": data.counts,
        "class_counts": data.class_counts,
        "positive_share": data.positive_share,
        "image_size": list(data.image_size),
        "native_size": list(data.native_size) if data.native_size else None,
        "problem": data.problem,
        "group_column": get(cfg, "data.group_column"),
    }
