"""Augmentation presets (incl. the Chinese aliases) and the train/eval pipelines: the
per-sample `aug.classification` list, the batched `aug.batched.classification` list and
normalisation, as `TrainAugmentation` puts them together."""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import albumentations as A
import numpy as np
import pytest
import torch
from albumentations.pytorch import ToTensorV2
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from ocec_lightning.data.augment import TrainAugmentation
from ocec_lightning.data.batch_aug import build_batch_transforms
from ocec_lightning.data.transforms import build_eval_transform, build_sample_transform
from ocec_lightning.errors import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"
PRESETS = ["none", "conservative", "balanced", "aggressive"]
ALIASES = {"保守": "conservative", "平衡": "balanced", "激进": "aggressive"}
BATCH_AUG = "ocec_lightning.data.batch_aug"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@cache
def _compose(*overrides: str):
    """The composed config (once per set of overrides: tests only read it)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=False)


def _train_augmentation(cfg, seed: int = 0) -> TrainAugmentation:
    normalize = cfg.data.normalize
    return TrainAugmentation(
        cfg.aug.classification,
        cfg.aug.batched.classification,
        normalize.mean,
        normalize.std,
        "classification",
        seed,
    )


def _batch(n: int = 8, height: int = 32, width: int = 64, seed: int = 0) -> torch.Tensor:
    """uint8 [n, 3, H, W] as the loader hands it to on_after_batch_transfer."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, size=(n, 3, height, width), dtype=np.uint8))


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_builds_without_warnings_and_yields_float_batches(preset):
    cfg = _compose(f"aug={preset}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Argument(s) 'var_limit' are not valid"
        augmentation = _train_augmentation(cfg)
        batch = _batch()
        for seed in range(5):  # exercise the random branches too
            out, masks = augmentation.batched(batch, None, seed=seed)
    assert augmentation.sample is None  # the presets augment on the device only
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and masks is None
    assert tuple(out.shape) == (8, 3, 32, 64)
    assert 0.0 <= out.min() and out.max() <= 1.0  # mean 0 / std 1 on [0, 1] pixels
    changed = not torch.equal(out, batch.float() / 255)
    assert changed == (preset != "none")


def test_presets_grow_as_documented():
    def names(preset: str) -> list[str]:
        aug = _compose(f"aug={preset}").aug
        assert list(aug.classification) == [] and list(aug.segmentation) == []
        return [t["_target_"].split(".")[-1] for t in aug.batched.classification]

    assert names("none") == []
    assert names("conservative") == ["HorizontalFlip", "ColorJitter", "PerSample"]
    assert names("balanced") == [*names("conservative"), "Affine", "PadCrop"]
    assert names("aggressive") == [*names("balanced"), "GaussianBlur", "GaussNoise", "PerSample"]
    aggressive = _compose("aug=aggressive")
    wrapped = [
        t.transform["_target_"] for t in aggressive.aug.batched.classification if "transform" in t
    ]
    assert wrapped == ["albumentations.CLAHE", "albumentations.ImageCompression"]
    assert _train_augmentation(aggressive).names() == [
        "HorizontalFlip",
        "ColorJitter",
        "PerSample(CLAHE)",
        "Affine",
        "PadCrop",
        "GaussianBlur",
        "GaussNoise",
        "PerSample(ImageCompression)",
    ]
    batch = aggressive.aug.batch
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
    augmentation = _train_augmentation(cfg)
    image = np.zeros((24, 40, 3), dtype=np.uint8)
    augmentation.check_output(image, None, (24, 40))  # PadCrop cuts back to the input size
    out, _ = augmentation.batched(_batch(4, 24, 40), None, seed=0)
    assert tuple(out.shape) == (4, 3, 24, 40)
    # A per-sample transform that changes the size fails in check_output with its key.
    resize = [{"_target_": "albumentations.Resize", "height": 12, "width": 20}]
    wrong = TrainAugmentation(resize, [], [0.0] * 3, [1.0] * 3, "classification", 0)
    with pytest.raises(ConfigError, match=r"'aug.classification' = \[12, 20\].*\[24, 40\]"):
        wrong.check_output(image, None, (24, 40))
    # ... and so does a batched one, however rarely it is drawn (every step runs once).
    crop = {"_target_": "albumentations.CenterCrop", "height": 12, "width": 20}
    batched = [{"_target_": f"{BATCH_AUG}.PerSample", "transform": crop, "p": 0.01}]
    wrong = TrainAugmentation([], batched, [0.0] * 3, [1.0] * 3, "classification", 0)
    with pytest.raises(ConfigError, match=r"PerSample\(CenterCrop\).*keeps the size \[24, 40\]"):
        wrong.check_output(image, None, (24, 40))


def test_eval_transform_is_deterministic_normalisation_only():
    transform = build_eval_transform(mean=[0.5, 0.5, 0.5], std=[0.25, 0.5, 1.0])
    assert [type(t) for t in transform.transforms] == [A.Normalize, ToTensorV2]
    image = np.full((32, 64, 3), 255, dtype=np.uint8)
    first = transform(image=image)["image"]
    assert torch.equal(first, transform(image=image)["image"])
    assert first[:, 0, 0].tolist() == [2.0, 1.0, 0.5]  # (1 - 0.5) / std


def test_train_augmentation_is_reproducible_with_a_seed():
    cfg = _compose("aug=aggressive")
    a, b = _train_augmentation(cfg), _train_augmentation(cfg)
    batch = _batch(16)
    outs_a = [a.batched(batch, None, seed=s)[0] for s in range(3)]
    outs_b = [b.batched(batch, None, seed=s)[0] for s in range(3)]
    assert all(torch.equal(x, y) for x, y in zip(outs_a, outs_b, strict=True))
    assert not torch.equal(outs_a[0], outs_a[1])  # but it is random
    # The per-sample list: seeded by TrainAugmentation's seed.
    items = [{"_target_": "albumentations.GaussNoise", "std_range": [0.1, 0.2], "p": 1.0}]
    image = _batch(1)[0].permute(1, 2, 0).numpy()
    first = build_sample_transform(items, seed=3)
    second = build_sample_transform(items, seed=3)
    draws = [first(image=image)["image"] for _ in range(3)]
    assert all(np.array_equal(x, second(image=image)["image"]) for x in draws)
    assert not np.array_equal(draws[0], draws[1])


def test_bad_per_sample_configs_are_one_line_config_errors():
    with pytest.raises(ConfigError, match=r"aug.classification\[0\].*'var_limit' are not valid"):
        build_sample_transform([{"_target_": "albumentations.GaussNoise", "var_limit": [10, 50]}])
    with pytest.raises(
        ConfigError, match=r"aug.classification\[1\].*brightness tuple values must be ordered"
    ) as err:
        build_sample_transform(
            [
                {"_target_": "albumentations.HorizontalFlip"},
                {"_target_": "albumentations.ColorJitter", "brightness": [2, 1]},
            ]
        )
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=r"aug.classification\[0\]"):
        build_sample_transform(["HorizontalFlip"])
    with pytest.raises(ConfigError, match="data.normalize.std"):
        build_eval_transform(std=[1.0, 0.0, 1.0])
    with pytest.raises(ConfigError, match="data.normalize.mean"):
        TrainAugmentation([], [], [0.0, 0.0], [1.0] * 3, "classification", 0)


KEY = "aug.batched.classification"
FLIP = {"_target_": f"{BATCH_AUG}.HorizontalFlip"}


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (  # a bad value: key path of the argument, the value, what would do
            {"_target_": f"{BATCH_AUG}.ColorJitter", "brightness": [2, 1]},
            rf"'{KEY}\[1\].brightness' = \[2, 1\] is invalid: \[min, max\] with 0.0 <= min <= max",
        ),
        (  # a misspelt argument: named, with the transform's arguments
            {"_target_": f"{BATCH_AUG}.ColorJitter", "brightnes": [0.5, 1.5]},
            rf"'{KEY}\[1\].brightnes' = \[0.5, 1.5\] is invalid: an argument of "
            rf"{BATCH_AUG}.ColorJitter: brightness, contrast, saturation, hue, p",
        ),
        (
            {"_target_": f"{BATCH_AUG}.Affine", "p": 1.5},
            rf"'{KEY}\[1\].p' = 1.5 is invalid: a number in \[0.0, 1.0\]",
        ),
        (
            {"_target_": f"{BATCH_AUG}.PadCrop", "padding": -1},
            rf"'{KEY}\[1\].padding' = -1 is invalid: an integer >= 0",
        ),
        (
            {"_target_": f"{BATCH_AUG}.GaussNoise", "std_range": 0.1},
            rf"'{KEY}\[1\].std_range' = 0.1 is invalid: \[min, max\]",
        ),
        (  # a misspelt argument of the wrapped transform: an error, not a warning
            {
                "_target_": f"{BATCH_AUG}.PerSample",
                "transform": {"_target_": "albumentations.GaussNoise", "var_limit": [10, 50]},
            },
            rf"'{KEY}\[1\].transform' = 'albumentations.GaussNoise' .*'var_limit' are not valid",
        ),
        (
            {"_target_": f"{BATCH_AUG}.Blur"},
            rf"'{KEY}\[1\]' = '{BATCH_AUG}.Blur' is invalid: one of {BATCH_AUG}.<Affine, ",
        ),
        (  # an albumentations transform in the batched list
            {"_target_": "albumentations.HorizontalFlip"},
            rf"'{KEY}\[1\]' = 'albumentations.HorizontalFlip' .*wrap a per-image one in PerSample",
        ),
        ("HorizontalFlip", rf"'{KEY}\[1\]' = 'HorizontalFlip' is invalid: a mapping with _target_"),
        (
            {"_target_": f"{BATCH_AUG}.PerSample"},
            rf"'{KEY}\[1\]' = '{BATCH_AUG}.PerSample' is invalid: arguments transform, p \(",
        ),
    ],
)
def test_bad_batched_configs_are_one_line_config_errors(item, message):
    items = OmegaConf.create([FLIP, item])  # as composed: a ListConfig of DictConfigs
    with pytest.raises(ConfigError, match=message) as err:
        TrainAugmentation([], items, [0.0] * 3, [1.0] * 3, "classification", 0)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match=message):  # plain Python lists alike
        build_batch_transforms([FLIP, item], KEY)
