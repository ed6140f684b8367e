"""Per-sample albumentations pipelines from the `aug.<task>` lists.

The presets augment whole batches on the device (`aug.batched.<task>`, `data/batch_aug`);
`aug.<task>` remains for transforms that need a per-image call (any albumentations
transform, each a `_target_` dict built with `hydra.utils.instantiate`). They run in the
DataLoader on uint8 images at the model's size, before the batched ones, on the train
split only. A misspelt argument makes albumentations warn and ignore it; here it is a
ConfigError instead, so a preset cannot silently do less than it says. `mean`/`std` are
in [0, 1] pixel units (upstream OCEC uses 0 and 1, i.e. plain scaling to [0, 1]).

Segmentation passes a `mask` target: albumentations applies every geometric transform to
image and mask with the same parameters (masks with nearest-neighbour interpolation),
photometric ones to the image only. `HorizontalFlipSwap` is the per-sample segmentation
flip: a mirrored face has its left brow where the right one was, so the flip also swaps
the left/right ids."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import albumentations as A
import numpy as np
from albumentations.augmentations.geometric.functional import hflip
from albumentations.core.transforms_interface import BaseTransformInitSchema
from albumentations.pytorch import ToTensorV2
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from ocec_lightning.data.masks import swap_lut
from ocec_lightning.errors import ConfigError


class HorizontalFlipSwap(A.HorizontalFlip):
    """Horizontal flip that also swaps left/right class ids in the mask.

    `pairs` lists the ids to exchange, e.g. `[[2, 3], [4, 5]]` (left/right brow, left/
    right eye; the presets take `${task.flip_pairs}`). The image flips exactly as with
    `HorizontalFlip`; the mask is flipped, then every id of a pair becomes its partner.
    """

    class InitSchema(BaseTransformInitSchema):
        pairs: Any = ()

    def __init__(self, pairs: Sequence[Sequence[int]] = (), p: float = 0.5) -> None:
        super().__init__(p=p)
        self.pairs = _check_pairs(pairs)
        self._lut = swap_lut(self.pairs)

    # `masks=` goes through this too: albumentations' apply_to_masks calls it per mask.
    def apply_to_mask(self, mask: np.ndarray, *args: Any, **params: Any) -> np.ndarray:
        return self._swap(hflip(mask))

    def _swap(self, mask: np.ndarray) -> np.ndarray:
        if not self.pairs:
            return mask
        if mask.dtype == np.uint8:
            return self._lut[mask]
        out = mask.copy()
        for a, b in self.pairs:
            out[mask == a], out[mask == b] = b, a
        return out

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("pairs",)


def _check_pairs(pairs: Any) -> tuple[tuple[int, int], ...]:
    """Validate flip pairs: two different ids 0-255 each, no id in two pairs."""
    if isinstance(pairs, DictConfig | ListConfig):
        pairs = OmegaConf.to_container(pairs, resolve=True)
    expected = "pairs of class ids to swap, e.g. [[2, 3], [4, 5]] (task.flip_pairs)"
    try:
        out = tuple((int(a), int(b)) for a, b in pairs)
    except (TypeError, ValueError):
        raise ValueError(f"pairs={pairs!r}: expected {expected}") from None
    ids = [i for pair in out for i in pair]
    if (
        any(a == b for a, b in out)
        or len(set(ids)) != len(ids)
        or not all(0 <= i < 256 for i in ids)
    ):
        raise ValueError(f"pairs={pairs!r}: expected {expected}, each id 0-255 in one pair only")
    return out


def _check_stats(key: str, values: Sequence[float], positive: bool) -> tuple[float, ...]:
    try:
        stats = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        stats = ()
    if len(stats) != 3 or not all(map(math.isfinite, stats)) or (positive and min(stats) <= 0):
        expected = (
            "three values > 0, e.g. [1.0, 1.0, 1.0]"
            if positive
            else "three values, e.g. [0.0, 0.0, 0.0]"
        )
        raise ConfigError(key, values, expected)
    return stats


def check_normalization(
    mean: Sequence[float], std: Sequence[float]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """`data.normalize.mean`/`std` as three floats each (std > 0), or a ConfigError."""
    return (
        _check_stats("data.normalize.mean", mean, positive=False),
        _check_stats("data.normalize.std", std, positive=True),
    )


def _finish(mean: Sequence[float], std: Sequence[float]) -> list[A.BasicTransform]:
    mean, std = check_normalization(mean, std)
    # max_pixel_value=255 makes mean/std act on [0, 1] pixels: (x/255 - mean) / std.
    return [A.Normalize(mean=mean, std=std, max_pixel_value=255.0), ToTensorV2()]


def _one_line(exc: BaseException) -> str:
    text = re.sub(r"For further information visit \S+", "", str(exc))
    return " ".join(text.split())


def build_augmentations(
    items: Sequence[Any] | None, key: str = "aug.classification"
) -> list[A.BasicTransform]:
    """Instantiate a list of albumentations transforms from `_target_` dicts.

    Items that already are transforms are kept, so the DataModule can be used without
    Hydra. Errors and unknown-argument warnings become one-line ConfigErrors naming
    `key[i]`.
    """
    out: list[A.BasicTransform] = []
    for i, item in enumerate(items or []):
        if isinstance(item, A.BasicTransform | A.BaseCompose):
            out.append(item)
            continue
        if not isinstance(item, Mapping | DictConfig) or "_target_" not in item:
            raise ConfigError(
                f"{key}[{i}]", item, "a mapping with _target_: albumentations.<Transform>"
            )
        target = item["_target_"]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                transform = instantiate(item)
            except Exception as exc:  # instantiate wraps every failure; report it in one line
                raise ConfigError(
                    f"{key}[{i}]", target, f"valid arguments: {_one_line(exc)}"
                ) from None
        for warning in caught:
            if "not valid for transform" in str(warning.message):
                raise ConfigError(f"{key}[{i}]", target, f"valid arguments: {warning.message}")
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
        if not isinstance(transform, A.BasicTransform | A.BaseCompose):
            raise ConfigError(f"{key}[{i}]", target, "an albumentations transform")
        out.append(transform)
    return out


def build_sample_transform(
    items: Sequence[Any] | None, seed: int | None = None, key: str = "aug.classification"
) -> A.Compose | None:
    """The per-sample transforms of `aug.<task>` as one Compose on uint8 HWC images (and
    masks), or None when the list is empty. Output stays uint8 at the input's size:
    normalisation happens on the batch (`data/batch_aug`). `key` is what errors name."""
    transforms = build_augmentations(items, key)
    return A.Compose(transforms, seed=seed) if transforms else None


def build_eval_transform(
    mean: Sequence[float] = (0.0, 0.0, 0.0), std: Sequence[float] = (1.0, 1.0, 1.0)
) -> A.Compose:
    """Normalisation and tensor conversion of one image, for `ocec-predict` (training
    normalises whole batches with the same formula, `BatchAugmentation.normalize`)."""
    return A.Compose(_finish(mean, std))
