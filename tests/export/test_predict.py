"""`ocec-predict`: checkpoint and ONNX answers agree, folder / parquet / CSV inputs,
segmentation masks + overlays, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from ocec_lightning.cli.data import main as data_main
from ocec_lightning.cli.predict import main as predict_main
from ocec_lightning.export.onnx_export import (
    build_metadata,
    deployment_graph,
    export_graph,
    write_metadata,
)
from ocec_lightning.export.pipeline import export_checkpoint
from ocec_lightning.models.microsegformer import MicroSegFormer


@pytest.fixture(scope="module")
def eyes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 synthetic eye crops: DIR/eyes.parquet + DIR/images/**.png."""
    out = tmp_path_factory.mktemp("eyes") / "eyes.parquet"
    assert data_main(["synth", "eyes", "--out", str(out), "--n", "40"]) == 0
    return out


def test_checkpoint_and_onnx_predict_the_same(ema_checkpoint, eyes, tmp_path) -> None:
    onnx = tmp_path / "m.onnx"
    export_checkpoint(ema_checkpoint, out=onnx, exporter="legacy", real_crops=0)
    a, b = tmp_path / "ckpt.csv", tmp_path / "onnx.csv"
    assert (
        predict_main(
            [
                f"ckpt={ema_checkpoint}",
                f"input={eyes}",
                f"out={a}",
                "batch_size=16",
                "progress=false",
            ]
        )
        == 0
    )
    assert predict_main([f"onnx={onnx}", f"input={eyes}", f"out={b}", "batch_size=7"]) == 0
    ckpt_rows, onnx_rows = pd.read_csv(a), pd.read_csv(b)
    assert list(ckpt_rows.columns) == ["path", "prob_open", "label_id", "label"]
    assert len(ckpt_rows) == 40 and (ckpt_rows["path"] == onnx_rows["path"]).all()
    assert np.abs(ckpt_rows["prob_open"] - onnx_rows["prob_open"]).max() <= 1e-4
    # Labels agree except where a probability sits within the 1e-4 tolerance of the
    # threshold (the tuned threshold is one of the validation probabilities).
    threshold = torch.load(ema_checkpoint, weights_only=True)["hyper_parameters"]["threshold"]
    clear = (ckpt_rows["prob_open"] - threshold).abs() > 1e-4
    assert clear.sum() >= 30
    assert (ckpt_rows["label_id"][clear] == onnx_rows["label_id"][clear]).all()
    # A folder of the same crops (PNG files, in subfolders) answers like the parquet.
    folder = tmp_path / "crops" / "sub"
    folder.mkdir(parents=True)
    blobs = pd.read_parquet(eyes, columns=["image_bytes"])["image_bytes"]
    for k, blob in enumerate(blobs):
        (folder / f"{k:03d}.png").write_bytes(blob)
    c = tmp_path / "folder.csv"
    assert predict_main([f"onnx={onnx}", f"input={folder.parent}", f"out={c}"]) == 0
    from_folder = pd.read_csv(c)
    assert len(from_folder) == 40
    assert np.abs(from_folder["prob_open"] - onnx_rows["prob_open"]).max() <= 1e-6


def test_segmentation_onnx_writes_masks_and_overlays(tmp_path) -> None:
    model = MicroSegFormer(
        num_classes=4,
        embed_dims=[8, 16, 16, 16],
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        decoder_dim=16,
        image_size=[64, 64],
    ).eval()
    onnx = tmp_path / "seg.onnx"
    export_graph(
        deployment_graph(model, "segmentation"), (64, 64), onnx, "segmentation", exporter="legacy"
    )
    hp = {
        "model": {"num_classes": 4},
        "class_names": ["bg", "a", "b", "c"],
        "image_size": [64, 64],
        "num_classes": 4,
        "palette": None,
    }
    write_metadata(onnx, build_metadata(hp, "segmentation", "0" * 64, "x.ckpt", False, 0, 18))
    images = tmp_path / "crops"
    images.mkdir()
    for k in range(3):
        pixels = np.random.default_rng(k).integers(0, 255, (80, 70, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"face{k}.png")
    out = tmp_path / "seg" / "pred.csv"
    assert predict_main([f"onnx={onnx}", f"input={images}", f"out={out}"]) == 0
    rows = pd.read_csv(out)
    assert len(rows) == 3 and {"mask", "overlay"} <= set(rows.columns)
    mask = np.asarray(Image.open(rows["mask"][0]))
    assert mask.shape == (64, 64) and mask.max() < 4
    assert np.asarray(Image.open(rows["overlay"][0])).shape == (64, 64, 3)


@pytest.mark.parametrize(
    "case",
    ["corrupt_ckpt", "foreign_ckpt", "not_onnx", "empty_dir", "corrupt_png", "missing_input"],
)
def test_bad_input_fails_with_one_line(case, ema_checkpoint, tmp_path, capsys) -> None:
    crops = tmp_path / "crops"
    crops.mkdir()
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"garbage")
    model = f"ckpt={ema_checkpoint}"
    named = bad
    if case == "corrupt_ckpt":
        model = f"ckpt={bad}"
    elif case == "foreign_ckpt":
        named = tmp_path / "foreign.ckpt"
        torch.save({"state_dict": {"w": torch.zeros(1)}}, named)
        model = f"ckpt={named}"
    elif case == "not_onnx":
        model = f"onnx={bad}"
    elif case == "corrupt_png":
        named = crops / "broken.png"
        named.write_bytes(b"\x89PNG garbage")
    elif case == "empty_dir":
        named = crops
    source = tmp_path / "nowhere" if case == "missing_input" else crops
    named = source if case == "missing_input" else named
    code = predict_main([model, f"input={source}", f"out={tmp_path / 'p.csv'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err
    assert str(named) in err
