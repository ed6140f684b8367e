"""Building blocks of ``MicroSegFormer``: the Mix-Transformer encoder pieces and the
all-MLP decoder pieces. Nothing here validates configs (``microsegformer.py`` does).

Parameter-count notes (they decide whether the model reproduces the reference counts of
ANCHORS.md, 1,721,939 / 1,747,923 for 19 classes):
- every ``nn.Linear`` / patch-embedding conv / spatial-reduction conv / Mix-FFN
  depthwise conv / decoder 1x1 projection / classifier has a bias;
- the decoder's fuse conv has no bias because BatchNorm follows it;
- LMSA's depthwise, pointwise and SE layers have no bias (BN follows the convs, and the
  SE gate is bias-free), which makes LMSA exactly 25,984 parameters at width 128.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "EncoderStage",
    "LMSA",
    "MLPDecoder",
    "init_classifier",
    "init_segformer_weights",
]


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per sample while training."""

    def __init__(self, prob: float = 0.0) -> None:
        super().__init__()
        self.prob = float(prob)

    def forward(self, x: Tensor) -> Tensor:
        if self.prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.prob
        # One Bernoulli draw per sample, broadcast over tokens and channels; dividing by
        # `keep` keeps the expected value equal to the eval-time identity.
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class OverlapPatchEmbed(nn.Module):
    """Strided conv whose kernel is larger than its stride (neighbouring patches
    overlap, which keeps local continuity), then LayerNorm over channels."""

    def __init__(self, in_channels: int, dim: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel, stride=stride, padding=kernel // 2)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> tuple[Tensor, int, int]:
        x = self.proj(x)
        h, w = x.shape[-2:]
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class EfficientSelfAttention(nn.Module):
    """Multi-head self-attention whose keys/values come from a map shrunk ``sr``×
    per side (conv sr×sr stride sr + LayerNorm), so cost is N·N/sr² instead of N²."""

    def __init__(self, dim: int, num_heads: int, sr_ratio: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        b, n, c = x.shape
        heads, head_dim = self.num_heads, c // self.num_heads
        q = self.q(x).reshape(b, n, heads, head_dim).transpose(1, 2)
        if self.sr_ratio > 1:
            kv_in = self.sr(x.transpose(1, 2).reshape(b, c, h, w)).flatten(2).transpose(1, 2)
            kv_in = self.norm(kv_in)
        else:
            kv_in = x
        kv = self.kv(kv_in).reshape(b, -1, 2, heads, head_dim).permute(2, 0, 3, 1, 4)
        # The fused kernel is faster and lighter on memory than softmax(QK^T)V by hand,
        # and exports to ONNX (opset >= 14).
        out = F.scaled_dot_product_attention(q, kv[0], kv[1])
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class FeedForward(nn.Module):
    """Mix-FFN (``mix=True``: linear → depthwise 3×3 → GELU → linear; the depthwise conv
    leaks positional information in, which is why MiT needs no position embedding), or
    the reference implementation's plain MLP (``mix=False``: linear → GELU → linear)."""

    def __init__(self, dim: int, hidden: int, mix: bool = True) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden) if mix else None
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        x = self.fc1(x)
        if self.dwconv is not None:
            b, n, c = x.shape
            x = self.dwconv(x.transpose(1, 2).reshape(b, c, h, w)).flatten(2).transpose(1, 2)
        return self.fc2(self.act(x))


class TransformerBlock(nn.Module):
    """Pre-norm block: x + attn(LN(x)), then x + FFN(LN(x)), both with stochastic depth."""

    def __init__(
        self, dim: int, num_heads: int, sr_ratio: int, hidden: int, mix_ffn: bool, drop: float
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = EfficientSelfAttention(dim, num_heads, sr_ratio)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, hidden, mix=mix_ffn)
        self.drop_path = DropPath(drop)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), h, w))
        return x + self.drop_path(self.ffn(self.norm2(x), h, w))


class EncoderStage(nn.Module):
    """Patch embedding, ``depth`` transformer blocks, LayerNorm; returns ``[B, C, h, w]``."""

    def __init__(
        self,
        in_channels: int,
        dim: int,
        kernel: int,
        stride: int,
        depth: int,
        num_heads: int,
        sr_ratio: int,
        hidden: int,
        mix_ffn: bool,
        drop_paths: list[float],
    ) -> None:
        super().__init__()
        self.embed = OverlapPatchEmbed(in_channels, dim, kernel, stride)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, sr_ratio, hidden, mix_ffn, drop_paths[i])
            for i in range(depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        tokens, h, w = self.embed(x)
        for block in self.blocks:
            tokens = block(tokens, h, w)
        tokens = self.norm(tokens)
        return tokens.transpose(1, 2).reshape(x.shape[0], -1, h, w)


class LMSA(nn.Module):
    """Lightweight attention block of the reference decoder: depthwise 3×3 → pointwise
    1×1 → BN, gated per channel by a bias-free squeeze-excitation (reduction 4), plus
    the input as residual: ``out · SE(out) + x``."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        self.dw = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.pw = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        hidden = max(1, channels // reduction)
        self.se = nn.Sequential(
            nn.Linear(channels, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn(self.pw(self.dw(x)))
        gate = self.se(out.mean(dim=(2, 3)))
        return out * gate[:, :, None, None] + x


class MLPDecoder(nn.Module):
    """SegFormer's all-MLP head: per-stage 1×1 projection to ``dim``, bilinear upsample to
    the first stage's 1/4 resolution, concat, fuse, optional LMSA, dropout, classifier.

    ``fuse="conv"``: 1×1 conv (no bias) + BN + ReLU (SegFormer). ``fuse="mlp"``: 1×1
    conv → GELU → 1×1 conv, both with bias, as the reference implementation does.
    Returns logits at 1/4 resolution; the model upsamples them to the input size.
    """

    def __init__(
        self,
        in_dims: list[int],
        dim: int,
        num_classes: int,
        fuse: str = "conv",
        lmsa: bool = False,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        # A 1x1 conv is the per-pixel linear layer, applied without token permutes.
        self.project = nn.ModuleList(nn.Conv2d(d, dim, 1) for d in in_dims)
        concat = dim * len(in_dims)
        if fuse == "conv":
            self.fuse: nn.Module = nn.Sequential(
                nn.Conv2d(concat, dim, 1, bias=False), nn.BatchNorm2d(dim), nn.ReLU(inplace=True)
            )
        else:
            self.fuse = nn.Sequential(nn.Conv2d(concat, dim, 1), nn.GELU(), nn.Conv2d(dim, dim, 1))
        self.lmsa = LMSA(dim) if lmsa else None
        # Dropout2d zeroes whole feature channels, the SegFormer decode-head choice.
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(dim, num_classes, 1)

    def forward(self, features: list[Tensor]) -> Tensor:
        size = features[0].shape[-2:]
        maps = [proj(f) for proj, f in zip(self.project, features, strict=True)]
        maps = [m if m.shape[-2:] == size else _resize(m, size) for m in maps]
        x = self.fuse(torch.cat(maps, dim=1))
        if self.lmsa is not None:
            x = self.lmsa(x)
        # Classifying before the x4 upsample equals classifying after it (both are
        # linear and bilinear weights sum to 1) at 1/16 of the cost.
        return self.classifier(self.dropout(x))


def _resize(x: Tensor, size: torch.Size | tuple[int, int]) -> Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def init_segformer_weights(module: nn.Module) -> None:
    """SegFormer init: truncated normal (std 0.02) linears, fan-out normal convs,
    unit/zero norms, zero biases. Applied once after the model is built."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.LayerNorm, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, MLPDecoder):
            init_classifier(m.classifier)


def init_classifier(conv: nn.Conv2d) -> None:
    """Small (std 0.01) classifier weights, as SegFormer's decode head: the fan-out rule
    gives logits of std ~3 at init and an initial cross-entropy far above log(C)."""
    nn.init.normal_(conv.weight, 0.0, 0.01)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
