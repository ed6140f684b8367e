"""The batched presets draw the same augmentations as the per-sample albumentations
pipelines they replaced (conf/aug/*.yaml before commit 6d5923a, copied below).

Both pipelines augment the same N synthetic eye crops (24x40) with fixed seeds; per
image we measure brightness, its change against the source crop, contrast (grey std)
and its change, mean saturation, the share of black fill pixels, the horizontal centre
of mass of the dark pixels and whether the crop came out mirrored. For every statistic:

- means agree within 4 standard errors (SE = sqrt(var_old / N + var_new / N));
- standard deviations agree within 4 SE (SE of each from a fixed-seed bootstrap);
- the two-sample KS statistic stays below its critical value at alpha = 0.001,
  sqrt(-ln(alpha / 2) / 2) * sqrt(2 / N) = 0.122 for N = 512.

A correct port fails one of these checks by chance with well under 1 % probability per
statistic (4 SE: 6e-5, KS: 1e-3); the seeds are fixed, so the outcome is too.
`test_the_comparison_detects_a_doubled_brightness_range` shows the checks have power.

What remains between the two is albumentations' uint8 arithmetic, which the batched
transforms (float) do not copy: brightness and contrast round down (-0.45 grey levels
per operation), GaussNoise truncates the noise toward zero (realised std ~0.37 levels
below the drawn one), OpenCV's HSV keeps hue in 2-degree steps. Over 8 seed pairs that
showed as at most 2.9 SE (brightness change) and KS 0.111 (balanced), inside the bounds.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import albumentations as A
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from scipy.stats import ks_2samp

from ocec_lightning.config import compose_config
from ocec_lightning.data.batch_aug import BatchAugmentation, build_batch_transforms
from ocec_lightning.data.transforms import build_augmentations
from ocec_lightning.synthetic.eyes import generate_eyes
from ocec_lightning.synthetic.faces import flip_face, generate_faces
from ocec_lightning.synthetic.faces_scene import FLIP_PAIRS

N, HEIGHT, WIDTH = 512, 24, 40
ALPHA = 1e-3
MAX_Z = 4.0
IGNORE = 255


def ks_bound(n: int) -> float:
    """Two-sample KS critical value at ALPHA for two samples of n (0.122 for 512)."""
    return math.sqrt(-math.log(ALPHA / 2) / 2) * math.sqrt(2 / n)


# ----------------------------------------------- the old presets (git show 8039296:conf/aug/...)
_FLIP = {"_target_": "albumentations.HorizontalFlip", "p": 0.5}
_JITTER = {
    "_target_": "albumentations.ColorJitter",
    "brightness": [0.875, 1.125],
    "contrast": [0.5, 1.5],
    "saturation": [0.5, 1.5],
    "hue": [-0.05, 0.05],
    "p": 0.5,
}
_CLAHE = {
    "_target_": "albumentations.CLAHE",
    "clip_limit": 4.0,
    "tile_grid_size": [8, 8],
    "p": 0.01,
}
_AFFINE = {
    "_target_": "albumentations.Affine",
    "scale": [0.95, 1.05],
    "translate_percent": [-0.03, 0.03],
    "rotate": [-5, 5],
    "border_mode": 0,
    "fill": 0,
    "p": 0.5,
}
_PAD = {
    "_target_": "albumentations.CropAndPad",
    "px": 4,
    "keep_size": False,
    "border_mode": 0,
    "fill": 0,
    "p": 1.0,
}
_CROP = {
    "_target_": "albumentations.RandomCrop",
    "height": HEIGHT,
    "width": WIDTH,
}  # data.image_size
_DEGRADE = [
    {
        "_target_": "albumentations.GaussianBlur",
        "blur_limit": [3, 5],
        "sigma_limit": [0.1, 1.2],
        "p": 0.2,
    },
    {"_target_": "albumentations.GaussNoise", "std_range": [0.01, 0.05], "p": 0.2},
    {
        "_target_": "albumentations.ImageCompression",
        "compression_type": "jpeg",
        "quality_range": [50, 95],
        "p": 0.3,
    },
]
OLD_CLASSIFICATION = {
    "conservative": [_FLIP, _JITTER, _CLAHE],
    "balanced": [_FLIP, _JITTER, _CLAHE, _AFFINE, _PAD, _CROP],
    "aggressive": [_FLIP, _JITTER, _CLAHE, _AFFINE, _PAD, _CROP, *_DEGRADE],
}
OLD_SEGMENTATION_BALANCED = [
    {
        "_target_": "ocec_lightning.data.transforms.HorizontalFlipSwap",
        "pairs": FLIP_PAIRS,
        "p": 0.5,
    },
    {
        "_target_": "albumentations.ColorJitter",
        "brightness": [0.8, 1.2],
        "contrast": [0.8, 1.2],
        "saturation": [0.8, 1.2],
        "hue": [-0.02, 0.02],
        "p": 0.5,
    },
    {
        "_target_": "albumentations.Affine",
        "rotate": [-15, 15],
        "scale": [0.9, 1.1],
        "interpolation": 1,
        "mask_interpolation": 0,
        "border_mode": 0,
        "fill": 0,
        "fill_mask": IGNORE,
        "p": 0.5,
    },
]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@cache
def _eyes() -> np.ndarray:
    return generate_eyes(N, 0, HEIGHT, WIDTH).images


@cache
def _batched_items(preset: str, task: str) -> list[Any]:
    cfg = compose_config([f"task={task}", f"aug={preset}"])
    return OmegaConf.to_container(cfg.aug.batched[task], resolve=True)


def _old(items: list[Any], images: np.ndarray, masks: np.ndarray | None = None, seed: int = 1):
    """The per-sample albumentations pipeline, image by image (uint8 out)."""
    compose = A.Compose(build_augmentations(items), seed=seed)
    if masks is None:
        return np.stack([compose(image=image)["image"] for image in images]), None
    outs = [compose(image=i, mask=m) for i, m in zip(images, masks, strict=True)]
    return np.stack([o["image"] for o in outs]), np.stack([o["mask"] for o in outs])


def _new(items: list[Any], images: np.ndarray, masks: np.ndarray | None = None, seed: int = 1):
    """The batched pipeline on the whole set at once (mean 0, std 1: [0, 1] floats out)."""
    augment = BatchAugmentation(build_batch_transforms(items, "aug.batched"))
    batch = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    ids = None if masks is None else torch.from_numpy(masks)
    out, out_masks = augment(batch, ids, seed=seed)
    pixels = out.permute(0, 2, 3, 1).numpy()
    return pixels, None if out_masks is None else out_masks.numpy()


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    b = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1) + 1e-12)


def _statistics(images: np.ndarray, source: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image summary statistics of augmented images ([0, 1] or uint8 HWC)."""
    pixels = images.astype(np.float32) / (255.0 if images.dtype == np.uint8 else 1.0)
    before = source.astype(np.float32) / 255.0
    grey, grey_before = pixels @ _LUMA, before @ _LUMA
    brightest, darkest = pixels.max(-1), pixels.min(-1)
    saturation = np.where(brightest > 0, (brightest - darkest) / np.maximum(brightest, 1e-6), 0)
    darkness = 1.0 - grey
    columns = np.arange(grey.shape[2], dtype=np.float32)
    mirrored = _correlation(grey, grey_before[:, :, ::-1]) > _correlation(grey, grey_before)
    return {
        "brightness": grey.mean((1, 2)),
        "brightness change": grey.mean((1, 2)) / grey_before.mean((1, 2)),
        "contrast": grey.std((1, 2)),
        "contrast change": grey.std((1, 2)) / grey_before.std((1, 2)),
        "saturation": saturation.mean((1, 2)),
        "black fill": (brightest < 4 / 255).mean((1, 2)),
        "centre of mass x": (darkness.sum(1) * columns).sum(1) / darkness.sum((1, 2)),
        "mirrored": mirrored.astype(np.float64),
    }


def _bootstrap_se_of_std(values: np.ndarray, rounds: int = 200) -> float:
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(values), size=(rounds, len(values)))
    return float(values[picks].std(1).std())


def _differences(old: np.ndarray, new: np.ndarray) -> tuple[float, float, float]:
    """(|mean difference| in SE, |std difference| in SE, KS statistic)."""
    mean_se = math.sqrt(old.var() / len(old) + new.var() / len(new)) or 1e-12
    std_se = math.hypot(_bootstrap_se_of_std(old), _bootstrap_se_of_std(new)) or 1e-12
    return (
        abs(old.mean() - new.mean()) / mean_se,
        abs(old.std() - new.std()) / std_se,
        float(ks_2samp(old, new, method="asymp").statistic),
    )


def _mismatches(old: dict[str, np.ndarray], new: dict[str, np.ndarray]) -> list[str]:
    out = []
    for name in old:
        mean_z, std_z, ks = _differences(old[name], new[name])
        if mean_z > MAX_Z or std_z > MAX_Z or ks > ks_bound(len(old[name])):
            out.append(
                f"{name}: mean {old[name].mean():.4f} vs {new[name].mean():.4f} ({mean_z:.1f} SE), "
                f"std {old[name].std():.4f} vs {new[name].std():.4f} ({std_z:.1f} SE), KS {ks:.3f}"
            )
    return out


@pytest.mark.parametrize("preset", list(OLD_CLASSIFICATION))
def test_batched_classification_presets_match_the_albumentations_ones(preset):
    source = _eyes()
    old, _ = _old(OLD_CLASSIFICATION[preset], source)
    new, _ = _new(_batched_items(preset, "classification"), source)
    assert new.shape == old.shape
    old_stats, new_stats = _statistics(old, source), _statistics(new, source)
    assert _mismatches(old_stats, new_stats) == []
    # The statistics see the augmentation at all: half the crops mirrored, and the
    # geometric presets pad with black (the source crops hold almost none).
    assert 0.4 < new_stats["mirrored"].mean() < 0.6
    if preset != "conservative":
        assert (
            new_stats["black fill"].mean() > 0.05 > _statistics(source, source)["black fill"].mean()
        )


def test_the_comparison_detects_a_doubled_brightness_range():
    source = _eyes()
    items = _batched_items("conservative", "classification")
    doubled = [dict(item) for item in items]
    doubled[1] = {**doubled[1], "brightness": [0.75, 1.25]}  # ColorJitter, twice as wide
    old_stats = _statistics(_old(OLD_CLASSIFICATION["conservative"], source)[0], source)
    wrong = _mismatches(old_stats, _statistics(_new(doubled, source)[0], source))
    assert any(line.startswith("brightness change") for line in wrong), wrong
    # ... while the same pipeline with another seed passes: the bounds are not too tight.
    other_seed = _statistics(_new(items, source, seed=2)[0], source)
    assert _mismatches(old_stats, other_seed) == []


def test_batched_segmentation_balanced_matches_fill_and_flips():
    faces = generate_faces(256, 0, 64, 64)
    flipped_source = flip_face(faces.images, faces.masks)[1]
    pipelines = {
        "old": (_old, OLD_SEGMENTATION_BALANCED),
        "new": (_new, _batched_items("balanced", "segmentation")),
    }
    results = {}
    for name, (run, items) in pipelines.items():
        _, masks = run(items, faces.images, faces.masks)
        labelled = masks != IGNORE
        same = ((masks == faces.masks) & labelled).sum((1, 2))
        mirrored = ((masks == flipped_source) & labelled).sum((1, 2)) > same
        reference = np.where(mirrored[:, None, None], flipped_source, faces.masks)
        results[name] = {
            "ignore": (masks == IGNORE).mean((1, 2)),  # fill_mask: moved in from outside
            "moved": (masks != reference).mean((1, 2)),  # by the Affine (incl. ignore)
            "mirrored": mirrored.astype(np.float64),
        }
    assert _mismatches(results["old"], results["new"]) == []
    # The Affine (p=0.5) leaves about half the masks without ignore pixels.
    assert 0.3 < (results["new"]["ignore"] == 0).mean() < 0.7
    assert 0.4 < results["new"]["mirrored"].mean() < 0.6
