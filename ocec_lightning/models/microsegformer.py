"""``MicroSegFormer``: a small SegFormer (Mix-Transformer encoder + all-MLP decoder) for
face parsing, the Hydra ``_target_`` of model=microsegformer.

``[B, in_channels, H, W]`` images -> ``[B, num_classes, H, W]`` logits. The constructor
checks all its arguments (``check_microsegformer_config``) before it builds any layer,
so a bad config fails with a one-line ``ConfigError`` naming the ``model.*`` key.

Parameter counts for 19 classes at the reference sizes (embed dims 32/64/128/192, depths
1/2/2/2, one head, sr 8/4/2/1, mlp ratio 2, decoder 128):
- defaults (``ffn="mix"``, ``decoder_fuse="conv"``, the SegFormer design: Mix-FFN and a
  fusing convolution): 1,721,555 without LMSA, 1,747,539 with it;
- ``ffn="mlp", decoder_fuse="mlp"`` (the layout the reference implementation actually
  uses: no depthwise conv in the FFN, fuse = linear-GELU-linear): exactly 1,721,939 and
  1,747,923, the counts ANCHORS.md quotes. The 384 difference is the Mix-FFN depthwise
  convs (+16,000) against the reference's second fuse linear minus BN (+16,384).
See ``microsegformer_blocks.py`` for the bias/norm choices behind these numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from ocec_lightning.checks import (
    as_list,
    int_at_least,
    int_pair,
    is_int,
    is_number,
    number_in,
    one_of,
)
from ocec_lightning.errors import ConfigError
from ocec_lightning.models.microsegformer_blocks import (
    EncoderStage,
    MLPDecoder,
    init_segformer_weights,
)
from ocec_lightning.models.validation import arguments_of

__all__ = ["MicroSegFormer", "MicroSegFormerSpec", "check_microsegformer_config"]

FFN_TYPES: tuple[str, ...] = ("mix", "mlp")
FUSE_TYPES: tuple[str, ...] = ("conv", "mlp")
# Stage 1 embeds with a 7x7 stride-4 conv, later stages with 3x3 stride-2 convs.
_FIRST_PATCH = (7, 4)
_LATER_PATCH = (3, 2)


@dataclass(frozen=True)
class MicroSegFormerSpec:
    """A validated MicroSegFormer config (no weights involved)."""

    embed_dims: tuple[int, ...]
    depths: tuple[int, ...]
    num_heads: tuple[int, ...]
    sr_ratios: tuple[int, ...]
    image_size: tuple[int, int]
    total_stride: int
    stage_sizes: tuple[tuple[int, int], ...]  # (h, w) of each stage's map at image_size


def _int_list(key: str, value: object) -> tuple[int, ...]:
    items = as_list(value)
    if not items or isinstance(value, str) or not all(is_int(v) and int(v) > 0 for v in items):
        raise ConfigError(key, value, "a non-empty list of positive integers, one per stage")
    return tuple(int(v) for v in items)


def _nearest_multiples(size: int, step: int) -> list[int]:
    if size % step == 0:
        return [size]
    below = (size // step) * step
    return [s for s in (below, below + step) if s >= step]


def _image_size(value: object, stride: int) -> tuple[int, int]:
    h, w = int_pair("model.image_size", value)
    if h % stride or w % stride:
        heights, widths = _nearest_multiples(h, stride), _nearest_multiples(w, stride)
        options = [f"[{a}, {b}]" for a in heights for b in widths]
        raise ConfigError(
            "model.image_size",
            [h, w],
            f"height and width divisible by {stride} (the encoder's total stride); "
            f"nearest valid sizes: {', '.join(options)}",
        )
    return h, w


class MicroSegFormer(nn.Module):
    """Mix-Transformer encoder + all-MLP decoder: ``[B, C, H, W]`` -> ``[B, K, H, W]`` logits."""

    def __init__(
        self,
        num_classes: int = 11,
        in_channels: int = 3,
        embed_dims: Sequence[int] = (32, 64, 128, 192),
        depths: Sequence[int] = (1, 2, 2, 2),
        num_heads: Sequence[int] = (1, 1, 1, 1),
        sr_ratios: Sequence[int] = (8, 4, 2, 1),
        mlp_ratio: float = 2,
        decoder_dim: int = 128,
        lmsa: bool = False,
        drop_path: float = 0.0,
        dropout: float = 0.1,
        image_size: Sequence[int] = (128, 128),
        ffn: str = "mix",
        decoder_fuse: str = "conv",
    ) -> None:
        super().__init__()
        spec = check_microsegformer_config(arguments_of(MicroSegFormer, locals()))
        self.spec = spec
        self.num_classes = int(num_classes)
        self.in_channels = int(in_channels)
        self.image_size = spec.image_size
        # Stochastic depth grows linearly from 0 at the first block to drop_path at the last.
        total = sum(spec.depths)
        rates = [float(drop_path) * i / max(1, total - 1) for i in range(total)]
        stages: list[EncoderStage] = []
        prev = int(in_channels)
        start = 0
        for i, dim in enumerate(spec.embed_dims):
            kernel, stride = _FIRST_PATCH if i == 0 else _LATER_PATCH
            depth = spec.depths[i]
            stages.append(
                EncoderStage(
                    in_channels=prev,
                    dim=dim,
                    kernel=kernel,
                    stride=stride,
                    depth=depth,
                    num_heads=spec.num_heads[i],
                    sr_ratio=spec.sr_ratios[i],
                    hidden=int(dim * float(mlp_ratio)),
                    mix_ffn=ffn == "mix",
                    drop_paths=rates[start : start + depth],
                )
            )
            prev, start = dim, start + depth
        self.stages = nn.ModuleList(stages)
        self.decoder = MLPDecoder(
            list(spec.embed_dims),
            int(decoder_dim),
            self.num_classes,
            fuse=decoder_fuse,
            lmsa=bool(lmsa),
            dropout=float(dropout),
        )
        init_segformer_weights(self)

    def forward_features(self, x: Tensor) -> list[Tensor]:
        """The encoder's multi-scale maps, strides 4, 8, 16, 32 (one per stage)."""
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, num_classes, H, W]`` at the input resolution."""
        logits = self.decoder(self.forward_features(x))
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


def check_microsegformer_config(config: Mapping[str, Any]) -> MicroSegFormerSpec:
    """Validate MicroSegFormer's arguments (``config``: every parameter of
    ``MicroSegFormer``, by name); raise ``ConfigError`` (key ``model.*``) on the first
    problem."""
    int_at_least("model.num_classes", config["num_classes"], 1)
    int_at_least("model.in_channels", config["in_channels"], 1)
    int_at_least("model.decoder_dim", config["decoder_dim"], 1)
    dims = _int_list("model.embed_dims", config["embed_dims"])
    lists = {
        "model.depths": _int_list("model.depths", config["depths"]),
        "model.num_heads": _int_list("model.num_heads", config["num_heads"]),
        "model.sr_ratios": _int_list("model.sr_ratios", config["sr_ratios"]),
    }
    for key, values in lists.items():
        if len(values) != len(dims):
            raise ConfigError(
                key,
                list(values),
                f"{len(dims)} entries, one per stage like model.embed_dims={list(dims)}",
            )
    heads = lists["model.num_heads"]
    for i, (dim, head) in enumerate(zip(dims, heads, strict=True)):
        if dim % head:
            fits = [d for d in range(1, dim + 1) if dim % d == 0 and d <= 16]
            raise ConfigError(
                "model.num_heads",
                list(heads),
                f"head counts that divide the stage widths; stage {i + 1} has width {dim}, "
                f"whose divisors up to 16 are {fits}",
            )
    mlp_ratio = config["mlp_ratio"]
    lmsa = config["lmsa"]
    if not is_number(mlp_ratio) or mlp_ratio <= 0:
        raise ConfigError("model.mlp_ratio", mlp_ratio, "a positive number (2 in the reference)")
    if min(int(d * float(mlp_ratio)) for d in dims) < 1:
        raise ConfigError("model.mlp_ratio", mlp_ratio, "a ratio giving >= 1 hidden unit")
    if not isinstance(lmsa, bool):
        raise ConfigError("model.lmsa", lmsa, "true or false")
    number_in("model.drop_path", config["drop_path"], 0, 1, high_open=True)
    number_in("model.dropout", config["dropout"], 0, 1, high_open=True)
    one_of("model.ffn", config["ffn"], FFN_TYPES)
    one_of("model.decoder_fuse", config["decoder_fuse"], FUSE_TYPES)

    stride = _FIRST_PATCH[1] * _LATER_PATCH[1] ** (len(dims) - 1)
    h, w = _image_size(config["image_size"], stride)
    sizes: list[tuple[int, int]] = []
    s = _FIRST_PATCH[1]
    srs = lists["model.sr_ratios"]
    for i, sr in enumerate(srs):
        sizes.append((h // s, w // s))
        # The key/value reduction conv needs at least one sr x sr window in the map.
        if min(sizes[-1]) < sr:
            raise ConfigError(
                "model.sr_ratios",
                list(srs),
                f"stage {i + 1}'s map is {sizes[-1][0]}×{sizes[-1][1]} at image_size "
                f"[{h}, {w}], so its sr ratio must be <= {min(sizes[-1])}",
            )
        s *= _LATER_PATCH[1]
    return MicroSegFormerSpec(dims, lists["model.depths"], heads, srs, (h, w), stride, tuple(sizes))
