"""Exact semantics of each batched augmentation (`ocec_lightning.data.batch_aug`) on tiny
hand-made tensors, and where one replaces an albumentations transform, agreement with it
for fixed parameters (within uint8 rounding)."""

from __future__ import annotations

import colorsys

import albumentations as A
import numpy as np
import pytest
import torch

from ocec_lightning.data.batch_aug import (
    Affine,
    BatchAugmentation,
    BatchTransform,
    ColorJitter,
    GaussianBlur,
    GaussNoise,
    HorizontalFlip,
    PadCrop,
    PerSample,
)
from ocec_lightning.data.batch_aug.photometric import _hsv_to_rgb, _rgb_to_hsv
from ocec_lightning.data.transforms import build_eval_transform
from ocec_lightning.errors import ConfigError
from ocec_lightning.synthetic.eyes import generate_eyes
from ocec_lightning.synthetic.faces import generate_faces

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _ramp(n: int = 4, height: int = 5, width: int = 6) -> torch.Tensor:
    """[n, 3, H, W] floats in (0, 1], every pixel of every row and channel different."""
    values = torch.arange(1, n * 3 * height * width + 1, dtype=torch.float32)
    return (values / values.max()).view(n, 3, height, width)


def _ids(n: int = 4, height: int = 5, width: int = 6) -> torch.Tensor:
    """int64 masks [n, H, W] with ids 0..H*W-1 (all different within a row; < 255)."""
    return torch.arange(height * width).view(1, height, width).repeat(n, 1, 1).long()


def _eyes(n: int = 16) -> np.ndarray:
    return generate_eyes(n, 0, 24, 40).images


def _as_batch(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0


def _as_uint8_hwc(images: torch.Tensor) -> np.ndarray:
    return images.permute(0, 2, 3, 1).numpy() * 255.0


def _albumentations(transform: A.BasicTransform, images: np.ndarray) -> np.ndarray:
    return np.stack([transform(image=image)["image"] for image in images]).astype(np.float32)


# ---------------------------------------------------------------- HorizontalFlip


def test_horizontal_flip_mirrors_images_and_masks_and_swaps_the_pair_ids():
    images = _ramp(2, 3, 4)
    masks = torch.tensor([[[2, 4, 6, 255], [3, 5, 1, 0], [2, 2, 3, 3]]]).repeat(2, 1, 1)
    flip = HorizontalFlip(pairs=[[2, 3], [4, 5]], p=1.0)
    out, out_masks = flip(images, masks, _gen())
    assert torch.equal(out, images.flip(-1))
    expected = torch.tensor([[[255, 6, 5, 3], [0, 1, 4, 2], [2, 2, 3, 3]]]).repeat(2, 1, 1)
    assert torch.equal(out_masks, expected)  # 255 and unpaired ids keep their value
    twice = flip(out, out_masks, _gen())
    assert torch.equal(twice[0], images) and torch.equal(twice[1], masks)
    # No pairs: a plain mirror of the mask.
    plain = HorizontalFlip(p=1.0)(images, masks, _gen())[1]
    assert torch.equal(plain, masks.flip(-1))


def test_horizontal_flip_of_a_mask_equals_the_per_sample_horizontal_flip_swap():
    from ocec_lightning.data.transforms import HorizontalFlipSwap

    faces = generate_faces(2, 0, 64, 64)
    pairs = [[2, 3], [4, 5]]
    out, out_masks = HorizontalFlip(pairs=pairs, p=1.0)(
        _as_batch(faces.images), torch.from_numpy(faces.masks).long(), _gen()
    )
    for i in range(2):
        ref = HorizontalFlipSwap(pairs=pairs, p=1.0)(image=faces.images[i], mask=faces.masks[i])
        np.testing.assert_array_equal(out_masks[i].numpy(), ref["mask"])
        np.testing.assert_allclose(_as_uint8_hwc(out[i : i + 1])[0], ref["image"], atol=1e-3)


# ---------------------------------------------------------------- PadCrop


def test_pad_crop_is_the_padded_image_cut_at_an_integer_offset():
    n, height, width, pad = 300, 5, 6, 1
    images, masks = _ramp(n, height, width), _ids(n, height, width)
    crop = PadCrop(padding=pad, fill=0, fill_mask=255, p=1.0)
    out, out_masks = crop(images, masks, _gen(3))
    padded = torch.nn.functional.pad(images, (pad,) * 4, value=0.0)
    padded_masks = torch.nn.functional.pad(masks, (pad,) * 4, value=255)
    offsets = []
    for i in range(n):
        found = [
            (top, left)
            for top in range(2 * pad + 1)
            for left in range(2 * pad + 1)
            if torch.equal(out[i], padded[i, :, top : top + height, left : left + width])
        ]
        assert len(found) == 1, f"row {i}: not a crop of the padded image"
        top, left = found[0]
        window = padded_masks[i, top : top + height, left : left + width]
        assert torch.equal(out_masks[i], window)  # the same shift, fill_mask outside
        offsets.append((top - pad, left - pad))
    # Every shift in [-padding, padding]^2 occurs (9 equally likely: ~33 each in 300).
    assert set(offsets) == {(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    assert out.shape == images.shape and out.is_contiguous()


def test_pad_crop_fills_with_fill_and_keeps_size_with_padding_zero():
    images = torch.full((64, 3, 4, 4), 0.5)
    out, _ = PadCrop(padding=2, fill=255, p=1.0)(images, None, _gen())
    assert set(out.unique().tolist()) == {0.5, 1.0}  # fill=255 is white
    assert torch.equal(PadCrop(padding=0, p=1.0)(images, None, _gen())[0], images)


# ---------------------------------------------------------------- Affine


def test_affine_with_zero_ranges_is_the_identity():
    images, masks = _ramp(3, 7, 9), _ids(3, 7, 9)
    out, out_masks = Affine(fill_mask=255, p=1.0)(images, masks, _gen())
    torch.testing.assert_close(out, images, atol=1e-5, rtol=0)
    assert torch.equal(out_masks, masks)


@pytest.mark.parametrize("percent", [0.1, 0.15, 0.19])  # 1, 1.5 and 1.9 px: one pixel
def test_affine_translates_by_whole_pixels_and_fills_what_moves_in(percent):
    images, masks = _ramp(2, 10, 10), _ids(2, 10, 10)
    affine = Affine(translate_percent=(percent, percent), fill=0, fill_mask=255, p=1.0)
    out, out_masks = affine(images, masks, _gen())
    # int(t * W) as albumentations: one pixel right and down.
    torch.testing.assert_close(out[..., 1:, 1:], images[..., :-1, :-1], atol=1e-5, rtol=0)
    assert out[..., 0, :].abs().max() < 1e-6 and out[..., :, 0].abs().max() < 1e-6
    assert torch.equal(out_masks[:, 1:, 1:], masks[:, :-1, :-1])
    assert (out_masks[:, 0, :] == 255).all() and (out_masks[:, :, 0] == 255).all()
    left, left_masks = Affine(translate_percent=(-percent, -percent), p=1.0)(images, masks, _gen())
    torch.testing.assert_close(left[..., :-1, :-1], images[..., 1:, 1:], atol=1e-5, rtol=0)
    assert (left_masks[:, -1, :] == 0).all()  # fill_mask defaults to 0


def test_affine_masks_only_hold_input_ids_or_fill_mask():
    generator = torch.Generator().manual_seed(0)
    masks = torch.tensor([0, 3, 7])[torch.randint(3, (32, 16, 16), generator=generator)]
    images = torch.rand(32, 3, 16, 16, generator=generator)
    affine = Affine(scale=(0.7, 1.3), translate_percent=(-0.2, 0.2), rotate=(-40, 40), p=1.0)
    affine.fill_mask = 99
    out, out_masks = affine(images, masks, _gen())
    assert out_masks.dtype == torch.int64 and out_masks.shape == masks.shape
    assert set(out_masks.unique().tolist()) == {0, 3, 7, 99}
    assert 0.0 <= out.min() and out.max() <= 1.0


@pytest.mark.parametrize(
    "params",
    [
        {"rotate": (10, 10)},
        {"rotate": (-25, -25), "scale": (0.85, 0.85)},
        {"scale": (1.2, 1.2), "translate_percent": (-0.06, -0.06)},
    ],
)
def test_affine_matches_albumentations_for_fixed_parameters(params):
    faces = generate_faces(3, 0, 64, 48)
    reference = A.Affine(**params, border_mode=0, fill=0, fill_mask=255, mask_interpolation=0, p=1)
    outs = [reference(image=i, mask=m) for i, m in zip(faces.images, faces.masks, strict=True)]
    out, out_masks = Affine(**params, fill=0, fill_mask=255, p=1.0)(
        _as_batch(faces.images), torch.from_numpy(faces.masks).long(), _gen()
    )
    # Same map (direction, centre, order of scale and rotation): only uint8 rounding left.
    diff = np.abs(_as_uint8_hwc(out) - np.stack([o["image"] for o in outs]))
    assert diff.max() <= 0.51
    agreement = (out_masks.numpy() == np.stack([o["mask"] for o in outs])).mean()
    assert agreement > 0.999


def test_affine_scales_the_axes_independently_unless_keep_ratio():
    images = torch.zeros(200, 3, 64, 64)
    images[..., 22:42, 22:42] = 1.0  # a 20 px square in the middle

    def sides(keep_ratio: bool) -> tuple[np.ndarray, np.ndarray]:
        affine = Affine(scale=(0.6, 1.4), keep_ratio=keep_ratio, p=1.0)
        bright = affine(images, None, _gen())[0][:, 0] > 0.5
        return bright.any(1).sum(1).numpy(), bright.any(2).sum(1).numpy()  # width, height

    width, height = sides(keep_ratio=True)
    assert np.abs(width - height).max() <= 1
    width, height = sides(keep_ratio=False)  # albumentations' default, as the presets had
    assert (np.abs(width - height) >= 4).mean() > 0.4  # |U1 - U2| * 20 >= 4: P = 0.56
    assert abs(np.corrcoef(width, height)[0, 1]) < 0.3


# ---------------------------------------------------------------- ColorJitter


def test_brightness_scales_every_pixel_by_one_factor_per_image_and_clamps():
    images = torch.rand(64, 3, 6, 6, generator=_gen(1)) * 0.6 + 0.3
    out, _ = ColorJitter(brightness=(0.5, 2.0), p=1.0)(images, None, _gen())
    factors = []
    for i in range(64):
        unclamped = out[i] < 1.0
        factor = float((out[i][unclamped] / images[i][unclamped]).mean())
        # out = clamp(f * x) with one f for the whole image
        torch.testing.assert_close(out[i], (images[i] * factor).clamp(0, 1), atol=1e-5, rtol=0)
        factors.append(factor)
    assert 0.5 <= min(factors) < 0.7 and 1.8 < max(factors) <= 2.0
    assert (out == 1.0).any()  # some clamped


def test_contrast_keeps_the_grey_mean_and_scales_the_deviation():
    images = torch.rand(32, 3, 8, 8, generator=_gen(2)) * 0.4 + 0.3  # no clamping
    out, _ = ColorJitter(contrast=(0.5, 1.5), p=1.0)(images, None, _gen())
    grey = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)

    def grey_mean(x: torch.Tensor) -> torch.Tensor:
        return (x * grey).sum(1).mean((1, 2))

    torch.testing.assert_close(grey_mean(out), grey_mean(images), atol=1e-5, rtol=0)
    centre = grey_mean(images).view(-1, 1, 1, 1)
    before, after = (images - centre).flatten(1), (out - centre).flatten(1)
    factor = (before * after).sum(1, keepdim=True) / (before * before).sum(1, keepdim=True)
    assert (after - factor * before).abs().max() < 1e-5  # one factor per image
    assert 0.5 <= factor.min() < 0.6 and 1.4 < factor.max() <= 1.5


def test_hue_zero_and_unit_factors_keep_the_images():
    images = torch.rand(16, 3, 5, 5, generator=_gen(3))
    out, _ = ColorJitter(p=1.0)(images, None, _gen())  # all factors 1, hue 0
    torch.testing.assert_close(out, images, atol=1e-5, rtol=0)
    grey, _ = ColorJitter(saturation=(0.0, 0.0), p=1.0)(images, None, _gen())
    assert (grey.amax(1) - grey.amin(1)).max() < 1e-6  # saturation 0: grey images


def test_hsv_round_trip_and_agreement_with_colorsys():
    pixels = torch.rand(1, 3, 20, 20, generator=_gen(4))
    pixels[0, :, 0, :3] = torch.tensor([[0.0, 0.5, 1.0]] * 3).T  # greys, black, white
    pixels[0, :, 1, 0] = torch.tensor([1.0, 0.0, 0.0])  # pure red (hue 0)
    hsv = _rgb_to_hsv(pixels)
    torch.testing.assert_close(_hsv_to_rgb(hsv), pixels, atol=1e-5, rtol=0)
    flat_rgb = pixels[0].permute(1, 2, 0).reshape(-1, 3).tolist()
    flat_hsv = hsv[0].permute(1, 2, 0).reshape(-1, 3).tolist()
    for rgb, ours in zip(flat_rgb, flat_hsv, strict=True):
        expected = colorsys.rgb_to_hsv(*rgb)
        assert ours == pytest.approx(expected, abs=1e-5)
        assert list(colorsys.hsv_to_rgb(*ours)) == pytest.approx(rgb, abs=1e-5)


@pytest.mark.parametrize(
    ("name", "value", "tolerance"),
    [
        ("brightness", (1.2, 1.2), 0.81),
        ("contrast", (0.6, 0.6), 1.01),
        ("saturation", (1.4, 1.4), 0.61),
        ("hue", (0.05, 0.05), 2.5),  # OpenCV's uint8 HSV holds hue in 2-degree steps
        ("hue", (-0.3, -0.3), 2.5),
    ],
)
def test_color_jitter_matches_albumentations_for_a_fixed_factor(name, value, tolerance):
    images = _eyes()
    identity = {"brightness": (1, 1), "contrast": (1, 1), "saturation": (1, 1), "hue": (0, 0)}
    reference = A.ColorJitter(**{**identity, name: value}, p=1)
    out, _ = ColorJitter(**{name: value}, p=1.0)(_as_batch(images), None, _gen())
    diff = np.abs(_as_uint8_hwc(out) - _albumentations(reference, images))
    assert diff.max() <= tolerance and diff.mean() < 0.6  # in 0-255 levels


# ---------------------------------------------------------------- GaussianBlur / GaussNoise


def test_gaussian_blur_keeps_a_constant_image():
    images = torch.full((8, 3, 6, 9), 0.37)
    out, _ = GaussianBlur(blur_limit=(3, 5), sigma_limit=(0.1, 3.0), p=1.0)(images, None, _gen())
    torch.testing.assert_close(out, images, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("size", "sigma"), [(3, 0.8), (5, 1.2), (5, 0.3)])
def test_gaussian_blur_matches_albumentations_for_fixed_size_and_sigma(size, sigma):
    images = _eyes()
    reference = A.GaussianBlur(blur_limit=(size, size), sigma_limit=(sigma, sigma), p=1)
    blur = GaussianBlur(blur_limit=(size, size), sigma_limit=(sigma, sigma), p=1.0)
    out, _ = blur(_as_batch(images), None, _gen())
    assert np.abs(_as_uint8_hwc(out) - _albumentations(reference, images)).max() <= 0.51


def test_gaussian_blur_draws_kernel_sizes_as_albumentations():
    # albumentations: randint(3, 5) with an even draw rounded up: 3 w.p. 1/3, 5 w.p. 2/3.
    n = 900
    impulses = torch.zeros(n, 3, 9, 9)
    impulses[..., 4, 4] = 1.0
    out, _ = GaussianBlur(blur_limit=(3, 5), sigma_limit=(1.5, 1.5), p=1.0)(impulses, None, _gen())
    support = (out[:, 0, 4] > 1e-6).sum(1)  # width of the kernel's footprint
    assert set(support.tolist()) == {3, 5}
    share = float((support == 5).float().mean())
    # SE of the share is sqrt(2/9 / 900) = 0.016; 2/3 and 1/2 are 10 SE apart.
    assert abs(share - 2 / 3) < 0.06


def test_gauss_noise_std_is_drawn_per_image_from_the_range():
    images = torch.full((64, 3, 32, 32), 0.5)  # 0.5 +- 5 sigma stays inside [0, 1]
    out, _ = GaussNoise(std_range=(0.02, 0.08), p=1.0)(images, None, _gen())
    std = (out - images).flatten(1).std(1)
    mean = (out - images).flatten(1).mean(1)
    # 3072 values per image: the sample std is within ~1.3 % (1 SE) of the drawn one.
    assert (std > 0.02 * 0.95).all() and (std < 0.08 * 1.05).all()
    assert std.min() < 0.03 and std.max() > 0.07  # drawn across the range, per image
    assert mean.abs().max() < 0.006  # zero-mean (4 SE at std 0.08)


# ---------------------------------------------------------------- PerSample


def test_per_sample_applies_its_transform_to_about_p_of_the_rows():
    n = 2000
    images = torch.rand(n, 3, 4, 4, generator=_gen(5)).mul(255).round() / 255
    out, _ = PerSample({"_target_": "albumentations.InvertImg"}, p=0.3)(images, None, _gen())
    changed = (out - images).flatten(1).abs().amax(1) > 1e-6
    torch.testing.assert_close(out[changed], 1.0 - images[changed], atol=1e-6, rtol=0)
    # SE of the share is sqrt(0.21 / 2000) = 0.010.
    assert abs(float(changed.float().mean()) - 0.3) < 0.04


def test_per_sample_moves_masks_with_a_geometric_transform_and_keeps_sizes():
    images, masks = _ramp(3, 4, 6), _ids(3, 4, 6)
    out, out_masks = PerSample(A.HorizontalFlip(), p=1.0)(images, masks, _gen())
    assert torch.equal(out_masks, masks.flip(-1)) and out_masks.dtype == torch.int64
    torch.testing.assert_close(out, images.flip(-1), atol=0.51 / 255, rtol=0)  # uint8
    crop = PerSample({"_target_": "albumentations.CenterCrop", "height": 2, "width": 2}, p=1.0)
    with pytest.raises(ConfigError, match=r"'transform' = 'PerSample\(CenterCrop\)'.*\[4, 6\]"):
        crop(images, masks, _gen())
    assert repr(crop) == "PerSample(CenterCrop, p=1.0)" and crop.name == "PerSample(CenterCrop)"


# ---------------------------------------------------------------- p, seeds, dtypes


def _all(p: float) -> list[BatchTransform]:
    """One of each transform (fresh objects: tests set `p`)."""
    jitter = {"brightness": (0.8, 1.2), "contrast": (0.8, 1.2), "saturation": (0.8, 1.2)}
    return [
        HorizontalFlip(pairs=[[1, 2]], p=p),
        ColorJitter(**jitter, hue=(-0.1, 0.1), p=p),
        Affine(
            scale=(0.9, 1.1), translate_percent=(-0.1, 0.1), rotate=(-10, 10), fill_mask=255, p=p
        ),
        PadCrop(padding=2, fill_mask=255, p=p),
        GaussianBlur(blur_limit=(3, 5), sigma_limit=(0.5, 1.5), p=p),
        GaussNoise(std_range=(0.01, 0.05), p=p),
        PerSample({"_target_": "albumentations.ImageCompression", "quality_range": [50, 95]}, p=p),
    ]


NAMES = [type(t).__name__ for t in _all(0.5)]


@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_p_zero_never_changes_and_p_one_always_does(index):
    images, masks = torch.rand(16, 3, 8, 10, generator=_gen(8)), _ids(16, 8, 10)
    out, out_masks = _all(0.0)[index](images, masks, _gen())
    assert torch.equal(out, images) and torch.equal(out_masks, masks)
    out, _ = _all(1.0)[index](images, masks, _gen())
    assert ((out - images).flatten(1).abs().amax(1) > 1e-4).all()


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_each_row_is_transformed_with_probability_p(p):
    n = 4000
    images = _ramp(n, 1, 2)
    out, _ = HorizontalFlip(p=p)(images, None, _gen(int(10 * p)))
    share = float((out[:, 0, 0, 0] != images[:, 0, 0, 0]).float().mean())
    assert abs(share - p) < 4 * (p * (1 - p) / n) ** 0.5  # 4 SE


@pytest.mark.parametrize("masks", [None, "int64"])
def test_same_seed_same_output_other_seed_differs(masks):
    augment = BatchAugmentation(_all(0.5))
    images = torch.from_numpy(_eyes(8)).permute(0, 3, 1, 2).contiguous()
    ids = None if masks is None else torch.randint(3, (8, 24, 40), generator=_gen(6))
    first, first_masks = augment(images, ids, seed=11)
    again, again_masks = BatchAugmentation(_all(0.5))(images, ids, seed=11)
    other, other_masks = augment(images, ids, seed=12)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.dtype == torch.float32 and first.shape == (8, 3, 24, 40)
    if masks is None:
        assert first_masks is None and other_masks is None
    else:
        assert torch.equal(first_masks, again_masks) and first_masks.dtype == torch.int64
        assert set(first_masks.unique().tolist()) <= {0, 1, 2, 255}


@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_output_is_float32_in_the_unit_range_with_and_without_masks(index):
    transform = _all(1.0)[index]
    images = torch.from_numpy(_eyes(8)).permute(0, 3, 1, 2).float() / 255
    for masks in (None, torch.randint(3, (8, 24, 40), generator=_gen(7))):
        out, out_masks = transform(images, masks, _gen())
        assert out.dtype == torch.float32 and out.shape == images.shape
        assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
        assert (out_masks is None) == (masks is None)
        if masks is not None:
            assert out_masks.dtype == torch.int64 and out_masks.shape == masks.shape
    assert not torch.equal(out, images)


def test_normalize_equals_the_eval_transform():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    images = _eyes(4)
    batch = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    augment = BatchAugmentation([HorizontalFlip(p=1.0)], mean, std)
    normalised = augment.normalize(batch)
    reference = build_eval_transform(mean, std)
    for i, image in enumerate(images):
        torch.testing.assert_close(
            normalised[i], reference(image=image)["image"], atol=1e-5, rtol=0
        )
    # Without a seed (validation, test) nothing random runs: normalisation only.
    plain, _ = augment(batch, None, seed=None)
    assert torch.equal(plain, normalised)
    assert not torch.equal(augment(batch, None, seed=0)[0], normalised)
    assert plain.dtype == torch.float32
