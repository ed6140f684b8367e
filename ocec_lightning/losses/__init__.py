"""Losses. Classification losses take `(logits [N], targets [N] in [0, 1])`; targets may be
soft (label smoothing, MixUp/CutMix). `build_loss` resolves `pos_weight: auto`."""

from ocec_lightning.losses.factory import build_loss, resolve_pos_weight

__all__ = ["build_loss", "resolve_pos_weight"]
