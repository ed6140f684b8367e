"""Save image | ground truth | prediction overlays for a fixed set of validation images.

Every `every_n_epochs` validated epochs (and after the last one) the callback predicts the
same `num_samples` validation images (`datamodule.fixed_val_samples(k)`) and writes
`<run dir>/overlays/epoch_###.png`: one row per image with the input, the ground-truth
mask and the predicted mask, each mask blended over the image in the class palette.
It runs at validation-epoch start, after the EMA callback (listed earlier) has swapped
the averaged weights in, so the overlays show the model that validation scores.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from matplotlib import colormaps
from PIL import Image

from ocec_lightning.errors import ConfigError


def class_palette(num_classes: int) -> np.ndarray:
    """RGB uint8 [C, 3]: the synthetic-faces palette for 11 classes, else tab20."""
    if num_classes == 11:
        from ocec_lightning.data.synthetic_faces import FACE_PALETTE

        return np.asarray(FACE_PALETTE, dtype=np.uint8)
    colours = colormaps["tab20"](np.linspace(0, 1, max(num_classes, 2)))[:num_classes, :3]
    return (colours * 255).astype(np.uint8)


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
    images: np.ndarray, targets: np.ndarray, preds: np.ndarray, num_classes: int
) -> np.ndarray:
    """Rows of [image | ground truth | prediction] with 2-px white separators."""
    palette = class_palette(num_classes)
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


class PredictionOverlays(Callback):
    """Write overlay grids of fixed validation images during training."""

    def __init__(
        self, every_n_epochs: int = 5, num_samples: int = 8, dirname: str = "overlays"
    ) -> None:
        if every_n_epochs < 1 or num_samples < 1:
            raise ConfigError(
                "callbacks.prediction_overlays",
                (every_n_epochs, num_samples),
                "every_n_epochs >= 1 and num_samples >= 1",
            )
        self.every_n_epochs, self.num_samples, self.dirname = every_n_epochs, num_samples, dirname
        self.written: list[Path] = []

    def _due(self, trainer: pl.Trainer) -> bool:
        epoch = trainer.current_epoch
        last = trainer.max_epochs is not None and epoch + 1 >= trainer.max_epochs
        return (epoch + 1) % self.every_n_epochs == 0 or last or epoch == 0

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero or not self._due(trainer):
            return
        raw, images, masks = trainer.datamodule.fixed_val_samples(self.num_samples)
        with torch.no_grad():
            preds = pl_module(images.to(pl_module.device)).argmax(dim=1).cpu().numpy()
        grid = overlay_grid(raw.numpy(), masks.numpy(), preds, int(pl_module.num_classes))
        out = (
            Path(trainer.default_root_dir) / self.dirname / f"epoch_{trainer.current_epoch:03d}.png"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(out)
        self.written.append(out)
