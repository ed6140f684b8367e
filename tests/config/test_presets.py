"""Presets: Chinese aliases compose identically, values match their seed documents."""

from __future__ import annotations

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


def test_every_preset_cites_its_source() -> None:
    for file in (conf_dir() / "preset").glob("*.yaml"):
        header = file.read_text(encoding="utf-8").splitlines()[:3]
        assert any("seed 00" in line.lower() or "alias" in line for line in header), file.name


def test_seed000_plans_have_the_documented_values(make_cfg) -> None:
    conservative = make_cfg(["preset=保守"])
    assert (conservative.optimizer.lr, conservative.optimizer.weight_decay) == (2e-4, 5e-4)
    assert (conservative.scheduler.factor, conservative.scheduler.patience) == (0.7, 5)
    assert conservative.model.dropout == 0.25 and conservative.loss._target_.endswith("BCELoss")
    aggressive = make_cfg(["preset=激进"])
    assert (aggressive.optimizer.lr, aggressive.optimizer.weight_decay) == (3e-4, 1e-3)
    assert (aggressive.scheduler.patience, aggressive.scheduler.warmup.epochs) == (10, 5)
    assert aggressive.loss.smoothing == 0.05 and aggressive.loss.gamma == 2.0
    balanced = make_cfg(["preset=平衡"])
    assert (
        balanced.loss._target_.endswith("FocalLabelSmoothCE") and balanced.scheduler.factor == 0.7
    )


def test_seed000_current_config_is_reproduced(make_cfg) -> None:
    cfg = make_cfg(["preset=ocec_seed000"], tiny=False)
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


def test_seed001_templates_differ_from_seed000_balanced(make_cfg) -> None:
    template = make_cfg(["preset=template_balanced"])
    assert template.optimizer.lr == 5e-4 and template.scheduler.warmup.ratio == 0.1
    assert template.loss.label_smoothing == 0.1 and template.callbacks.ema.decay == 0.9999
    high = make_cfg(["preset=template_high_precision"])
    assert "swa" in high.callbacks and high.aug.batch.mixup_alpha == 0.2
    fast = make_cfg(["preset=template_fast"])
    assert fast.callbacks.ema is None and fast.trainer.max_epochs == 30


def test_decode_adaptive_uses_seed003_values(make_cfg) -> None:
    cfg = make_cfg(["preset=decode_adaptive"])
    assert cfg.optimizer.lr == 5e-4 and cfg.scheduler.warmup.start_lr == 1e-5
    assert cfg.scheduler.warmup.epochs == 10 and cfg.trainer.gradient_clip_val == 1.0
