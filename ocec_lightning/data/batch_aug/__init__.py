"""Augmentations applied to whole batches on the training device (`aug.batched.<task>`)."""

from ocec_lightning.data.batch_aug.base import BatchTransform
from ocec_lightning.data.batch_aug.geometric import Affine, HorizontalFlip, PadCrop
from ocec_lightning.data.batch_aug.photometric import (
    ColorJitter,
    GaussianBlur,
    GaussNoise,
    PerSample,
)
from ocec_lightning.data.batch_aug.pipeline import BatchAugmentation, build_batch_transforms

__all__ = [
    "Affine",
    "BatchAugmentation",
    "BatchTransform",
    "ColorJitter",
    "GaussNoise",
    "GaussianBlur",
    "HorizontalFlip",
    "PadCrop",
    "PerSample",
    "build_batch_transforms",
]
