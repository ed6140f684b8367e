"""Save image | ground truth | prediction overlays for a fixed set of validation images.

Every `every_n_epochs` validated epochs (and after the last one) the callback predicts the
same `num_samples` validation images (`datamodule.fixed_val_samples(k)`) and writes
`<run dir>/overlays/epoch_###.png`: one row per image with the input, the ground-truth
mask and the predicted mask, each mask blended over the image in the class palette:
`palette` (one RGB triple per class id; the segmentation task passes `${task.palette}`),
or matplotlib's tab20 colours when it is None.
It runs at validation-epoch start, after the EMA callback (listed earlier) has swapped
the averaged weights in, so the overlays show the model that validation scores.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from PIL import Image

from ocec_lightning.checks import int_at_least
from ocec_lightning.errors import ConfigError
from ocec_lightning.viz.overlays import check_palette, default_palette, overlay_grid

# The key for the setup-time check (a palette shorter than the task's classes): raised
# outside the instantiate wrapper, so it names its full config key itself.
_SCOPED_PALETTE_KEY = "callbacks.prediction_overlays.palette"


class PredictionOverlays(Callback):
    """Write overlay grids of fixed validation images during training."""

    def __init__(
        self,
        every_n_epochs: int = 5,
        num_samples: int = 8,
        dirname: str = "overlays",
        palette: list[list[int]] | None = None,
    ) -> None:
        self.every_n_epochs = int_at_least("every_n_epochs", every_n_epochs, 1)
        self.num_samples = int_at_least("num_samples", num_samples, 1)
        self.dirname = dirname
        self.palette = None if palette is None else check_palette(palette)
        self.written: list[Path] = []

    def class_colours(self, num_classes: int) -> np.ndarray:
        """RGB uint8 [num_classes, 3]: the configured palette, else tab20."""
        if self.palette is None:
            return default_palette(num_classes)
        if len(self.palette) < num_classes:
            raise ConfigError(
                _SCOPED_PALETTE_KEY,
                self.palette.tolist(),
                f"one colour per class: {num_classes} for task.num_classes={num_classes} "
                "(or task.palette=null for tab20 colours)",
            )
        return self.palette[:num_classes]

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        num_classes = getattr(pl_module, "num_classes", None)
        if num_classes is not None:
            self.class_colours(int(num_classes))  # a short palette fails before any epoch

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
        palette = self.class_colours(int(pl_module.num_classes))
        grid = overlay_grid(raw.numpy(), masks.numpy(), preds, palette)
        out = (
            Path(trainer.default_root_dir) / self.dirname / f"epoch_{trainer.current_epoch:03d}.png"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(out)
        self.written.append(out)
