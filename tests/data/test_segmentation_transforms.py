"""Segmentation augmentation: HorizontalFlipSwap (per sample) and the batched
HorizontalFlip with `pairs`, image and mask moving together through BatchAugmentation
under every preset, and deterministic eval transforms."""

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
from ocec_lightning.data.augment import TrainAugmentation
from ocec_lightning.data.batch_aug import BatchAugmentation, HorizontalFlip, build_batch_transforms
from ocec_lightning.data.transforms import (
    HorizontalFlipSwap,
    build_augmentations,
    build_eval_transform,
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


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _train_augmentation(aug, seed: int = 0) -> TrainAugmentation:
    return TrainAugmentation(
        aug.segmentation, aug.batched.segmentation, [0.0] * 3, [1.0] * 3, "segmentation", seed, 11
    )


def _run(augmentation: BatchAugmentation, images: np.ndarray, masks: np.ndarray, seed: int):
    """uint8 HWC images / uint8 masks -> the batched pipeline -> uint8 HWC, uint8 masks."""
    batch = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    out, out_masks = augmentation(batch, torch.from_numpy(masks), seed=seed)
    pixels = (out.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return pixels, out_masks.numpy().astype(np.uint8)


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


def test_batched_flip_equals_the_per_sample_flip_swap():
    image, mask = _face()
    pairs = [[2, 3], [4, 5]]
    out, out_masks = _run(
        BatchAugmentation([HorizontalFlip(pairs, p=1.0)]), image[None], mask[None], 0
    )
    reference = HorizontalFlipSwap(pairs=pairs, p=1.0)(image=image, mask=mask)
    np.testing.assert_array_equal(out[0], reference["image"])
    np.testing.assert_array_equal(out_masks[0], reference["mask"])


@pytest.mark.parametrize("pairs", [[[2, 2]], [[2, 3], [3, 4]], [[1, 2, 3]], "ab", [[2, 256]]])
def test_flip_pairs_are_validated_as_config_errors(pairs):
    target = "ocec_lightning.data.transforms.HorizontalFlipSwap"
    with pytest.raises(ConfigError, match=r"aug.segmentation\[0\].*pairs"):
        build_augmentations([{"_target_": target, "pairs": pairs}], "aug.segmentation")
    batched = {"_target_": "ocec_lightning.data.batch_aug.HorizontalFlip", "pairs": pairs}
    with pytest.raises(
        ConfigError,
        match=r"'aug.batched.segmentation\[0\].pairs' = .* is invalid: pairs of class ids",
    ) as err:
        build_batch_transforms([batched], "aug.batched.segmentation")
    assert "\n" not in str(err.value)


def test_flip_pairs_must_be_class_ids_and_arguments_spelt_right():
    target = "ocec_lightning.data.transforms.HorizontalFlipSwap"
    with pytest.raises(ConfigError, match="'pairz' are not valid"):
        build_augmentations([{"_target_": target, "pairz": [[2, 3]]}], "aug.segmentation")
    batched = [{"_target_": "ocec_lightning.data.batch_aug.HorizontalFlip", "pairs": [[2, 11]]}]
    with pytest.raises(ConfigError, match=r"task.flip_pairs.*below task.num_classes=11"):
        TrainAugmentation([], batched, [0.0] * 3, [1.0] * 3, "segmentation", 0, 11)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_with_the_segmentation_task(preset, make_cfg):
    cfg = make_cfg(["task=segmentation", f"aug={preset}"], tiny=False)
    items = OmegaConf.to_container(cfg.aug.batched.segmentation, resolve=True)
    assert OmegaConf.to_container(cfg.aug.segmentation) == []  # nothing per sample
    if preset != "none":
        assert items[0]["_target_"].endswith("batch_aug.HorizontalFlip")
        assert items[0]["pairs"] == [[2, 3], [4, 5]]  # task.flip_pairs
    augmentation = _train_augmentation(cfg.aug)
    image, mask = _face()
    images, masks = np.stack([image] * 8), np.stack([mask] * 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        augmentation.check_output(image, mask, (64, 64))
        for seed in range(3):
            batch = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
            out, out_masks = augmentation.batched(batch, torch.from_numpy(masks), seed=seed)
    assert out.shape == (8, 3, 64, 64) and out.dtype == torch.float32
    assert out_masks.shape == (8, 64, 64) and out_masks.dtype == torch.int64
    assert set(out_masks.unique().tolist()) <= set(range(11)) | {IGNORE}


def test_presets_grow_as_documented():
    def names(preset: str) -> list[str]:
        return [t["_target_"].split(".")[-1] for t in _aug(preset).batched.segmentation]

    assert names("none") == []
    assert names("conservative") == ["HorizontalFlip", "ColorJitter"]
    assert names("balanced") == [*names("conservative"), "Affine"]
    assert names("aggressive") == [
        *names("conservative"),
        "Affine",
        "GaussianBlur",
        "GaussNoise",
        "PerSample",
    ]
    for preset in ("balanced", "aggressive"):
        affine = _aug(preset).batched.segmentation[2]
        assert affine.fill_mask == IGNORE and affine.fill == 0
    balanced = _aug("balanced").batched.segmentation[2]
    assert list(balanced.rotate) == [-15, 15] and list(balanced.scale) == [0.9, 1.1]
    aggressive = _aug("aggressive").batched.segmentation
    assert aggressive[5].transform["_target_"] == "albumentations.ImageCompression"


@pytest.mark.parametrize("alias", list(ALIASES))
def test_chinese_aliases_carry_the_segmentation_lists(alias):
    chinese, english = _aug(alias), _aug(ALIASES[alias])
    assert OmegaConf.to_yaml(chinese, resolve=True) == OmegaConf.to_yaml(english, resolve=True)


def test_classification_configs_still_resolve_the_segmentation_lists():
    # The whole config is resolved when it is saved, also without task.flip_pairs.
    aug = _aug("balanced", "classification")
    items = OmegaConf.to_container(aug, resolve=True)["batched"]["segmentation"]
    assert items[0]["pairs"] == [] and items[2]["fill_mask"] == IGNORE
    # ... and builds: a flip without pairs is a plain flip.
    assert [type(t).__name__ for t in build_batch_transforms(items, "k")][0] == "HorizontalFlip"


@pytest.mark.parametrize("preset", PRESETS)
def test_image_and_mask_move_together(preset):
    augmentation = _train_augmentation(_aug(preset)).batched
    image, mask = _face()
    assert _agreement(image, mask) == 1.0
    out, out_masks = _run(augmentation, np.stack([image] * 12), np.stack([mask] * 12), seed=1)
    moved = 0
    for i in range(12):
        assert _agreement(out[i], out_masks[i]) > 0.97
        moved += not np.array_equal(out_masks[i], mask)
    # Sanity check of the check: the original mask no longer fits a transformed image.
    if preset == "none":
        assert moved == 0
    else:
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
    # Validation batches: no seed, so the batched pipeline only normalises.
    augmentation = _train_augmentation(_aug("aggressive")).batched
    batch = torch.from_numpy(image[None]).permute(0, 3, 1, 2).contiguous()
    out, out_masks = augmentation(batch, torch.from_numpy(mask[None]), seed=None)
    np.testing.assert_array_equal(out_masks[0].numpy(), mask)
    torch.testing.assert_close(out[0], first["image"], atol=1e-6, rtol=0)
