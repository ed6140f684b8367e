"""Tests for TimmUNet: shapes, local encoder weights, config errors and the YAML."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import timm
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from ocec_lightning.errors import ConfigError
from ocec_lightning.models.timm_unet import TimmUNet

CONF = Path(__file__).resolve().parents[2] / "conf" / "model" / "timm_unet.yaml"
# ~0.37 M parameters, five feature levels (strides 2..32): fast on CPU.
TINY = "test_resnet"


def test_logits_at_input_resolution_and_backward() -> None:
    model = TimmUNet(TINY, num_classes=4, decoder_channels=16, image_size=(64, 96))
    # Auto levels skip the stride-2 map.
    assert model.used_levels == [1, 2, 3, 4]
    logits = model(torch.randn(2, 3, 64, 96))
    assert logits.shape == (2, 4, 64, 96)
    logits.mean().backward()
    assert all(p.grad is not None for p in model.decoder.parameters())


def test_gray_input_and_explicit_out_indices() -> None:
    model = TimmUNet(TINY, num_classes=3, in_channels=1, out_indices=[2, 3], image_size=(64, 64))
    assert model.used_levels == [0, 1]
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 1, 64, 64)).shape == (1, 3, 64, 64)


def test_unknown_encoder_suggests_close_names() -> None:
    with pytest.raises(ConfigError) as err:
        TimmUNet("resnet19")
    assert err.value.key == "model.encoder" and "resnet18" in str(err.value)


def test_pretrained_needs_a_local_file() -> None:
    with pytest.raises(ConfigError) as err:
        TimmUNet(TINY, pretrained=True)
    assert err.value.key == "model.pretrained"


def test_image_smaller_than_the_deepest_stride_is_rejected() -> None:
    with pytest.raises(ConfigError) as err:
        TimmUNet(TINY, image_size=(16, 64))
    assert err.value.key == "model.image_size"
    assert "at least 32 pixels" in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"image_size": [128]}, "model.image_size"),
        ({"image_size": "128x128"}, "model.image_size"),
        ({"num_classes": 0}, "model.num_classes"),
        ({"decoder_channels": True}, "model.decoder_channels"),
    ],
)
def test_bad_arguments_name_their_key(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        TimmUNet(TINY, **kwargs)
    assert err.value.key == key


def test_weights_path_loads_encoder_weights(tmp_path: Path) -> None:
    source = TimmUNet(TINY, decoder_channels=16)
    path = tmp_path / "encoder.pth"
    # Wrapped the way Lightning checkpoints store it: the prefix is stripped on load.
    state = {f"model.{k}": v for k, v in source.encoder.state_dict().items()}
    torch.save({"state_dict": state}, path)
    target = TimmUNet(TINY, pretrained=True, weights_path=str(path), decoder_channels=16)
    assert target.loaded_tensors == len(source.encoder.state_dict())
    for key, value in source.encoder.state_dict().items():
        assert torch.equal(target.encoder.state_dict()[key], value)


def test_classification_checkpoint_keys_are_remapped(tmp_path: Path) -> None:
    # timm's FeatureListNet flattens "stem.0" into "stem_0"; a classifier's weights still load.
    classifier = timm.create_model("test_convnext", pretrained=False)
    path = tmp_path / "classifier.pth"
    torch.save(classifier.state_dict(), path)
    model = TimmUNet("test_convnext", weights_path=str(path), image_size=(64, 64))
    assert torch.equal(model.encoder.state_dict()["stem_0.weight"], classifier.stem[0].weight)
    assert model.loaded_tensors == len(model.encoder.state_dict())


def test_weights_that_match_nothing_raise(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"unrelated.weight": torch.zeros(3)}, path)
    with pytest.raises(ConfigError) as err:
        TimmUNet(TINY, weights_path=str(path))
    assert err.value.key == "model.weights_path"


def test_yaml_documents_every_argument_and_instantiates() -> None:
    node = OmegaConf.load(CONF)
    params = set(inspect.signature(TimmUNet).parameters)
    assert set(node) - {"_target_"} == params
    for name in params:
        line = next(li for li in CONF.read_text().splitlines() if li.startswith(f"{name}:"))
        assert "#" in line, f"{name} has no comment"
    cfg = OmegaConf.create(
        {"task": {"num_classes": 11}, "data": {"image_size": [64, 64]}, "model": node}
    )
    cfg.model.encoder = TINY
    model = instantiate(cfg.model)
    assert isinstance(model, TimmUNet) and model.num_classes == 11
