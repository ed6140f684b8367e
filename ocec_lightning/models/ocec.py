"""``OCECNet``: an OCEC backbone plus a one-logit head, the Hydra ``_target_`` of model=ocec.

The constructor checks its arguments (``check_ocec_config``) before it builds any
layer, so a bad config fails with a one-line ``ConfigError`` naming the key, the bad
value and what would work. The checks include the one that bites in practice: a
token-mixer grid that does not divide the backbone's feature map for the chosen image
size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from ocec_lightning.checks import int_at_least, int_pair, number_in, one_of
from ocec_lightning.errors import ConfigError
from ocec_lightning.models.layers import init_weights
from ocec_lightning.models.ocec_backbones import (
    BACKBONES,
    OCECBackbone,
    backbone_feature_shape,
    num_downsamples,
)
from ocec_lightning.models.ocec_heads import (
    HEADS,
    TOKEN_HEADS,
    build_head,
    resolve_head,
    valid_token_grids,
)
from ocec_lightning.models.validation import arguments_of

__all__ = [
    "OCECNet",
    "OCECSpec",
    "backbone_feature_shape",
    "check_ocec_config",
    "valid_token_grids",
]


@dataclass(frozen=True)
class OCECSpec:
    """What a valid OCEC config resolves to (no weights involved)."""

    backbone: str
    head: str  # resolved, never "auto"
    feature_shape: tuple[int, int, int]  # (C, h, w) for image_size
    image_size: tuple[int, int]
    token_mixer_grid: tuple[int, int]


def _fmt(pair: Sequence[int]) -> str:
    return f"[{pair[0]}, {pair[1]}]"


def _largest_fitting_blocks(backbone: str, base: int, image_size: tuple[int, int]) -> int:
    """Largest num_blocks whose feature map is still >= 1x1 (0 if even the stem fails)."""
    best = 0
    # The map only shrinks at even block indices, so this loop ends quickly.
    for n in range(1, 64):
        _, h, w = backbone_feature_shape(backbone, base, n, image_size)
        if h < 1 or w < 1:
            break
        best = n
    return best


class OCECNet(nn.Module):
    """OCEC eye-state classifier: ``[N, C, H, W]`` images -> ``[N]`` logits."""

    def __init__(
        self,
        backbone: str = "baseline",
        head: str = "auto",
        base_channels: int = 32,
        num_blocks: int = 6,
        dropout: float = 0.3,
        token_mixer_grid: Sequence[int] = (2, 2),
        token_mixer_layers: int = 2,
        expansion: int = 4,
        se_reduction: int = 8,
        in_channels: int = 3,
        image_size: Sequence[int] = (32, 64),
    ) -> None:
        super().__init__()
        spec = check_ocec_config(arguments_of(OCECNet, locals()))
        self.spec = spec
        self.resolved_head: str = spec.head
        self.feature_shape: tuple[int, int, int] = spec.feature_shape
        self.image_size: tuple[int, int] = spec.image_size
        self.in_channels = int(in_channels)
        self.backbone = OCECBackbone(
            backbone=backbone,
            base_channels=int(base_channels),
            num_blocks=int(num_blocks),
            in_channels=int(in_channels),
            expansion=int(expansion),
            se_reduction=int(se_reduction),
        )
        self.head = build_head(
            spec.head,
            channels=spec.feature_shape[0],
            dropout=float(dropout),
            grid=spec.token_mixer_grid,
            num_layers=int(token_mixer_layers),
        )
        init_weights(self)

    def forward_features(self, x: Tensor) -> Tensor:
        """Backbone feature map ``[N, *feature_shape]``."""
        return self.backbone(x)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[N]`` (one per image; apply a sigmoid for P(class 1))."""
        return self.head(self.backbone(x)).squeeze(-1)

    def group_matcher(self, coarse: bool = False) -> dict[str, object]:
        """Parameter groups for layer-wise LR decay (timm's convention): the stem is layer 0,
        block i is layer i + 1, the head comes last (matched by nothing -> last layer)."""
        return {"stem": r"^backbone\.stem", "blocks": r"^backbone\.blocks\.(\d+)"}


def check_ocec_config(config: Mapping[str, Any]) -> OCECSpec:
    """Validate OCECNet's arguments (``config``: every parameter of ``OCECNet``, by
    name); raise ``ConfigError`` (key ``model.*``) on the first problem."""
    backbone = one_of("model.backbone", config["backbone"], BACKBONES)
    head = one_of("model.head", config["head"], HEADS)
    base = int_at_least("model.base_channels", config["base_channels"], 4)
    blocks = int_at_least("model.num_blocks", config["num_blocks"], 1)
    number_in("model.dropout", config["dropout"], 0, 1, high_open=True)
    int_at_least("model.token_mixer_layers", config["token_mixer_layers"], 1)
    int_at_least("model.expansion", config["expansion"], 1)
    int_at_least("model.se_reduction", config["se_reduction"], 1)
    int_at_least("model.in_channels", config["in_channels"], 1)
    size = int_pair("model.image_size", config["image_size"])
    grid = int_pair("model.token_mixer_grid", config["token_mixer_grid"])

    shape = backbone_feature_shape(backbone, base, blocks, size)
    if shape[1] < 1 or shape[2] < 1:
        fits = _largest_fitting_blocks(backbone, base, size)
        if fits == 0:
            raise ConfigError(
                "model.image_size",
                list(size),
                f"at least 4x4 pixels for the {backbone} backbone's stride-4 stem",
            )
        raise ConfigError(
            "model.num_blocks",
            blocks,
            f"{backbone} with {blocks} blocks downsamples image_size {_fmt(size)} "
            f"{num_downsamples(blocks)} times after the stem, below a 1x1 feature map; "
            f"the largest num_blocks that fits is {fits}",
        )

    resolved = resolve_head(head, backbone)
    _, h, w = shape
    if resolved in TOKEN_HEADS and (h % grid[0] or w % grid[1]):
        fits = ", ".join(_fmt(g) for g in valid_token_grids(h, w))
        raise ConfigError(
            "model.token_mixer_grid",
            list(grid),
            f"the backbone's feature map for image_size {_fmt(size)} is {h}×{w} "
            f"(head {resolved}, backbone {backbone}, num_blocks {blocks}); "
            f"grids that fit: {fits}",
        )
    return OCECSpec(backbone, resolved, shape, size, grid)
