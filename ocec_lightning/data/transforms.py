"""Albumentations pipelines built from the `aug` config group.

The train pipeline is the preset's list of transforms (each a `_target_` dict, built with
`hydra.utils.instantiate`), then normalisation and conversion to a CHW float tensor. The
eval pipeline is normalisation and conversion only: validation and test never see random
augmentation. `mean`/`std` are in [0, 1] pixel units (upstream OCEC uses 0 and 1, i.e.
plain scaling to [0, 1]). A misspelt argument makes albumentations warn and ignore it;
here it is a ConfigError instead, so a preset cannot silently do less than it says.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import albumentations as A
from albumentations.pytorch import ToTensorV2
from hydra.utils import instantiate
from omegaconf import DictConfig

from ocec_lightning.errors import ConfigError


def _check_stats(key: str, values: Sequence[float], positive: bool) -> tuple[float, ...]:
    try:
        stats = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        stats = ()
    if len(stats) != 3 or (positive and min(stats) <= 0):
        expected = (
            "three values > 0, e.g. [1.0, 1.0, 1.0]"
            if positive
            else "three values, e.g. [0.0, 0.0, 0.0]"
        )
        raise ConfigError(key, values, expected)
    return stats


def _finish(mean: Sequence[float], std: Sequence[float]) -> list[A.BasicTransform]:
    mean = _check_stats("data.normalize.mean", mean, positive=False)
    std = _check_stats("data.normalize.std", std, positive=True)
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


def build_train_transform(
    items: Sequence[Any] | None,
    mean: Sequence[float] = (0.0, 0.0, 0.0),
    std: Sequence[float] = (1.0, 1.0, 1.0),
    seed: int | None = None,
) -> A.Compose:
    """Preset transforms, then normalisation and conversion to a float [3, H, W] tensor."""
    return A.Compose([*build_augmentations(items), *_finish(mean, std)], seed=seed)


def build_eval_transform(
    mean: Sequence[float] = (0.0, 0.0, 0.0), std: Sequence[float] = (1.0, 1.0, 1.0)
) -> A.Compose:
    """Normalisation and tensor conversion only: deterministic, for val/test/predict."""
    return A.Compose(_finish(mean, std))
