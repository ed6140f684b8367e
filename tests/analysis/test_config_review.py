"""`ocec-analyze config`: a review of a composed config in the manner of the review of the
batch-4096 OCEC configuration.

Every preset passes its own review (no error-level finding); the review of the batch-4096
configuration flags what that hand-written review flags; the recipe traps (early stopping before the
scheduler acts, before the first restart or before SWA, a cosine climbing back after
T_max, warmup + patience longer than the run, a rank without a full batch) are errors;
file data is read for counts, balance and image size; markdown / JSON / the terminal
table come out in English and Chinese.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from ocec_lightning.analysis.review.cli import review_config
from ocec_lightning.analysis.review.findings import Review
from ocec_lightning.analysis.review.render import markdown, to_json
from ocec_lightning.cli.analyze import main as analyze_main
from ocec_lightning.config import conf_dir
from ocec_lightning.optim.schedulers import cosine as cosine_module

PRESETS = sorted(p.stem for p in (conf_dir() / "preset").glob("*.yaml"))
# The batch-4096 run: 2 GPUs and 470,811 crops (not part of the recipe, see
# conf/preset/ocec_batch4096.yaml).
BATCH4096_RUN = ["preset=ocec_batch4096", "trainer.devices=2", "data.source.num_samples=470811"]


def _by_rule(review: Review, rule: str):
    found = [f for f in review.findings if f.rule == rule]
    assert found, f"no finding {rule}: {[f.rule for f in review.findings]}"
    return found[0]


def _errors(review: Review) -> list[str]:
    return [
        f"{f.rule}: {f.title.en} ({f.evidence.en})"
        for f in review.findings
        if f.severity == "error"
    ]


@pytest.fixture(scope="module")
def batch4096() -> Review:
    return review_config(BATCH4096_RUN)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_passes_its_own_review(preset: str) -> None:
    review = review_config([f"preset={preset}"])
    assert not _errors(review), _errors(review)
    assert not [f for f in review.findings if f.rule == "config.builds"]  # build_run passed


def test_batch4096_review_flags_what_the_hand_written_review_flags(batch4096: Review) -> None:
    assert batch4096.summary["effective_batch"] == 8192 and batch4096.summary["world_size"] == 2
    lr = _by_rule(batch4096, "lr.batch_scaling")
    assert lr.severity == "warning" and "8,192" in lr.title.en  # lr 1e-4 small for 4096 × 2
    assert lr.suggestion.startswith("optimizer.lr=1.6e-3")  # square-root rule from 1e-4 @ 32
    patience = _by_rule(batch4096, "plateau.patience")  # patience 2 too sensitive
    assert patience.severity == "warning" and patience.suggestion == "scheduler.patience=5"
    factor = _by_rule(batch4096, "plateau.factor")  # factor 0.5 aggressive
    assert factor.severity == "warning" and factor.suggestion == "scheduler.factor=0.7"
    assert _by_rule(batch4096, "warmup.length").severity == "warning"  # no warmup
    amp = _by_rule(batch4096, "precision.amp_off")  # use_amp False
    assert amp.suggestion == "trainer.precision=bf16-mixed"
    # EMA horizon: 1/(1-0.999) = 1,000 steps; 376,649 train crops / 8,192 = 45 steps/epoch.
    ema = _by_rule(batch4096, "ema.horizon")
    assert "1,000 steps = 22.2 epochs" in ema.evidence.en and "45 steps/epoch" in ema.evidence.en
    assert ema.severity == "warning"  # lags longer than early-stopping patience 8
    assert not _errors(batch4096)


def test_batch4096_review_renders_in_both_languages(batch4096: Review, tmp_path: Path) -> None:
    en, zh = markdown(batch4096, "en"), markdown(batch4096, "zh")
    assert "| Learning rate `optimizer.lr` | 1e-4 |" in en and "## Findings" in en
    assert "学习率偏小" in zh and "## 参数一览" in zh and "## 问题与分析" in zh
    assert "缺少预热阶段" in zh and "对验证集的正常波动过于敏感" in zh
    data = json.loads(to_json(batch4096, "zh"))
    assert data["counts"]["error"] == 0 and data["summary"]["steps_per_epoch"] == 45
    assert any(row["key"] == "callbacks.ema.decay" for row in data["parameters"])


def test_aggressive_warmup_is_the_reviews_epoch_plus_one_over_five() -> None:
    review = review_config(["preset=激进"])
    warmup = _by_rule(review, "warmup.length")
    assert "0.20, 0.40, 0.60, 0.80, 1.00" in warmup.evidence.en  # held per epoch, full from 4
    assert "every epoch" in warmup.evidence.en


def test_slow_decay_review_says_the_plans_premise_is_wrong() -> None:
    review = review_config(["preset=seg_slow_decay"])
    finding = _by_rule(review, "cosine.short_t_max")
    assert finding.severity == "warning" and finding.suggestion == "scheduler.T_max=null"
    assert "92: 37.6% vs 58.5%" in finding.evidence.en and "premise is wrong" in finding.evidence.en
    table = {int(r["epoch"]): r["percent"] for r in review.lr_table}
    assert table[92] == pytest.approx(37.6, abs=0.05) and table[199] < 0.2  # eta_min held


def test_a_cosine_that_climbs_back_after_t_max_is_an_error(monkeypatch) -> None:
    def periodic(optimizer, horizon, T_max=None, eta_min=0.0):  # noqa: N803 - torch's name
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max or horizon, eta_min)

    monkeypatch.setattr(cosine_module, "build", periodic)  # torch's periodic cosine
    review = review_config(["preset=seg_slow_decay"])
    finding = _by_rule(review, "cosine.climbs_back")
    assert finding.severity == "error" and "19.9%" in finding.title.en  # at epoch 199


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        (["scheduler.patience=10"], "plateau.vs_early_stopping"),  # ES 8 before 11 bad epochs
        (
            ["scheduler.warmup.epochs=5", "scheduler.patience=10", "callbacks.early_stopping=null"],
            "plateau.reachable",  # 5 + 11 > 12 epochs
        ),
        (["scheduler=cosine_warm_restarts"], "restarts.never"),  # first restart at 25 > 12
        (
            ["scheduler=cosine_warm_restarts", "trainer.max_epochs=100"],
            "restarts.vs_early_stopping",  # patience 8 < T_0 25
        ),
        (["callbacks=swa", "trainer.max_epochs=100"], "swa.vs_early_stopping"),  # 8 < epoch 79
        (["trainer.devices=2", "data.batch_size=8192"], "steps.none"),  # 4,800 per rank < 8,192
    ],
)
def test_recipe_traps_are_errors(overrides: list[str], rule: str) -> None:
    review = review_config(overrides)
    assert _by_rule(review, rule).severity == "error"


def test_plain_flip_in_segmentation_is_an_error() -> None:
    review = review_config(
        ["task=segmentation", "aug.segmentation=[{_target_:albumentations.HorizontalFlip,p:0.5}]"]
    )
    assert _by_rule(review, "aug.flip_swap").severity == "error"


def test_default_run_review_and_ema_spanning_the_run() -> None:
    review = review_config([])
    assert not _errors(review)
    aug = _by_rule(review, "aug.train_only")
    assert (
        "validation/test: normalise (mean [0.0, 0.0, 0.0], std [1.0, 1.0, 1.0]) only"
        in aug.evidence.en
    )
    short = review_config(["callbacks.ema.warmup=false", "trainer.max_epochs=2"])
    assert "spans more than the whole run" in _by_rule(short, "ema.horizon").title.en


def _tiny_parquet(path: Path, n: int = 60, open_share: float = 0.2) -> Path:
    rows, rng = [], np.random.default_rng(0)
    for i in range(n):
        label = int(i < n * open_share)
        image = rng.integers(0, 255, (16, 24, 3), dtype=np.uint8)
        ok, png = cv2.imencode(".png", image)
        assert ok
        rows.append(
            {
                "split": "train" if i % 5 else "val",
                "label": "open" if label else "closed",
                "class_id": label,
                "image_path": f"img_{i}.png",
                "image_bytes": png.tobytes(),
            }
        )
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_file_data_is_read_for_counts_balance_and_size(tmp_path: Path) -> None:
    data = _tiny_parquet(tmp_path / "eyes.parquet")
    base = ["data=parquet", f"data.path={data}", "data.batch_size=8", "test=false"]
    review = review_config([*base, "loss.pos_weight=null"])
    facts = review.summary["data"]
    assert facts["measured"] and facts["counts"] == {"train": 48, "val": 12, "test": 0}
    assert facts["class_counts"] == {"closed": 39, "open": 9}
    assert facts["native_size"] == [16.0, 24.0]
    assert _by_rule(review, "pos_weight.none").severity == "warning"  # 18.8% open, no weight
    recs = {r.rule: r for r in review.recommendations}
    assert recs["dataset.pos_weight"].suggestion == "loss=bce loss.pos_weight=auto"
    assert recs["dataset.image_size"].suggestion == "data.image_size=[16,24]"  # 2.7× upsampled
    assert recs["dataset.preset"].suggestion == "preset=template_high_precision"  # < 2,000
    assert recs["dataset.batch_lr"].suggestion.startswith("data.batch_size=16 ")


def test_cli_writes_markdown_and_json_and_prints_tables(tmp_path: Path, capsys) -> None:
    out_md, out_json = tmp_path / "review.md", tmp_path / "review.json"
    assert analyze_main(["config", "preset=平衡", "--lang", "zh", "--out", str(out_md)]) == 0
    assert "# 配置评审：`preset=平衡`" in out_md.read_text(encoding="utf-8")
    assert analyze_main(["config", "preset=保守", "--format", "json", "--out", str(out_json)]) == 0
    assert json.loads(out_json.read_text(encoding="utf-8"))["counts"]["error"] == 0
    capsys.readouterr()
    assert analyze_main(["config", "scheduler.patience=10", "--strict"]) == 1  # an error
    printed = capsys.readouterr().out
    assert "Config review" in printed and "Verdict: 1 error · " in printed
