"""Tests for TimmClassifier: output shape, local weights loading and config errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from ocec_lightning.errors import ConfigError
from ocec_lightning.models import TimmClassifier
from ocec_lightning.models.timm_adapter import load_matching_weights, suggest_timm_models

# ~0.1 M parameters, builds and runs at 32x64 in milliseconds on CPU.
TINY = "test_efficientnet"


def test_forward_shape_and_backward() -> None:
    model = TimmClassifier(TINY, image_size=[32, 64]).train()
    logits = model(torch.randn(3, 3, 32, 64))
    assert logits.shape == (3,)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_gray_input_channels() -> None:
    model = TimmClassifier(TINY, in_channels=1).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 32, 64)).shape == (2,)


def test_vit_is_rebuilt_for_image_size() -> None:
    model = TimmClassifier("test_vit", image_size=[32, 64]).eval()
    assert tuple(model.model.patch_embed.img_size) == (32, 64)
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 64)).shape == (2,)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_weights_path_round_trip(tmp_path: Path, suffix: str) -> None:
    source = TimmClassifier(TINY).eval()
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    else:
        torch.save(source.state_dict(), path)
    torch.manual_seed(1)  # the target starts from different random weights
    target = TimmClassifier(TINY, pretrained=True, weights_path=str(path)).eval()
    x = torch.randn(2, 3, 32, 64)
    with torch.no_grad():
        assert not torch.equal(TimmClassifier(TINY).eval()(x), source(x))
        assert torch.equal(target(x), source(x))
    assert target.loaded_tensors == len(source.model.state_dict())


def test_weights_path_skips_classifier_shape_mismatch(tmp_path: Path) -> None:
    # An "ImageNet" checkpoint of the bare timm model: 10-class classifier, no prefix.
    import timm

    imagenet_like = timm.create_model(TINY, num_classes=10)
    path = tmp_path / "imagenet.pt"
    torch.save({"state_dict": imagenet_like.state_dict()}, path)
    model = TimmClassifier(TINY, weights_path=str(path))
    total = len(model.model.state_dict())
    assert model.loaded_tensors == total - 2  # classifier weight and bias skipped
    stem = model.model.conv_stem.weight
    assert torch.equal(stem, imagenet_like.conv_stem.weight)


def test_weights_path_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        TimmClassifier(TINY, weights_path=str(tmp_path / "nope.pth"))
    assert info.value.key == "model.weights_path"
    assert "no file at" in str(info.value)


def test_weights_path_nothing_matches(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save(nn.Linear(3, 4).state_dict(), path)
    with pytest.raises(ConfigError) as info:
        TimmClassifier(TINY, weights_path=str(path))
    assert info.value.key == "model.weights_path"
    assert "none of its 2 tensors match" in str(info.value)


def test_load_matching_weights_strips_wrapper_prefix() -> None:
    source, target = nn.Linear(2, 2), nn.Linear(2, 2)
    wrapped = {f"module.model.{k}": v for k, v in source.state_dict().items()}
    assert load_matching_weights(target, wrapped, "mem") == 2
    assert torch.equal(target.weight, source.weight)


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(ConfigError) as info:
        TimmClassifier("mobilenetv3_smal_050")
    err = info.value
    assert err.key == "model.name"
    assert "a timm model name, e.g. " in str(err)
    assert "mobilenetv3_small_050" in str(err)
    assert len(suggest_timm_models("mobilenetv3_smal_050")) == 5


def test_pretrained_without_weights_path() -> None:
    with pytest.raises(ConfigError) as info:
        TimmClassifier(TINY, pretrained=True)
    assert info.value.key == "model.pretrained"
    assert "no hub access" in str(info.value)
    assert "model.weights_path=<local file>" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"drop_rate": 1.0}, "model.drop_rate"),
        ({"drop_rate": "x"}, "model.drop_rate"),
        ({"image_size": [32]}, "model.image_size"),
        ({"image_size": [32, 0]}, "model.image_size"),
        ({"in_channels": 0}, "model.in_channels"),
    ],
)
def test_bad_arguments_name_their_key(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        TimmClassifier(TINY, **kwargs)
    assert info.value.key == key


def test_bad_timm_kwarg() -> None:
    with pytest.raises(ConfigError, match="accepts"):
        TimmClassifier(TINY, bogus_option=3)


def test_hydra_instantiate_default_config() -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    conf = Path(__file__).resolve().parents[2] / "conf" / "model" / "timm.yaml"
    cfg = OmegaConf.create({"data": {"image_size": [32, 64]}, "model": OmegaConf.load(conf)})
    model = instantiate(cfg.model).eval()
    assert isinstance(model, TimmClassifier)
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 64)).shape == (2,)
