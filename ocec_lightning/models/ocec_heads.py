"""Classification heads that turn a backbone feature map into one logit per image.

``avg`` and ``avgmax_mlp`` pool globally; ``transformer`` and ``mlp_mixer`` first
average-pool the map into a small ``gh x gw`` token grid and mix those tokens, which
keeps some spatial layout (e.g. eyelid position) that a global pool throws away. The
token grid must divide the feature map exactly so every token covers the same number
of cells; ``valid_token_grids`` lists the grids that do. Every head returns ``[N, 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

HEADS: tuple[str, ...] = ("auto", "avg", "avgmax_mlp", "transformer", "mlp_mixer")
TOKEN_HEADS: tuple[str, ...] = ("transformer", "mlp_mixer")
AUTO_HEAD: dict[str, str] = {
    "baseline": "avg",
    "inverted_se": "avgmax_mlp",
    "convnext": "transformer",
}


def resolve_head(head: str, backbone: str) -> str:
    """The concrete head name: ``auto`` maps to the backbone's default pairing."""
    return AUTO_HEAD[backbone] if head == "auto" else head


def valid_token_grids(h: int, w: int) -> list[tuple[int, int]]:
    """All ``(gh, gw)`` with ``h % gh == 0`` and ``w % gw == 0``, sorted."""
    rows = [g for g in range(1, h + 1) if h % g == 0]
    cols = [g for g in range(1, w + 1) if w % g == 0]
    return [(gh, gw) for gh in rows for gw in cols]


def attention_heads(channels: int, max_heads: int = 8) -> int:
    """Largest divisor of ``channels`` that is at most ``max_heads``."""
    return max(d for d in range(1, min(channels, max_heads) + 1) if channels % d == 0)


class AvgHead(nn.Module):
    """Global average pool, BatchNorm1d, dropout, linear."""

    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(channels)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.dropout(self.norm(x.mean(dim=(2, 3)))))


class AvgMaxMLPHead(nn.Module):
    """concat(avg, max) pool, BN, dropout, Linear to max(16, C), ReLU, dropout, Linear."""

    def __init__(self, channels: int, dropout: float) -> None:
        super().__init__()
        # The floor of 16 keeps the hidden layer useful for very narrow backbones.
        hidden = max(16, channels)
        self.mlp = nn.Sequential(
            nn.BatchNorm1d(2 * channels),
            nn.Dropout(dropout),
            nn.Linear(2 * channels, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        flat = x.flatten(2)
        return self.mlp(torch.cat((flat.mean(-1), flat.amax(-1)), dim=1))


class _TokenGridHead(nn.Module):
    """Shared part of the token heads: pool to a grid, ``layers`` (set by the subclass:
    transformer or mixer layers over the tokens), mean, LN, dropout, linear."""

    layers: nn.Module  # the token mixer, built by the subclass

    def __init__(self, channels: int, grid: Sequence[int], dropout: float) -> None:
        super().__init__()
        self.grid = (int(grid[0]), int(grid[1]))
        # Exact divisibility is checked at config time, so this is a uniform pool
        # (and exports as a plain AvgPool with fixed kernel).
        self.pool = nn.AdaptiveAvgPool2d(self.grid)
        self.norm = nn.LayerNorm(channels)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.pool(x).flatten(2).transpose(1, 2)  # [N, T, C]
        tokens = self.layers(tokens)
        return self.fc(self.dropout(self.norm(tokens.mean(dim=1))))


class TransformerHead(_TokenGridHead):
    """Pre-norm transformer encoder layers over the token grid."""

    def __init__(self, channels: int, grid: Sequence[int], num_layers: int, dropout: float) -> None:
        super().__init__(channels, grid, dropout)
        # A plain Sequential instead of nn.TransformerEncoder: the latter warns about
        # nested tensors being unusable with norm_first=True and adds nothing here.
        self.layers = nn.Sequential(
            *(
                nn.TransformerEncoderLayer(
                    d_model=channels,
                    nhead=attention_heads(channels),
                    dim_feedforward=max(128, 2 * channels),
                    # Regularisation is the one dropout before the classifier; dropout
                    # inside attention on 4-8 tokens mostly adds noise.
                    dropout=0.0,
                    activation="gelu",
                    batch_first=True,
                    norm_first=True,
                )
                for _ in range(num_layers)
            )
        )


class MixerLayer(nn.Module):
    """MLP-Mixer layer: token MLP (T->2T->T) and channel MLP (C->2C->C), pre-LN, residual."""

    def __init__(self, num_tokens: int, channels: int) -> None:
        super().__init__()
        self.token_norm = nn.LayerNorm(channels)
        self.token_mlp = nn.Sequential(
            nn.Linear(num_tokens, 2 * num_tokens),
            nn.GELU(),
            nn.Linear(2 * num_tokens, num_tokens),
        )
        self.channel_norm = nn.LayerNorm(channels)
        self.channel_mlp = nn.Sequential(
            nn.Linear(channels, 2 * channels),
            nn.GELU(),
            nn.Linear(2 * channels, channels),
        )

    def forward(self, tokens: Tensor) -> Tensor:  # [N, T, C]
        mixed = self.token_mlp(self.token_norm(tokens).transpose(1, 2)).transpose(1, 2)
        tokens = tokens + mixed
        return tokens + self.channel_mlp(self.channel_norm(tokens))


class MLPMixerHead(_TokenGridHead):
    """MLP-Mixer layers over the token grid."""

    def __init__(self, channels: int, grid: Sequence[int], num_layers: int, dropout: float) -> None:
        super().__init__(channels, grid, dropout)
        num_tokens = self.grid[0] * self.grid[1]
        self.layers = nn.Sequential(*(MixerLayer(num_tokens, channels) for _ in range(num_layers)))


def build_head(
    head: str, channels: int, dropout: float, grid: Sequence[int], num_layers: int
) -> nn.Module:
    """Build a concrete (already resolved, never ``auto``) head for ``channels`` inputs."""
    if head == "avg":
        return AvgHead(channels, dropout)
    if head == "avgmax_mlp":
        return AvgMaxMLPHead(channels, dropout)
    if head == "transformer":
        return TransformerHead(channels, grid, num_layers, dropout)
    if head == "mlp_mixer":
        return MLPMixerHead(channels, grid, num_layers, dropout)
    raise ValueError(f"unknown head {head!r}; expected one of {HEADS[1:]}")
