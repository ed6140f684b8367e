"""Augmentation presets (incl. the Chinese aliases) and the train/eval pipelines."""

from __future__ import annotations

import warnings
from pathlib import Path

import albumentations as A
import numpy as np
import pytest
import torch
from albumentations.pytorch import ToTensorV2
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ocec_lightning.data.transforms import build_eval_transform, build_train_transform
from ocec_lightning.errors import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"
PRESETS = ["none", "conservative", "balanced", "aggressive"]
ALIASES = {"保守": "conservative", "平衡": "balanced", "激进": "aggressive"}


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=False)


def _image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(32, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_builds_without_warnings_and_yields_a_chw_tensor(preset):
    cfg = _compose(f"aug={preset}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Argument(s) 'var_limit' are not valid"
        transform = build_train_transform(cfg.aug.classification, seed=0)
        for _ in range(20):  # exercise the random branches too
            out = transform(image=_image())["image"]
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert tuple(out.shape) == (3, 32, 64)
    assert 0.0 <= out.min() and out.max() <= 1.0  # mean 0 / std 1 on [0, 1] pixels


def test_presets_grow_as_documented():
    names = {
        p: [t["_target_"].split(".")[-1] for t in _compose(f"aug={p}").aug.classification]
        for p in PRESETS
    }
    assert names["none"] == []
    assert names["conservative"] == ["HorizontalFlip", "ColorJitter", "CLAHE"]
    assert names["balanced"] == [*names["conservative"], "Affine", "CropAndPad", "RandomCrop"]
    assert names["aggressive"] == [
        *names["balanced"],
        "GaussianBlur",
        "GaussNoise",
        "ImageCompression",
    ]
    batch = _compose("aug=aggressive").aug.batch
    assert (batch.mixup_alpha, batch.cutmix_alpha, batch.prob) == (0.2, 1.0, 0.5)
    assert _compose("aug=conservative").aug.batch.prob == 0.0


@pytest.mark.parametrize("alias", list(ALIASES))
def test_chinese_alias_composes_exactly_like_the_english_preset(alias):
    chinese = _compose(f"aug='{alias}'")
    english = _compose(f"aug={ALIASES[alias]}")
    assert OmegaConf.to_yaml(chinese.aug) == OmegaConf.to_yaml(english.aug)
    assert OmegaConf.to_yaml(chinese) == OmegaConf.to_yaml(english)  # the whole config


def test_random_crop_follows_data_image_size():
    cfg = _compose("aug=balanced", "data.image_size=[24,40]")
    transform = build_train_transform(cfg.aug.classification, seed=0)
    image = np.zeros((24, 40, 3), dtype=np.uint8)
    assert tuple(transform(image=image)["image"].shape) == (3, 24, 40)


def test_eval_transform_is_deterministic_normalisation_only():
    transform = build_eval_transform(mean=[0.5, 0.5, 0.5], std=[0.25, 0.5, 1.0])
    assert [type(t) for t in transform.transforms] == [A.Normalize, ToTensorV2]
    image = np.full((32, 64, 3), 255, dtype=np.uint8)
    first = transform(image=image)["image"]
    assert torch.equal(first, transform(image=image)["image"])
    assert first[:, 0, 0].tolist() == [2.0, 1.0, 0.5]  # (1 - 0.5) / std


def test_train_transform_is_reproducible_with_a_seed():
    cfg = _compose("aug=aggressive")
    a = build_train_transform(cfg.aug.classification, seed=3)
    b = build_train_transform(cfg.aug.classification, seed=3)
    outs_a = [a(image=_image())["image"] for _ in range(5)]
    outs_b = [b(image=_image())["image"] for _ in range(5)]
    assert all(torch.equal(x, y) for x, y in zip(outs_a, outs_b, strict=True))
    assert not all(torch.equal(outs_a[0], x) for x in outs_a[1:])  # but it is random


def test_bad_transform_configs_are_one_line_config_errors():
    with pytest.raises(ConfigError, match=r"aug.classification\[0\].*'var_limit' are not valid"):
        build_train_transform([{"_target_": "albumentations.GaussNoise", "var_limit": [10, 50]}])
    with pytest.raises(
        ConfigError, match=r"aug.classification\[1\].*brightness tuple values must be ordered"
    ) as err:
        build_train_transform(
            [
                {"_target_": "albumentations.HorizontalFlip"},
                {"_target_": "albumentations.ColorJitter", "brightness": [2, 1]},
            ]
        )
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"aug.classification\[0\]"):
        build_train_transform(["HorizontalFlip"])
    with pytest.raises(ConfigError, match="data.normalize.std"):
        build_eval_transform(std=[1.0, 0.0, 1.0])
