"""Segmentation masks drawn over their images: a class palette, its check, the blend, and
the image | ground truth | prediction grid. Shared by the overlays callback, the
augmentation preview and `ocec-predict`, so a mask looks the same everywhere."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps

from ocec_lightning.checks import is_int
from ocec_lightning.errors import ConfigError


def default_palette(num_classes: int) -> np.ndarray:
    """RGB uint8 [C, 3] from matplotlib's tab20, for a config without a palette."""
    colours = colormaps["tab20"](np.linspace(0, 1, max(num_classes, 2)))[:num_classes, :3]
    return (colours * 255).astype(np.uint8)


def check_palette(palette: Sequence[Sequence[int]]) -> np.ndarray:
    """`palette` as RGB uint8 [C, 3]; a ConfigError unless every entry is 3 ints 0-255."""
    expected = "a list of [R, G, B] class colours, each an integer 0-255 (or null for tab20)"
    try:
        rows = [list(entry) for entry in palette]
    except TypeError:
        raise ConfigError("palette", palette, expected) from None
    if not rows:
        raise ConfigError("palette", rows, expected)
    for row in rows:
        if len(row) != 3 or not all(is_int(v) and 0 <= v <= 255 for v in row):
            raise ConfigError("palette", row, expected)
    return np.asarray(rows, dtype=np.uint8)


def overlay(
    image: np.ndarray, mask: np.ndarray, palette: np.ndarray, alpha: float = 0.55
) -> np.ndarray:
    """Blend the colour-coded mask over the image (ignored ids stay uncoloured)."""
    valid = mask < len(palette)
    colour = palette[np.clip(mask, 0, len(palette) - 1)]
    blended = image.astype(np.float32)
    blended[valid] = (1 - alpha) * blended[valid] + alpha * colour[valid]
    return blended.clip(0, 255).astype(np.uint8)


def overlay_grid(
    images: np.ndarray, targets: np.ndarray, preds: np.ndarray, palette: np.ndarray
) -> np.ndarray:
    """Rows of [image | ground truth | prediction] with 2-px white separators; `palette`
    is RGB uint8 [C, 3], row `k` the colour of class id `k`."""
    rows = []
    for image, target, pred in zip(images, targets, preds, strict=True):
        sep = np.full((image.shape[0], 2, 3), 255, dtype=np.uint8)
        rows.append(
            np.concatenate(
                [image, sep, overlay(image, target, palette), sep, overlay(image, pred, palette)],
                axis=1,
            )
        )
        rows.append(np.full((2, rows[-1].shape[1], 3), 255, dtype=np.uint8))
    return np.concatenate(rows[:-1], axis=0)
