"""Presets: Chinese aliases compose identically, values match the recipes they reproduce,
every preset builds and says in its header what it is (its review is in
tests/analysis/test_config_review.py)."""

from __future__ import annotations

import re

import pytest
from omegaconf import OmegaConf

from ocec_lightning.config import conf_dir
from ocec_lightning.training import build_run


@pytest.mark.parametrize(
    ("zh", "en"), [("保守", "conservative"), ("平衡", "balanced"), ("激进", "aggressive")]
)
def test_chinese_preset_names_compose_identically(make_cfg, zh: str, en: str) -> None:
    assert OmegaConf.to_yaml(make_cfg([f"preset={zh}"])) == OmegaConf.to_yaml(
        make_cfg([f"preset={en}"])
    )


PRESETS = sorted(p.stem for p in (conf_dir() / "preset").glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_builds(make_cfg, preset: str) -> None:
    build_run(make_cfg([f"preset={preset}"]))


def test_every_preset_header_says_what_recipe_it_is() -> None:
    for file in (conf_dir() / "preset").glob("*.yaml"):
        lines = file.read_text(encoding="utf-8").splitlines()
        header = [line for line in lines[:3] if line.startswith("# ")]
        described = [line for line in header if not line.startswith(("# @package", "# task:"))]
        assert described, f"{file.name}: no comment saying what the preset reproduces"


# Citations of documents a user of this repository does not have ("seed 002", "SPEC §8").
_CITATION = re.compile(r"\bseeds? ?0\d\d|seed0\d\d|SPEC §", re.IGNORECASE)


def test_no_config_cites_documents_a_user_does_not_have() -> None:
    for file in sorted(conf_dir().rglob("*.yaml")):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            assert not _CITATION.search(line), f"{file.relative_to(conf_dir())}:{number}: {line}"


def test_batch4096_plans_have_the_documented_values(make_cfg) -> None:
    conservative = make_cfg(["preset=保守"])
    assert (conservative.optimizer.lr, conservative.optimizer.weight_decay) == (2e-4, 5e-4)
    assert (conservative.scheduler.factor, conservative.scheduler.patience) == (0.7, 5)
    assert conservative.model.dropout == 0.25 and conservative.loss._target_.endswith("BCELoss")
    assert conservative.loss.pos_weight == "auto"
    aggressive = make_cfg(["preset=激进"])
    assert (aggressive.optimizer.lr, aggressive.optimizer.weight_decay) == (3e-4, 1e-3)
    assert aggressive.scheduler.patience == 10
    # The review's warmup: LambdaLR (epoch+1)/5 stepped per epoch, full LR from epoch 4.
    warmup = aggressive.scheduler.warmup
    assert (warmup.epochs, warmup.start_factor, warmup.interval) == (4, 0.2, "epoch")
    assert aggressive.loss.smoothing == 0.05 and aggressive.loss.gamma == 2.0
    balanced = make_cfg(["preset=平衡"])
    assert (
        balanced.loss._target_.endswith("FocalLabelSmoothCE") and balanced.scheduler.factor == 0.7
    )
    # Early stopping leaves room for two plateau reductions: 2 × (patience + 1) + 1.
    assert [p.callbacks.early_stopping.patience for p in (conservative, balanced, aggressive)] == [
        13,
        13,
        23,
    ]


@pytest.mark.parametrize("plan", ["保守", "平衡", "激进"])
def test_batch4096_plans_change_only_their_values_of_the_batch4096_config(make_cfg, plan) -> None:
    """ "其他参数保持不变": each plan starts from the batch-4096 OCEC configuration."""
    cfg = make_cfg([f"preset={plan}"], tiny=False)
    assert (cfg.model.base_channels, cfg.model.num_blocks) == (64, 8)
    assert list(cfg.model.token_mixer_grid) == [2, 3] and cfg.model.token_mixer_layers == 2
    assert dict(cfg.data.splits) == {"train": 0.8, "val": 0.2, "test": 0.0}
    assert cfg.trainer.max_epochs == 1000 and cfg.callbacks.ema.decay == 0.999
    assert cfg.scheduler.name == "plateau" and cfg.scheduler.monitor == "val/loss"
    assert cfg.data.num_workers == 16 and cfg.test is False
    assert cfg.data.batch_size == (2048 if plan == "激进" else 4096)


def test_batch4096_config_is_reproduced(make_cfg) -> None:
    cfg = make_cfg(["preset=ocec_batch4096"], tiny=False)
    assert (
        cfg.data.batch_size == 4096
        and cfg.optimizer.lr == 1e-4
        and cfg.optimizer.weight_decay == 1e-4
    )
    assert (cfg.scheduler.factor, cfg.scheduler.patience) == (0.5, 2)
    assert (
        cfg.callbacks.ema.decay == 0.999
        and cfg.model.num_blocks == 8
        and cfg.model.base_channels == 64
    )
    assert list(cfg.model.token_mixer_grid) == [2, 3] and cfg.trainer.max_epochs == 1000
    build_run(cfg)


def test_templates_differ_from_the_batch4096_balanced_plan(make_cfg) -> None:
    template = make_cfg(["preset=template_balanced"])
    assert template.optimizer.lr == 5e-4 and template.scheduler.warmup.ratio == 0.1
    assert template.loss.label_smoothing == 0.1 and template.callbacks.ema.decay == 0.9999
    high = make_cfg(["preset=template_high_precision"])
    assert "swa" in high.callbacks and high.aug.batch.mixup_alpha == 0.2
    fast = make_cfg(["preset=template_fast"])
    assert fast.callbacks.ema is None and fast.trainer.max_epochs == 30


def test_decode_adaptive_uses_the_adaptive_lr_scheme_values(make_cfg) -> None:
    cfg = make_cfg(["preset=decode_adaptive"])
    assert cfg.optimizer.lr == 5e-4 and cfg.scheduler.warmup.start_lr == 1e-5
    assert cfg.scheduler.warmup.epochs == 10 and cfg.trainer.gradient_clip_val == 1.0
    # Long enough for every adaptive rule to fire (12 epochs left 2 observed epochs).
    assert cfg.trainer.max_epochs == 300 and cfg.callbacks.early_stopping.patience == 103


def test_high_precision_template_lets_swa_finish(make_cfg) -> None:
    cfg = make_cfg(["preset=template_high_precision"])
    assert cfg.callbacks.early_stopping is None and cfg.callbacks.swa.swa_epoch_start == 0.8


@pytest.mark.parametrize(
    ("preset", "dropout"),
    [
        ("seg_warm_restart", 0.15),
        ("seg_slow_decay", 0.15),
        ("seg_higher_lr", 0.15),
        ("seg_ultimate", 0.2),
    ],
)
def test_seg_plans_keep_the_microsegformer_run_and_patience(
    make_cfg, preset: str, dropout: float
) -> None:
    cfg = make_cfg([f"preset={preset}"])
    assert cfg.model.dropout == dropout  # the MicroSegFormer run's: 0.15; plan 4: 0.2
    assert cfg.callbacks.early_stopping.patience == 100  # the plans: patience >= 100
