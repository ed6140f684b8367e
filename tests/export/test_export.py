"""ONNX export: parity for every model family, metadata, EMA weights, BatchNorm folding,
the `ocec-export` CLI and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ocec_lightning.checkpoints import file_sha256, load_checkpoint
from ocec_lightning.cli.export import main as export_main
from ocec_lightning.errors import ConfigError
from ocec_lightning.export.onnx_export import (
    count_batchnorms,
    deployment_graph,
    export_graph,
    fold_batchnorm,
    read_metadata,
)
from ocec_lightning.export.parity import check_parity, ort_session, run_session, torch_outputs
from ocec_lightning.export.pipeline import export_checkpoint
from ocec_lightning.models.microsegformer import MicroSegFormer
from ocec_lightning.models.ocec import OCECNet
from ocec_lightning.models.timm_adapter import TimmClassifier
from ocec_lightning.models.timm_unet import TimmUNet

BACKBONES = ("baseline", "inverted_se", "convnext")
HEADS = ("avg", "avgmax_mlp", "transformer", "mlp_mixer")


def _ocec(backbone: str, head: str) -> OCECNet:
    # 24×40 with 4 blocks: a 3×5 map, so the token grid [3, 5] fits (adaptive pooling).
    return OCECNet(
        backbone=backbone,
        head=head,
        base_channels=8,
        num_blocks=4,
        token_mixer_grid=[3, 5],
        token_mixer_layers=1,
        image_size=[24, 40],
    ).eval()


def _export_and_check(model: torch.nn.Module, task: str, size, path: Path, exporter: str) -> dict:
    graph = deployment_graph(model, task)
    export_graph(graph, size, path, task, exporter=exporter)
    crops = np.random.default_rng(1).standard_normal((5, 3, *size)).astype(np.float32)
    return check_parity(graph, path, size, crops)


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("backbone", BACKBONES)
def test_every_ocec_backbone_and_head_exports_with_parity(backbone, head, tmp_path) -> None:
    # The fast TorchScript exporter where it works; it cannot export the fused
    # TransformerEncoderLayer, which the default (dynamo) exporter handles.
    exporter = "dynamo" if head == "transformer" else "legacy"
    report = _export_and_check(
        _ocec(backbone, head), "classification", (24, 40), tmp_path / "m.onnx", exporter
    )
    assert report["max_abs_diff"] <= 1e-4
    assert report["random"]["batch"] == 3 and report["real"]["batch"] == 5


@pytest.mark.parametrize(
    "backbone,head",
    [("baseline", "mlp_mixer")],
)
def test_dynamo_exporter_parity_and_dynamic_batch(backbone, head, tmp_path) -> None:
    path = tmp_path / "m.onnx"
    report = _export_and_check(_ocec(backbone, head), "classification", (24, 40), path, "dynamo")
    assert report["max_abs_diff"] <= 1e-4
    assert not list(tmp_path.glob("*.data"))  # one self-contained file
    session = ort_session(path)
    for batch in (1, 7):
        (probs,) = run_session(session, np.zeros((batch, 3, 24, 40), np.float32))
        assert probs.shape == (batch,) and ((probs >= 0) & (probs <= 1)).all()


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(
            lambda lmsa=lmsa: MicroSegFormer(
                num_classes=4,
                embed_dims=[8, 16, 16, 16],
                depths=[1, 1, 1, 1],
                num_heads=[1, 1, 1, 1],
                decoder_dim=16,
                lmsa=lmsa,
                image_size=[64, 64],
            ),
            id=f"microsegformer-lmsa{lmsa}",
        )
        for lmsa in (False, True)
    ]
    + [
        pytest.param(
            lambda: TimmUNet("resnet10t", num_classes=3, decoder_channels=8, image_size=(64, 64)),
            id="timm_unet",
        )
    ],
)
def test_segmentation_models_export_logits_and_labels(model, tmp_path) -> None:
    path = tmp_path / "seg.onnx"
    # The legacy exporter: seconds faster per model; dynamo is covered by the OCEC tests.
    report = _export_and_check(model().eval(), "segmentation", (64, 64), path, "legacy")
    assert report["max_abs_diff"] <= 1e-4 and report["real"]["label_mismatch"] == 0.0
    logits, labels = run_session(ort_session(path), np.zeros((2, 3, 64, 64), np.float32))
    assert logits.shape[0] == 2 and logits.shape[2:] == (64, 64) and labels.shape == (2, 64, 64)


def test_timm_classifier_exports_with_parity(tmp_path) -> None:
    model = TimmClassifier("mobilenetv3_small_050", pretrained=False, image_size=[32, 64])
    report = _export_and_check(
        model.eval(), "classification", (32, 64), tmp_path / "t.onnx", "legacy"
    )
    assert report["max_abs_diff"] <= 1e-4


def test_batchnorm_folding_removes_batchnorms_and_keeps_parity(tmp_path) -> None:
    model = _ocec("inverted_se", "avg")
    folded, removed = fold_batchnorm(model)
    assert removed > 0 and count_batchnorms(folded) == count_batchnorms(model) - removed
    graph = deployment_graph(folded, "classification")
    export_graph(graph, (24, 40), tmp_path / "f.onnx", "classification", exporter="legacy")
    # Parity against the unfolded model: folding itself must not change the answers.
    report = check_parity(deployment_graph(model, "classification"), tmp_path / "f.onnx", (24, 40))
    assert report["max_abs_diff"] <= 1e-4


def test_legacy_exporter_failure_is_one_line(tmp_path) -> None:
    graph = deployment_graph(_ocec("baseline", "transformer"), "classification")
    with pytest.raises(ConfigError, match="exporter") as info:
        export_graph(graph, (24, 40), tmp_path / "m.onnx", "classification", exporter="legacy")
    assert "\n" not in str(info.value)


def test_parity_failure_is_one_line(tmp_path) -> None:
    path = tmp_path / "m.onnx"
    model = _ocec("baseline", "avg")
    export_graph(
        deployment_graph(model, "classification"),
        (24, 40),
        path,
        "classification",
        exporter="legacy",
    )
    other = _ocec("baseline", "avg")  # fresh random weights: different answers
    with pytest.raises(ConfigError, match="parity") as info:
        check_parity(deployment_graph(other, "classification"), path, (24, 40), tolerance=1e-9)
    assert "\n" not in str(info.value)


def test_checkpoint_export_metadata_and_ema_weights(ema_checkpoint, tmp_path) -> None:
    out = tmp_path / "eyes.onnx"
    result = export_checkpoint(ema_checkpoint, out=out, fold_bn=True)
    assert result.parity["real"]["batch"] == 16 and result.parity["max_abs_diff"] <= 1e-4
    assert result.folded_batchnorms > 0 and not list(tmp_path.glob("*.data"))
    meta = read_metadata(out)
    loaded = load_checkpoint(ema_checkpoint)
    hp = loaded.hparams
    assert meta["task"] == "classification" and meta["class_names"] == ["closed", "open"]
    assert meta["input_size"] == [32, 64] and meta["threshold"] == pytest.approx(hp["threshold"])
    assert meta["normalize_mean"] == list(hp["normalize"]["mean"])
    assert meta["normalize_std"] == list(hp["normalize"]["std"])
    assert meta["model_config"] == dict(hp["model"])
    assert meta["source_sha256"] == file_sha256(ema_checkpoint) and meta["ema_weights"] is True

    # The exported weights are the EMA ones (state_dict), not current_model_state.
    checkpoint = torch.load(ema_checkpoint, map_location="cpu", weights_only=True)
    images = np.random.default_rng(3).standard_normal((4, 3, 32, 64)).astype(np.float32)
    (onnx_probs,) = run_session(ort_session(out), images)

    def probs_with(state: dict) -> np.ndarray:
        model = OCECNet(**{k: v for k, v in hp["model"].items() if k != "_target_"}).eval()
        model.load_state_dict(
            {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
        )
        return torch_outputs(deployment_graph(model, "classification"), images)[0]

    ema, raw = probs_with(checkpoint["state_dict"]), probs_with(checkpoint["current_model_state"])
    assert np.abs(onnx_probs - ema).max() <= 1e-4
    assert np.abs(onnx_probs - raw).max() > 1e-3


def test_export_cli_writes_file_and_reports(ema_checkpoint, tmp_path, capsys) -> None:
    out = tmp_path / "cli.onnx"
    assert (
        export_main([f"ckpt={ema_checkpoint}", f"out={out}", "exporter=legacy", "real_crops=4"])
        == 0
    )
    assert out.is_file() and "parity max abs diff" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,expected",
    [
        (["ckpt=CORRUPT"], "is not a readable PyTorch checkpoint"),
        (["ckpt=FOREIGN"], "was not written by ocec-train"),
        (["ckpt=CORRUPT", "format=tflite"], "format"),
    ],
)
def test_export_cli_bad_input_is_one_line(args, expected, tmp_path, capsys) -> None:
    corrupt, foreign = tmp_path / "corrupt.ckpt", tmp_path / "foreign.ckpt"
    corrupt.write_bytes(b"not a checkpoint")
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    argv = [a.replace("CORRUPT", str(corrupt)).replace("FOREIGN", str(foreign)) for a in args]
    assert export_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and expected in err
    if "format" not in args[-1]:
        assert str(tmp_path) in err
