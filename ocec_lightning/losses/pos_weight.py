"""`pos_weight` of the binary losses: `auto` | a positive number | null.

`auto` is negatives / positives of the training split, as the batch-4096 OCEC configuration
sets it. The loss cannot know it when it is built, so it keeps a placeholder (no weighting)
until the task's `setup()` calls `loss.bind_data(datamodule)`; the config is never
rewritten. The value is a non-persistent buffer: it follows the module across devices but
stays out of checkpoints, so a resumed run or an evaluation recomputes it from its data.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ocec_lightning.checks import is_number
from ocec_lightning.errors import ConfigError

PosWeightSpec = float | str | None


class PosWeighted(nn.Module):
    """Mixin holding the `pos_weight` buffer of a binary loss and its data binding."""

    pos_weight: Tensor | None

    def _init_pos_weight(self, pos_weight: PosWeightSpec) -> None:
        self.pos_weight_auto = isinstance(pos_weight, str) and pos_weight.lower() == "auto"
        if pos_weight is not None and not self.pos_weight_auto:
            if not is_number(pos_weight) or not float(pos_weight) > 0:  # type: ignore[arg-type]
                raise ConfigError("pos_weight", pos_weight, "'auto', a positive number or null")
        value = None if pos_weight is None or self.pos_weight_auto else float(pos_weight)
        self.register_buffer(
            "pos_weight", None if value is None else torch.tensor(value), persistent=False
        )

    def bind_data(self, datamodule: Any) -> None:
        """Resolve `pos_weight: auto` from the datamodule's train split (once)."""
        if self.pos_weight_auto and self.pos_weight is None:
            self.pos_weight = torch.tensor(float(datamodule.pos_weight()))
