"""EMA of the weights, built on Lightning's `EMAWeightAveraging`.

Lightning's callback saves the averaged weights as the checkpoint's `state_dict` (so
validation, checkpoints and export all see the EMA model) and keeps the raw weights
under `current_model_state` for resuming. Its `on_load_checkpoint` however restores the
raw weights whenever the averaged model exists, which includes `trainer.test(ckpt_path=
"best")` right after `fit`: the test would silently run on the non-averaged weights.
This subclass restores the raw weights only when fitting (resume) and otherwise keeps
the averaged `state_dict`, which is what evaluation must use.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.trainer.states import TrainerFn

from ocec_lightning.errors import ConfigError


class EMA(EMAWeightAveraging):
    """EMAWeightAveraging whose checkpoint loading is safe for test/validate/predict."""

    def __init__(self, decay: float = 0.999, **kwargs: Any) -> None:
        if not 0.0 < decay < 1.0:
            raise ConfigError("callbacks.ema.decay", decay, "a value in (0, 1), e.g. 0.999")
        super().__init__(decay=decay, **kwargs)
        self.decay = decay

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
        # Otherwise the module already holds checkpoint["state_dict"], the EMA weights.
