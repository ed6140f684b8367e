"""Segmentation augmentation: HorizontalFlipSwap, image and mask moving together under
every preset, and deterministic eval transforms."""

from __future__ import annotations

import warnings
from functools import cache

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from ocec_lightning.config import compose_config
from ocec_lightning.data.transforms import (
    HorizontalFlipSwap,
    build_augmentations,
    build_eval_transform,
    build_train_transform,
)
from ocec_lightning.errors import ConfigError

PRESETS = ["none", "conservative", "balanced", "aggressive"]
ALIASES = {"保守": "conservative", "平衡": "balanced", "激进": "aggressive"}
IGNORE = 255
# One colour per group of ids; a flip pair shares its colour (the flip swaps the ids,
# not the pixels' colours).
GROUP_OF_ID = {0: 0, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 6, 10: 10}
COLOURS = {
    0: (40, 40, 170),
    1: (230, 190, 150),
    2: (90, 50, 20),
    4: (250, 250, 250),
    6: (210, 40, 40),
    10: (30, 190, 40),
}


@cache
def _aug(preset: str, task: str = "segmentation"):
    """The `aug` node of `task=<task> aug=<preset>` (composed once per test session)."""
    return compose_config([f"task={task}", f"aug={preset}"]).aug


def _face(size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A left/right asymmetric cartoon face mask and an image painted from it."""
    mask = np.zeros((size, size), np.uint8)
    cv2.ellipse(mask, (32, 36), (20, 24), 0, 0, 360, 1, -1)
    mask[:14, :40] = 10  # hair on the left only: asymmetric
    mask[22:25, 18:28], mask[22:25, 36:46] = 2, 3  # brows
    mask[28:33, 19:27], mask[28:33, 37:45] = 4, 5  # eyes
    mask[34:44, 30:34] = 6  # nose
    image = np.zeros((size, size, 3), np.uint8)
    for cls, group in GROUP_OF_ID.items():
        image[mask == cls] = COLOURS[group]
    return image, mask


def _agreement(image: np.ndarray, mask: np.ndarray) -> float:
    """Share of interior labelled pixels whose colour is closest to their own group's."""
    groups = np.full(mask.shape, -1)
    for cls, group in GROUP_OF_ID.items():
        groups[mask == cls] = group
    # Interior: the 5x5 neighbourhood has one id (blur and JPEG smear the edges).
    kernel = np.ones((5, 5), np.uint8)
    interior = (cv2.erode(mask, kernel) == cv2.dilate(mask, kernel)) & (mask != IGNORE)
    keys = sorted(COLOURS)
    # Colours after photometric changes: each group's median, measured in this image.
    means = np.array(
        [
            np.median(image[interior & (groups == g)], axis=0)
            if (interior & (groups == g)).any()
            else np.full(3, 1e6)
            for g in keys
        ]
    )
    pixels = image[interior].astype(np.float64)
    nearest = np.asarray(keys)[np.argmin(((pixels[:, None, :] - means[None]) ** 2).sum(-1), axis=1)]
    return float((nearest == groups[interior]).mean())


def test_flip_swaps_left_and_right_ids():
    mask = np.zeros((4, 8), np.uint8)
    mask[:, :2] = 4  # left eye on the left
    mask[1, 2] = 2  # a left-brow pixel
    mask[2, 3] = 6  # nose: not in a pair
    mask[0, 7] = 255  # ignore stays ignore
    image = np.zeros((4, 8, 3), np.uint8)
    image[..., 0] = np.arange(8)
    flip = HorizontalFlipSwap(pairs=[[2, 3], [4, 5]], p=1.0)
    out = flip(image=image, mask=mask)
    expected = np.zeros((4, 8), np.uint8)
    expected[:, 6:] = 5  # now on the right, and a right eye
    expected[1, 5] = 3
    expected[2, 4] = 6
    expected[0, 0] = 255
    np.testing.assert_array_equal(out["mask"], expected)
    np.testing.assert_array_equal(out["image"][0, :, 0], np.arange(8)[::-1])
    # Flipping twice gives the original back; p=0 never flips; no pairs = plain flip.
    twice = flip(image=out["image"], mask=out["mask"])
    np.testing.assert_array_equal(twice["mask"], mask)
    np.testing.assert_array_equal(
        HorizontalFlipSwap(pairs=[[2, 3]], p=0.0)(image=image, mask=mask)["mask"], mask
    )
    np.testing.assert_array_equal(
        HorizontalFlipSwap(p=1.0)(image=image, mask=mask)["mask"], mask[:, ::-1]
    )
    assert isinstance(flip, A.HorizontalFlip)


def test_flip_pairs_are_validated_as_config_errors():
    target = "ocec_lightning.data.transforms.HorizontalFlipSwap"
    for pairs in ([[2, 2]], [[2, 3], [3, 4]], [[1, 2, 3]], "ab"):
        with pytest.raises(ConfigError, match=r"aug.segmentation\[0\].*pairs"):
            build_augmentations([{"_target_": target, "pairs": pairs}], "aug.segmentation")
    with pytest.raises(ConfigError, match="'pairz' are not valid"):
        build_augmentations([{"_target_": target, "pairz": [[2, 3]]}], "aug.segmentation")


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_with_the_segmentation_task(preset, make_cfg):
    cfg = make_cfg(["task=segmentation", f"aug={preset}"], tiny=False)
    items = OmegaConf.to_container(cfg.aug.segmentation, resolve=True)
    if preset != "none":
        assert items[0]["_target_"].endswith("HorizontalFlipSwap")
        assert items[0]["pairs"] == [[2, 3], [4, 5]]  # task.flip_pairs
    transform = build_train_transform(cfg.aug.segmentation, seed=0, key="aug.segmentation")
    image, mask = _face()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(10):
            out = transform(image=image, mask=mask)
    assert out["image"].shape == (3, 64, 64) and out["image"].dtype == torch.float32
    assert out["mask"].shape == (64, 64)
    assert set(out["mask"].unique().tolist()) <= set(range(11)) | {IGNORE}


def test_presets_grow_as_documented():
    def names(preset: str) -> list[str]:
        return [t["_target_"].split(".")[-1] for t in _aug(preset).segmentation]

    assert names("none") == []
    assert names("conservative") == ["HorizontalFlipSwap", "ColorJitter"]
    assert names("balanced") == [*names("conservative"), "Affine"]
    assert names("aggressive") == [
        *names("conservative"),
        "Affine",
        "GaussianBlur",
        "GaussNoise",
        "ImageCompression",
    ]
    for preset in ("balanced", "aggressive"):
        affine = _aug(preset).segmentation[2]
        assert affine.mask_interpolation == cv2.INTER_NEAREST and affine.fill_mask == IGNORE
    balanced = _aug("balanced").segmentation[2]
    assert list(balanced.rotate) == [-15, 15] and list(balanced.scale) == [0.9, 1.1]


@pytest.mark.parametrize("alias", list(ALIASES))
def test_chinese_aliases_carry_the_segmentation_lists(alias):
    chinese, english = _aug(alias), _aug(ALIASES[alias])
    assert OmegaConf.to_yaml(chinese, resolve=True) == OmegaConf.to_yaml(english, resolve=True)


def test_classification_configs_still_resolve_the_segmentation_lists():
    # The whole config is resolved when it is saved, also without task.flip_pairs.
    aug = _aug("balanced", "classification")
    items = OmegaConf.to_container(aug, resolve=True)["segmentation"]
    assert items[0]["pairs"] == [] and items[2]["fill_mask"] == IGNORE


@pytest.mark.parametrize("preset", PRESETS)
def test_image_and_mask_move_together(preset):
    augment = A.Compose(build_augmentations(_aug(preset).segmentation, "aug.segmentation"), seed=1)
    image, mask = _face()
    assert _agreement(image, mask) == 1.0
    moved = 0
    for _ in range(12):
        out = augment(image=image, mask=mask)
        assert _agreement(out["image"], out["mask"]) > 0.97
        moved += not np.array_equal(out["mask"], mask)
    # Sanity check of the check: the original mask no longer fits a transformed image.
    if preset != "none":
        assert moved > 0
        flipped = HorizontalFlipSwap(pairs=[[2, 3], [4, 5]], p=1.0)(image=image, mask=mask)
        assert _agreement(flipped["image"], mask) < 0.9


def test_eval_transform_is_deterministic_for_image_and_mask():
    image, mask = _face()
    transform = build_eval_transform()
    first, second = transform(image=image, mask=mask), transform(image=image, mask=mask)
    assert torch.equal(first["image"], second["image"]) and torch.equal(
        first["mask"], second["mask"]
    )
    np.testing.assert_array_equal(first["mask"].numpy(), mask)
