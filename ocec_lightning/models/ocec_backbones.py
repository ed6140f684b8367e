"""The three OCEC feature extractors and their analytic output-shape rule.

Every backbone is a stem followed by ``num_blocks`` blocks. Block ``i`` (0-based)
has stride 2 when ``i`` is even and ``i > 0``, and the channel count doubles at each
stride-2 block, so 4 blocks downsample once (2x base channels out), 6 blocks twice
(4x) and 8 blocks three times (8x). ``backbone_feature_shape`` derives the output
``(C, h, w)`` from the same rule without a forward pass, which lets configs be
checked before any weights exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from ocec_lightning.models.layers import ConvBNAct, LayerNorm2d, LayerScale, SqueezeExcite

BACKBONES: tuple[str, ...] = ("baseline", "inverted_se", "convnext")


def block_stride(index: int) -> int:
    """Stride of block ``index``: 2 for even indices after the first, else 1."""
    return 2 if index > 0 and index % 2 == 0 else 1


def num_downsamples(num_blocks: int) -> int:
    """How many of ``num_blocks`` blocks have stride 2."""
    return sum(block_stride(i) == 2 for i in range(num_blocks))


def block_channels(base_channels: int, num_blocks: int) -> list[int]:
    """Output channels of each block (doubling at every stride-2 block)."""
    channels = base_channels
    out: list[int] = []
    for i in range(num_blocks):
        if block_stride(i) == 2:
            channels *= 2
        out.append(channels)
    return out


def _ceil_half(size: int) -> int:
    # A 3x3 conv with padding 1 and stride 2 gives ceil(size / 2).
    return (size + 1) // 2


def backbone_feature_shape(
    backbone: str, base_channels: int, num_blocks: int, image_size: Sequence[int]
) -> tuple[int, int, int]:
    """``(C, h, w)`` of the backbone output for an ``[H, W]`` input, computed analytically.

    A spatial size of 0 means the input is too small for this many downsamples (the
    real forward pass would fail); callers turn that into a config error.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; expected one of {BACKBONES}")
    h, w = (int(s) for s in image_size)
    downs = num_downsamples(num_blocks)
    if backbone == "convnext":
        # Unpadded 4x4/s4 stem and 2x2/s2 downsample convs floor the size.
        h, w = h // 4, w // 4
        for _ in range(downs):
            h, w = h // 2, w // 2
    else:
        # Padded 3x3/s2 convs (stem and depthwise) round up, so they never reach 0.
        h, w = _ceil_half(h), _ceil_half(w)
        for _ in range(downs):
            h, w = _ceil_half(h), _ceil_half(w)
    return base_channels * 2**downs, h, w


class BaselineBlock(nn.Module):
    """Depthwise 3x3 - BN - ReLU - pointwise 1x1 - BN, (+ residual), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.depthwise = ConvBNAct(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pointwise = ConvBNAct(in_channels, out_channels, 1, act=None)
        self.use_residual = stride == 1 and in_channels == out_channels
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.pointwise(self.depthwise(x))
        if self.use_residual:
            out = out + x
        return self.act(out)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand, depthwise 3x3, SE, 1x1 project (+ residual)."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, expansion: int, se_reduction: int
    ) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expand = ConvBNAct(in_channels, hidden, 1, act=nn.SiLU)
        self.depthwise = ConvBNAct(hidden, hidden, 3, stride, groups=hidden, act=nn.SiLU)
        self.se = SqueezeExcite(hidden, se_reduction)
        # Linear bottleneck: no activation after the projection (MobileNetV2 rationale:
        # a ReLU/SiLU on the narrow tensor destroys information).
        self.project = ConvBNAct(hidden, out_channels, 1, act=None)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.se(self.depthwise(self.expand(x))))
        return out + x if self.use_residual else out


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7, LayerNorm, Linear x4 - GELU - Linear, layer scale, residual."""

    def __init__(self, channels: int, mlp_ratio: int = 4, layer_scale_init: float = 1e-6) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 7, padding=3, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.fc1 = nn.Linear(channels, channels * mlp_ratio)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(channels * mlp_ratio, channels)
        self.layer_scale = LayerScale(channels, layer_scale_init)

    def forward(self, x: Tensor) -> Tensor:
        out = self.depthwise(x).permute(0, 2, 3, 1)  # channels-last for LN and Linear
        out = self.layer_scale(self.fc2(self.act(self.fc1(self.norm(out)))))
        return x + out.permute(0, 3, 1, 2)


class OCECBackbone(nn.Module):
    """Stem + ``blocks`` (an ``nn.Sequential``); ``out_channels`` is the final width."""

    def __init__(
        self,
        backbone: str = "baseline",
        base_channels: int = 32,
        num_blocks: int = 6,
        in_channels: int = 3,
        expansion: int = 4,
        se_reduction: int = 8,
    ) -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {backbone!r}; expected one of {BACKBONES}")
        self.name = backbone
        widths = block_channels(base_channels, num_blocks)
        self.out_channels = widths[-1]
        self.stem = self._make_stem(backbone, in_channels, base_channels)

        blocks: list[nn.Module] = []
        prev = base_channels
        for i, width in enumerate(widths):
            stride = block_stride(i)
            if backbone == "baseline":
                blocks.append(BaselineBlock(prev, width, stride))
            elif backbone == "inverted_se":
                blocks.append(MBConvBlock(prev, width, stride, expansion, se_reduction))
            elif stride == 2:
                # ConvNeXt keeps blocks shape-preserving; resolution and width change in
                # a separate LN + 2x2/s2 conv placed in front of the block.
                downsample = nn.Sequential(LayerNorm2d(prev), nn.Conv2d(prev, width, 2, 2))
                blocks.append(nn.Sequential(downsample, ConvNeXtBlock(width)))
            else:
                blocks.append(ConvNeXtBlock(width))
            prev = width
        self.blocks = nn.Sequential(*blocks)

    @staticmethod
    def _make_stem(backbone: str, in_channels: int, base_channels: int) -> nn.Module:
        if backbone == "baseline":
            return ConvBNAct(in_channels, base_channels, 3, 2)
        if backbone == "inverted_se":
            return nn.Sequential(
                ConvBNAct(in_channels, base_channels, 3, 1, act=nn.SiLU),
                ConvBNAct(base_channels, base_channels, 3, 2, act=nn.SiLU),
            )
        return nn.Sequential(
            nn.Conv2d(in_channels, base_channels, 4, stride=4), LayerNorm2d(base_channels)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.stem(x))
