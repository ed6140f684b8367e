"""``TimmClassifier``: any timm architecture as a one-logit OCEC classifier (model=timm).

Training machines have no hub access, so timm's own ``pretrained=True`` download is
never used: pretrained weights come from a local file (``weights_path``) that is
loaded non-strictly, skipping tensors whose shape differs (the 1000-class classifier
of an ImageNet checkpoint versus our single logit). Bad names, missing files and
files that match nothing raise ``ConfigError`` with a hint, not a timm traceback.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import timm
import torch
from torch import Tensor, nn

from ocec_lightning.checks import int_at_least, int_pair, number_in
from ocec_lightning.errors import ConfigError

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES: tuple[str, ...] = (".pth", ".pt", ".safetensors")
# Wrapper prefixes seen in saved state dicts: DataParallel/DDP ("module."), this class
# and Lightning modules ("model."). Tried in order; the best-matching variant wins.
_STRIP_PREFIXES: tuple[str, ...] = ("module.", "model.", "net.")
# Containers that training scripts wrap a state dict in.
_NESTED_KEYS: tuple[str, ...] = ("state_dict", "model", "state_dict_ema", "model_ema")


def suggest_timm_models(name: str, limit: int = 5) -> list[str]:
    """Up to ``limit`` timm model names close to ``name`` (for error messages)."""
    first = re.split(r"[_.\-]", name, maxsplit=1)[0]
    candidates = timm.list_models(f"{first}*") if first else []
    if not candidates:
        candidates = timm.list_models()
    ranked = difflib.get_close_matches(name, candidates, n=limit, cutoff=0.0)
    return ranked[:limit]


def check_timm_name(key: str, name: object, example: str) -> str:
    """``name`` when timm knows the architecture; ``ConfigError`` under ``key`` naming the
    closest timm names (``example`` when nothing is close) otherwise."""
    if not isinstance(name, str) or not timm.is_model(name):
        close = suggest_timm_models(str(name)) or [example]
        raise ConfigError(key, name, f"a timm model name, e.g. {', '.join(close)}")
    return name


def check_pretrained(pretrained: object, weights_path: object, weights: str = "weights") -> None:
    """``pretrained`` needs ``weights_path``: with no hub access at run time, pretrained
    ``weights`` can only come from a local file."""
    if pretrained and not weights_path:
        raise ConfigError(
            "model.pretrained",
            pretrained,
            f"false, or a local file: there is no hub access at run time, so download "
            f"the {weights} beforehand and pass model.weights_path=<local file>",
        )


def load_state_dict_file(path: str | Path) -> dict[str, Tensor]:
    """Read a ``.pth`` / ``.pt`` / ``.safetensors`` file into a flat ``{name: tensor}``."""
    file = Path(path).expanduser()
    if file.suffix not in WEIGHT_SUFFIXES or not file.is_file():
        raise ConfigError(
            "model.weights_path",
            str(path),
            f"an existing local weights file ending in {', '.join(WEIGHT_SUFFIXES)}"
            + ("" if file.is_file() else f" (no file at {file.resolve()})"),
        )
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(file), device="cpu"))
    # weights_only=True refuses pickled code: a weights file should hold tensors only.
    data: Any = torch.load(file, map_location="cpu", weights_only=True)
    for key in _NESTED_KEYS:
        if isinstance(data, Mapping) and isinstance(data.get(key), Mapping):
            data = data[key]
            break
    if not isinstance(data, Mapping):
        raise ConfigError("model.weights_path", str(path), "a file holding a state dict")
    return {k: v for k, v in data.items() if isinstance(v, Tensor)}


def _strip_variants(state: dict[str, Tensor]) -> list[dict[str, Tensor]]:
    variants = [state]
    current = state
    for prefix in _STRIP_PREFIXES:
        if any(k.startswith(prefix) for k in current):
            current = {k.removeprefix(prefix): v for k, v in current.items()}
            variants.append(current)
    return variants


def load_matching_weights(model: nn.Module, state: dict[str, Tensor], source: str) -> int:
    """Load the tensors of ``state`` whose name and shape match ``model``; return the count.

    Raises ``ConfigError`` when nothing matches, which almost always means the file
    belongs to a different architecture.
    """
    target = model.state_dict()

    def matching(candidate: dict[str, Tensor]) -> dict[str, Tensor]:
        return {k: v for k, v in candidate.items() if k in target and v.shape == target[k].shape}

    usable = max((matching(v) for v in _strip_variants(state)), key=len)
    if not usable:
        raise ConfigError(
            "model.weights_path",
            source,
            f"a weights file for this architecture; none of its {len(state)} tensors match "
            f"the model by name and shape (file has e.g. {sorted(state)[:3]}, model "
            f"expects e.g. {sorted(target)[:3]})",
        )
    model.load_state_dict(usable, strict=False)
    skipped = len(target) - len(usable)
    if skipped:
        # Expected for the classifier of an ImageNet checkpoint; worth a line otherwise.
        log.warning(
            "loaded %d/%d tensors from %s; %d left at init",
            len(usable),
            len(target),
            source,
            skipped,
        )
    return len(usable)


class TimmClassifier(nn.Module):
    """A timm model with one output logit: ``[N, C, H, W]`` -> ``[N]``."""

    def __init__(
        self,
        name: str,
        pretrained: bool = False,
        weights_path: str | None = None,
        in_channels: int = 3,
        drop_rate: float = 0.0,
        image_size: Sequence[int] = (32, 64),
        **timm_kwargs: Any,
    ) -> None:
        super().__init__()
        self.name = check_timm_name("model.name", name, "resnet10t")
        check_pretrained(pretrained, weights_path)
        rate = number_in("model.drop_rate", drop_rate, 0, 1, high_open=True)
        self.image_size = int_pair("model.image_size", image_size)
        self.in_channels = int_at_least("model.in_channels", in_channels, 1)
        self.model = self._create(name, self.in_channels, rate, dict(timm_kwargs))
        self.loaded_tensors = 0
        if weights_path:
            state = load_state_dict_file(weights_path)
            self.loaded_tensors = load_matching_weights(self.model, state, str(weights_path))

    def _create(self, name: str, in_chans: int, drop_rate: float, kwargs: dict) -> nn.Module:
        def create(**extra: Any) -> nn.Module:
            return timm.create_model(
                name,
                pretrained=False,
                num_classes=1,
                in_chans=in_chans,
                drop_rate=drop_rate,
                **kwargs,
                **extra,
            )

        try:
            model = create()
        except TypeError as exc:
            raise ConfigError(
                "model", kwargs, f"keyword arguments that timm model {name!r} accepts ({exc})"
            ) from exc
        # Patch-embedding models (ViT family) fix their input size at build time; rebuild
        # for the data's image size unless the user chose img_size explicitly.
        built_for = getattr(getattr(model, "patch_embed", None), "img_size", None)
        if built_for is not None and "img_size" not in kwargs:
            if tuple(built_for) != self.image_size:
                try:
                    model = create(img_size=self.image_size)
                except (TypeError, ValueError, AssertionError):
                    log.warning("timm model %s kept its img_size %s", name, built_for)
        return model

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[N]``."""
        return self.model(x).squeeze(-1)
