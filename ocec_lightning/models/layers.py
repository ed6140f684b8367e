"""Small building blocks shared by the OCEC backbones and heads.

Holds a conv-BN-act unit, a squeeze-and-excitation gate, a per-channel layer scale,
and the weight-init routine that every OCEC model applies once after it is built, and
re-exports timm's channels-first ``LayerNorm2d`` (a ``nn.LayerNorm`` subclass, so the
init routine and no-weight-decay filters need no special case) used by the
ConvNeXt-style backbone. Nothing here knows about configs; validation lives in
``ocec.py`` (shared checks in ``ocec_lightning/checks.py``).
"""

from __future__ import annotations

import torch
from timm.layers import LayerNorm2d
from torch import Tensor, nn

__all__ = ["ConvBNAct", "LayerNorm2d", "LayerScale", "SqueezeExcite", "init_weights"]


class ConvBNAct(nn.Sequential):
    """``Conv2d`` (no bias, BN follows) + ``BatchNorm2d`` + optional activation.

    ``padding`` defaults to ``kernel_size // 2`` so odd kernels keep the size at
    stride 1 and give ``ceil(size / stride)`` otherwise, the rule
    ``backbone_feature_shape`` relies on.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        act: type[nn.Module] | None = nn.ReLU,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=kernel_size // 2,
                groups=groups,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels),
        ]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Channel gate: global pool, 1x1 reduce, SiLU, 1x1 expand, sigmoid, rescale."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        # max(1, ...) keeps very narrow layers valid when reduction exceeds channels.
        hidden = max(1, channels // reduction)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.act = nn.SiLU()
        self.expand = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        scale = x.mean(dim=(2, 3), keepdim=True)
        scale = self.expand(self.act(self.reduce(scale)))
        return x * torch.sigmoid(scale)


class LayerScale(nn.Module):
    """Learnable per-channel multiplier for channels-last tensors (ConvNeXt ``gamma``).

    A tiny init (1e-6) makes each residual block start close to identity, which is
    what lets deep ConvNeXt stacks train without warm-up tricks.
    """

    def __init__(self, channels: int, init_value: float = 1e-6) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((channels,), init_value))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


def init_weights(module: nn.Module) -> None:
    """Initialise every submodule of ``module`` in place with the OCEC rules.

    Convs: Kaiming normal (fan_out, relu), zero bias. BatchNorm / LayerNorm: weight 1,
    bias 0. Linears: Xavier uniform, zero bias. ``LayerScale`` parameters and
    attention in-projection matrices (plain Parameters, not modules) are left as
    their constructors set them.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
            if m.weight is not None:
                nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
