"""``TimmUNet``: any timm ``features_only`` encoder with a light FPN-style decoder, the
Hydra ``_target_`` of model=timm_unet. ``[B, C, H, W]`` -> ``[B, num_classes, H, W]``.

Decoder: a 1×1 lateral conv brings every selected encoder level to
``decoder_channels``; from the coarsest level down, the running map is upsampled
(bilinear) and added to the next lateral; the finest merged map goes through two
3×3 conv-BN-ReLU layers and a 1×1 classifier, then is upsampled to the input size.

As with model=timm there is no hub access at run time: ``pretrained`` only documents
that ``weights_path`` (a local file) holds pretrained encoder weights. Name lookup,
weight loading and their error messages reuse ``timm_adapter``'s helpers.
"""

from __future__ import annotations

from collections.abc import Sequence

import timm
import torch.nn.functional as F
from torch import Tensor, nn

from ocec_lightning.checks import int_at_least, int_pair
from ocec_lightning.errors import ConfigError
from ocec_lightning.models.layers import ConvBNAct, init_weights
from ocec_lightning.models.microsegformer_blocks import init_classifier
from ocec_lightning.models.timm_adapter import (
    check_pretrained,
    check_timm_name,
    load_matching_weights,
    load_state_dict_file,
)

__all__ = ["FPNDecoder", "TimmUNet"]

# Stride-2 maps are large and add little to a light decoder; by default only levels
# at stride >= 4 feed it (the encoder computes the stride-2 map on the way anyway).
_MIN_AUTO_REDUCTION = 4


class FPNDecoder(nn.Module):
    """Top-down feature pyramid over ``in_channels`` (fine to coarse) -> logits at the
    finest level's resolution."""

    def __init__(self, in_channels: Sequence[int], channels: int, num_classes: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.head = nn.Sequential(
            ConvBNAct(channels, channels, 3), ConvBNAct(channels, channels, 3)
        )
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        x = self.lateral[-1](features[-1])
        for lateral, feature in zip(self.lateral[-2::-1], features[-2::-1], strict=True):
            skip = lateral(feature)
            # Sizes, not a fixed x2 factor: odd inputs and equal-stride levels both work.
            x = skip + F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.classifier(self.head(x))


def _remap_flattened(state: dict[str, Tensor], target: set[str]) -> dict[str, Tensor]:
    """Rename ``stem.0.weight``-style keys of a classification checkpoint to the
    ``stem_0.weight`` names timm's FeatureListNet gives flattened top-level modules."""
    out = {}
    for key, value in state.items():
        flat = key.replace(".", "_", 1)
        out[flat if key not in target and flat in target else key] = value
    return out


class TimmUNet(nn.Module):
    """timm encoder (``features_only``) + FPN decoder for semantic segmentation."""

    def __init__(
        self,
        encoder: str = "resnet18",
        num_classes: int = 11,
        in_channels: int = 3,
        pretrained: bool = False,
        weights_path: str | None = None,
        decoder_channels: int = 64,
        image_size: Sequence[int] = (128, 128),
        out_indices: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.encoder_name = check_timm_name("model.encoder", encoder, "resnet18")
        check_pretrained(pretrained, weights_path, "encoder weights")
        self.num_classes = int_at_least("model.num_classes", num_classes, 1)
        self.in_channels = int_at_least("model.in_channels", in_channels, 1)
        width = int_at_least("model.decoder_channels", decoder_channels, 1)
        size = int_pair("model.image_size", image_size)
        self.encoder = self._create(encoder, out_indices)
        reductions = list(self.encoder.feature_info.reduction())
        channels = list(self.encoder.feature_info.channels())
        if out_indices is None:
            keep = [i for i, r in enumerate(reductions) if r >= _MIN_AUTO_REDUCTION]
            self.used_levels = keep or list(range(len(reductions)))
        else:
            self.used_levels = list(range(len(reductions)))
        self.image_size = self._fits_encoder(size, max(reductions))
        self.decoder = FPNDecoder([channels[i] for i in self.used_levels], width, self.num_classes)
        init_weights(self.decoder)
        init_classifier(self.decoder.classifier)
        self.loaded_tensors = 0
        if weights_path:
            state = load_state_dict_file(weights_path)
            state = _remap_flattened(state, set(self.encoder.state_dict()))
            self.loaded_tensors = load_matching_weights(self.encoder, state, str(weights_path))

    def _create(self, name: str, out_indices: Sequence[int] | None) -> nn.Module:
        extra = {} if out_indices is None else {"out_indices": tuple(int(i) for i in out_indices)}
        try:
            return timm.create_model(
                name, features_only=True, pretrained=False, in_chans=self.in_channels, **extra
            )
        except (RuntimeError, ValueError, TypeError, AssertionError, IndexError) as exc:
            detail = " ".join(str(exc).split())[:200]
            key = "model.out_indices" if out_indices is not None else "model.encoder"
            value = list(out_indices) if out_indices is not None else name
            raise ConfigError(
                key,
                value,
                f"a timm encoder that supports features_only with valid out_indices ({detail})",
            ) from exc

    @staticmethod
    def _fits_encoder(size: tuple[int, int], max_reduction: int) -> tuple[int, int]:
        """``size`` (a checked pair) unless a side is below the encoder's deepest stride."""
        if min(size) < max_reduction:
            raise ConfigError(
                "model.image_size",
                list(size),
                f"[height, width] of at least {max_reduction} pixels each "
                f"(the encoder's deepest stride), e.g. [128, 128]",
            )
        return size

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, num_classes, H, W]`` at the input resolution."""
        features = self.encoder(x)
        logits = self.decoder([features[i] for i in self.used_levels])
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
