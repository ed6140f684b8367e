"""Config validation: building a run (no data read) rejects each bad value, naming its
key and a valid alternative."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocec_lightning.errors import ConfigError
from ocec_lightning.training import build_run


@pytest.mark.parametrize(
    ("overrides", "key", "hint"),
    [
        (["optimizer.lr=0"], "optimizer.lr", "(0, 10]"),
        (["optimizer.betas=[0.9,1.5]"], "optimizer.betas", "[0.9, 0.999]"),
        (["optimizer=sgd", "optimizer.momentum=0"], "optimizer.nesterov", "momentum > 0"),
        (["optimizer=timm", "optimizer.opt=lino"], "optimizer.opt", "lion"),
        (["optimizer.layer_decay=1.5"], "optimizer.layer_decay", "0.75"),
        (["scheduler.factor=1.5"], "scheduler.factor", "(0, 1)"),
        (["scheduler.monitor=val/iou"], "scheduler.monitor", "val/f1"),
        (["scheduler.interval=step"], "scheduler.interval", "'epoch'"),
        (
            ["scheduler.warmup.epochs=20"],
            "scheduler.warmup.epochs",
            "shorter than the run (trainer.max_epochs=12)",
        ),
        (
            ["scheduler.warmup.epochs=1", "scheduler.warmup.steps=5"],
            "scheduler.warmup",
            "only one of",
        ),
        (["scheduler=cosine", "scheduler.eta_min=1"], "scheduler.eta_min", "below optimizer.lr"),
        (["scheduler.warmup.start_lr=1"], "scheduler.warmup.start_lr", "(optimizer.lr)"),
        (["task.monitor=val/loss"], "task.monitor_mode", "'min'"),
        (["task.monitor_mode=min"], "task.monitor_mode", "'max' for the monitor val/f1"),
        (["scheduler.monitor=val/f1"], "scheduler.mode", "'max' for the monitor val/f1"),
        (["data.cache.mode=memory"], "data.cache.mode", "ram, disk"),
        (["task.monitor=val/miou"], "task.monitor", "val/auroc"),
        (["loss.pos_weight=often"], "loss.pos_weight", "'auto'"),
        (["loss=focal", "loss.alpha=2"], "loss.alpha", "[0, 1]"),
        (["data.image_size=[32]"], "data.image_size", "[32, 64]"),
        (["data.batch_size=0"], "data.batch_size", ">= 1"),
        (["trainer.precision=8-mixed"], "trainer.precision", "bf16-mixed"),
        (
            ["trainer=ddp_cpu", "trainer.sync_batchnorm=true"],
            "trainer.sync_batchnorm",
            "false on CPU",
        ),
        (["callbacks.ema.decay=1.0"], "callbacks.ema.decay", "0.999"),
        (["model.backbone=resnet"], "model.backbone", "inverted_se"),
        (["task=segmentation", "loss=bce"], "loss", "loss=ce_dice"),
        (["task=segmentation", "model=ocec"], "model", "model=microsegformer"),
        (["loss=dice"], "loss", "loss=bce"),
        (
            [
                "model.backbone=convnext",
                "model.num_blocks=4",
                "data.image_size=[24,40]",
                "model.token_mixer_grid=[3,2]",
            ],
            "model.token_mixer_grid",
            "[3, 5]",
        ),
    ],
)
def test_invalid_values_are_rejected_with_key_value_and_alternative(
    make_cfg, overrides, key, hint
) -> None:
    cfg = make_cfg(overrides)
    with pytest.raises(ConfigError) as err:
        build_run(cfg)
    message = str(err.value)
    assert f"'{key}'" in message, message
    assert hint in message, message
    assert "\n" not in message


def test_default_config_and_every_named_example_validate(make_cfg) -> None:
    for overrides in (
        [],
        ["optimizer=sgd", "scheduler=cosine", "loss=focal"],
        ["aug=激进"],
        ["model.backbone=convnext", "model.head=transformer"],
        ["scheduler.warmup.ratio=0.1"],
    ):
        build_run(make_cfg(overrides))


def test_warmup_in_steps_longer_than_the_run_fails_before_the_first_step(make_cfg) -> None:
    from ocec_lightning.training import run_training

    cfg = make_cfg(
        ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "scheduler.warmup.steps=50"]
    )
    with pytest.raises(ConfigError, match=r"scheduler.warmup.*3 steps = 1 epochs × 3"):
        run_training(cfg)
    assert not list(Path(cfg.paths.output_dir).rglob("*.ckpt")), "no checkpoint may be written"
