"""Pixel-wise cross-entropy for segmentation (loss=ce), and the class-weight rules the
other segmentation losses share.

Inputs: logits ``[B, C, H, W]`` and an int64 target ``[B, H, W]``; pixels equal to
``ignore_index`` count nowhere. Class weights are ``null``, an explicit list, or derived
from the class pixel frequencies of the train split:
- ``median_frequency`` (Eigen & Fergus): ``w_c = median(f) / f_c``, median over the
  classes present (``f_c > 0``); with an even count it is the mean of the two middle values;
- ``inverse``: ``w_c = 1 / f_c``, scaled so the present classes average 1.
Classes absent from the train split (``f_c = 0``) get weight 0: there is no data to
balance, and an infinite weight would blow up on the first mislabelled pixel.

The frequencies come from the data: either given (``class_frequencies``) or filled in
when the task's ``setup()`` calls ``loss.bind_data(datamodule)``, the way
``pos_weight: auto`` is resolved for classification. The config is never rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ocec_lightning.checks import int_at_least, is_int, number_in
from ocec_lightning.errors import ConfigError

__all__ = [
    "FREQUENCY_MODES",
    "ClassWeightedLoss",
    "SegCrossEntropy",
    "check_ignore_index",
    "check_num_classes",
    "resolve_class_weights",
    "valid_and_safe",
    "weights_from_frequencies",
]

FREQUENCY_MODES: tuple[str, ...] = ("inverse", "median_frequency")
# Stands in for "no ignore index": class ids are never negative.
_NO_IGNORE = -100

WeightSpec = str | Sequence[float] | None


def weights_from_frequencies(frequencies: Sequence[float] | Tensor, mode: str) -> Tensor:
    """Per-class weights ``[C]`` (float32) from class pixel frequencies (counts or
    fractions; the result does not depend on their scale) with ``mode`` in
    ``FREQUENCY_MODES``. Absent classes (frequency 0) get weight 0."""
    if mode not in FREQUENCY_MODES:
        raise ConfigError("class_weights", mode, f"one of {', '.join(FREQUENCY_MODES)}")
    if isinstance(frequencies, Tensor):
        freq = frequencies.detach().cpu().to(torch.float64).flatten()
    else:
        freq = torch.as_tensor([float(f) for f in frequencies], dtype=torch.float64)
    shown = [round(float(f), 6) for f in freq]
    if freq.numel() == 0 or not torch.isfinite(freq).all() or (freq < 0).any():
        raise ConfigError("class_frequencies", shown, "finite, non-negative, one per class")
    present = freq > 0
    if not present.any():
        raise ConfigError("class_frequencies", shown, "at least one class > 0")
    freq = freq / freq.sum()
    safe = torch.where(present, freq, torch.ones_like(freq))  # avoids 1/0 before masking
    if mode == "median_frequency":
        weights = freq[present].quantile(0.5) / safe
    else:
        weights = 1.0 / safe
        weights = weights / weights[present].mean()
    return torch.where(present, weights, torch.zeros_like(weights)).float()


def check_num_classes(num_classes: int | None) -> int | None:
    """``loss.num_classes`` validated (``None`` allowed: lengths are then not checked)."""
    return None if num_classes is None else int_at_least("num_classes", num_classes, 1)


def resolve_class_weights(
    spec: WeightSpec,
    num_classes: int | None,
    class_frequencies: Sequence[float] | None = None,
    key: str = "class_weights",
) -> tuple[Tensor | None, bool]:
    """``(weights or None, still_needs_frequencies)`` for a weight spec: ``None``, a
    list of per-class weights, or a mode of ``FREQUENCY_MODES``."""
    if spec is None:
        return None, False
    expected = f"null, {', '.join(FREQUENCY_MODES)} or a list of {num_classes or 'C'} weights >= 0"
    if isinstance(spec, str):
        if spec not in FREQUENCY_MODES:
            raise ConfigError(key, spec, expected)
        if class_frequencies is None:
            return None, True
        weights = weights_from_frequencies(class_frequencies, spec)
    else:
        try:
            values = [float(v) for v in spec]
        except (TypeError, ValueError):
            raise ConfigError(key, spec, expected) from None
        if not values or any(v < 0 or v != v for v in values) or not any(values):
            raise ConfigError(key, spec, expected)
        weights = torch.tensor(values, dtype=torch.float32)
    if num_classes is not None and weights.numel() != num_classes:
        raise ConfigError(key, spec if not isinstance(spec, str) else class_frequencies, expected)
    return weights, False


def check_ignore_index(ignore_index: int | None) -> int | None:
    """``loss.ignore_index`` validated: an integer, or ``None`` for "no ignored pixels"."""
    if ignore_index is not None and not is_int(ignore_index):
        raise ConfigError("ignore_index", ignore_index, "an integer (e.g. 255) or null")
    return ignore_index


def valid_and_safe(target: Tensor, ignore_index: int | None) -> tuple[Tensor, Tensor]:
    """``(valid, safe)`` for an int64 target: the mask of pixels that are not
    ``ignore_index`` (every pixel when it is ``None``), and the target with the ignored
    pixels set to class 0 so it can index, gather or one-hot without going out of range."""
    if ignore_index is None:
        valid = torch.ones_like(target, dtype=torch.bool)
    else:
        valid = target != ignore_index
    return valid, torch.where(valid, target, torch.zeros_like(target))


class ClassWeightedLoss(nn.Module):
    """Base of the segmentation losses whose per-class weights may be derived from the
    train split's class pixel frequencies: holds the weights (a non-persistent buffer
    named ``weight_buffer``, configured under ``weight_key``) and the fill-in-later
    protocol, ``needs_class_frequencies`` and ``set_class_frequencies``."""

    weight_key: str  # the argument holding the weight spec, e.g. "class_weights"
    weight_buffer: str  # the attribute holding the weights tensor (or None)
    num_classes: int | None

    def _init_class_weights(
        self, spec: WeightSpec, class_frequencies: Sequence[float] | None
    ) -> None:
        """Resolve ``spec`` and register the weights buffer (``num_classes`` set first)."""
        self.mode = spec if isinstance(spec, str) else None
        weights, self.needs_class_frequencies = resolve_class_weights(
            spec, self.num_classes, class_frequencies, self.weight_key
        )
        # Not persistent: like pos_weight, a resumed run recomputes it from the data.
        self.register_buffer(self.weight_buffer, weights, persistent=False)

    def set_class_frequencies(self, frequencies: Sequence[float]) -> None:
        """Fill in frequency-based weights (no-op when the weights are not frequency-based)."""
        if self.mode is None:
            return
        weights, _ = resolve_class_weights(
            self.mode, self.num_classes, frequencies, self.weight_key
        )
        setattr(self, self.weight_buffer, weights)  # _class_weights_for moves it to the device
        self.needs_class_frequencies = False

    def _class_weights_for(self, logits: Tensor) -> Tensor | None:
        """The weights (or ``None``) on ``logits``' device, for ``forward``.

        Checks first that frequency-based weights have been filled in. Weights filled in
        by ``set_class_frequencies`` after the module moved to an accelerator are still on
        the CPU: they are moved once and kept there.
        """
        self._check_class_frequencies_filled()
        weights = getattr(self, self.weight_buffer)
        if weights is not None and weights.device != logits.device:
            weights = weights.to(logits.device)
            setattr(self, self.weight_buffer, weights)
        return weights

    def _check_class_frequencies_filled(self) -> None:
        """``ConfigError`` while frequency-based weights still wait for the frequencies."""
        if self.needs_class_frequencies:
            raise ConfigError(
                "class_frequencies",
                None,
                f"class pixel frequencies of the train split ({self.weight_key}={self.mode}); "
                "call bind_data(datamodule), set_class_frequencies() or pass class_frequencies",
            )

    def bind_data(self, datamodule: Any) -> None:
        """Fill in frequency-based weights from the datamodule's train split (once)."""
        if self.needs_class_frequencies:
            self.set_class_frequencies(datamodule.class_pixel_frequencies())


class SegCrossEntropy(ClassWeightedLoss):
    """Cross-entropy over pixels with optional class weights and label smoothing.

    The mean runs over non-ignored pixels, each weighted by its target class's weight
    (PyTorch's ``reduction="mean"``), but a batch whose pixels are all ignored gives 0
    instead of NaN.
    """

    weight_key = "class_weights"
    weight_buffer = "class_weight"

    def __init__(
        self,
        class_weights: WeightSpec = None,
        label_smoothing: float = 0.0,
        ignore_index: int | None = 255,
        num_classes: int | None = None,
        class_frequencies: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.label_smoothing = number_in("label_smoothing", label_smoothing, 0, 1, high_open=True)
        checked = check_ignore_index(ignore_index)
        self.ignore_index = _NO_IGNORE if checked is None else checked
        self.num_classes = check_num_classes(num_classes)
        self._init_class_weights(class_weights, class_frequencies)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        weight = self._class_weights_for(logits)
        target = target.long()
        total = F.cross_entropy(
            logits,
            target,
            weight=weight,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            reduction="sum",
        )
        valid = target != self.ignore_index
        if weight is None:
            denom = valid.sum().to(total.dtype)
        else:
            # PyTorch's weighted mean divides by the summed weights of the target classes.
            safe = torch.where(valid, target, torch.zeros_like(target))
            denom = (weight[safe] * valid).sum().to(total.dtype)
        # clamp: all pixels ignored (or all of zero-weight classes) -> 0 / tiny = 0, no NaN.
        return total / denom.clamp_min(torch.finfo(total.dtype).tiny)
