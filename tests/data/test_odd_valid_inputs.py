"""Odd but valid inputs that real datasets have load and batch without complaint:
palette / RGBA / grayscale+alpha / 16-bit / 1-bit PNGs, JPEG bytes and files, BMP, mixed
image sizes, class ids stored as strings or as categoricals, class_id gaps filled by
label, split aliases, a CSV exported by Excel (BOM, CRLF, capitalised header, padded
cells), upper-case file extensions and a parquet without test rows (which trains).

Each case is a row `(id, build)`: `build(ctx)` writes the files and returns the source
plus the pixels expected for some rows (uint8 RGB at 8x16, the cache's size) and the
labels expected for all rows; the test runs `setup("fit")`, compares them and draws one
train batch.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from ocec_lightning.data import build_datamodule
from ocec_lightning.data.sources import CsvSource, FolderSource, ParquetSource
from ocec_lightning.errors import DataError

H, W = 8, 16  # the DataModule's image_size in make_dm
ALT = ["open" if i % 2 else "closed" for i in range(10)]
LABELS = [i % 2 for i in range(10)]


@pytest.fixture()
def ctx(tmp_path, write_parquet, helpers) -> SimpleNamespace:
    return SimpleNamespace(tmp=tmp_path, parquet=write_parquet, h=helpers)


def _gradient(seed: int, height: int = H, width: int = W) -> np.ndarray:
    """A smooth RGB image (JPEG keeps it within a few levels), distinct per seed."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 9 + seed * 10, y * 17 + 40, (x + y) * 5 + 90], axis=-1)
    return (base % 256).astype(np.uint8)


def _pil_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _with_bytes(ctx, data: list[bytes], **extra: Any) -> ParquetSource:
    return ParquetSource(ctx.parquet(ALT, image_bytes=data, **extra))


def _pil_case(convert: Callable[[Image.Image], Image.Image]):
    """Rows encoded from PIL images in another mode; expected: PIL's own RGB view."""

    def build(ctx):
        images = [convert(Image.fromarray(_gradient(i))) for i in range(10)]
        expected = {i: np.array(images[i].convert("RGB")) for i in (0, 3)}
        return _with_bytes(ctx, [_pil_bytes(im) for im in images]), expected, LABELS, 0

    return build


def _sixteen_bit(ctx):
    # 16-bit samples v * 257 are read back as the 8-bit value v.
    images = [_gradient(i) for i in range(10)]
    data = [
        cv2.imencode(".png", (im[..., ::-1].astype(np.uint16) * 257))[1].tobytes() for im in images
    ]
    return _with_bytes(ctx, data), {1: images[1], 4: images[4]}, LABELS, 0


def _sixteen_bit_gray(ctx):
    grays = [_gradient(i)[..., 0] for i in range(10)]
    data = [cv2.imencode(".png", g.astype(np.uint16) * 257)[1].tobytes() for g in grays]
    return _with_bytes(ctx, data), {2: np.dstack([grays[2]] * 3)}, LABELS, 0


def _jpeg_bytes(ctx):
    images = [_gradient(i) for i in range(10)]
    data = [
        cv2.imencode(".jpg", im[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 98])[1].tobytes()
        for im in images
    ]
    return _with_bytes(ctx, data), {0: images[0], 5: images[5]}, LABELS, 12


def _jpeg_and_bmp_files(ctx):
    # image_path only, no bytes column: .jpg and .BMP files side by side.
    images = [_gradient(i) for i in range(10)]
    paths = []
    for i, image in enumerate(images):
        name = f"img/{i}.jpg" if i % 2 else f"img/{i}.BMP"
        (ctx.tmp / "img").mkdir(exist_ok=True)
        ext = ".jpg" if i % 2 else ".bmp"
        (ctx.tmp / name).write_bytes(cv2.imencode(ext, image[..., ::-1])[1].tobytes())
        paths.append(name)
    path = ctx.parquet(ALT, with_bytes=False, image_path=paths)
    return ParquetSource(path), {0: images[0], 1: images[1]}, LABELS, 12


def _mixed_sizes(ctx):
    # Solid colours keep their value through the resize to 8x16, whatever the source size.
    sizes = [(8, 16), (16, 32), (5, 7), (40, 20), (1, 1)] * 2
    colours = [np.full((h, w, 3), (10 * i, 200 - i, 7), np.uint8) for i, (h, w) in enumerate(sizes)]
    data = [ctx.h.png_bytes(c) for c in colours]
    expected = {i: np.full((H, W, 3), colours[i][0, 0], np.uint8) for i in (1, 2, 3, 4)}
    return _with_bytes(ctx, data), expected, LABELS, 0


def _class_id_strings(ctx):
    path = ctx.parquet(ALT, class_id=[str(v) for v in [1, 0] * 5])  # wins over label
    return ParquetSource(path), {}, [1, 0] * 5, 0


def _class_id_gaps_and_categorical_label(ctx):
    # class_id NaN where unknown (a float column) falls back to a categorical label column.
    path = ctx.parquet(ALT)
    frame = pd.read_parquet(path)
    frame["class_id"] = [np.nan if i % 3 == 0 else float(i % 2) for i in range(10)]
    frame["label"] = pd.Categorical(ALT)
    frame.to_parquet(path, index=False)
    return ParquetSource(path), {}, LABELS, 0


def _split_aliases(ctx):
    aliases = [
        "training",
        "TRAIN",
        "Train",
        "train",
        "training",
        "train",
        "dev",
        "validation",
        "valid",
        "Testing",
    ]
    frame_split = pd.Categorical(aliases)  # a categorical split column, as pandas writes it
    return ParquetSource(ctx.parquet(ALT, split=frame_split)), {}, LABELS, 0


def _excel_csv(ctx):
    for i in range(10):
        ctx.h.write_png(ctx.tmp / "img" / f"{i}.png", ctx.h.sample_image(i))
    lines = [f"img/{i}.png , {'Open' if i % 2 else 'CLOSED'}" for i in range(10)]
    text = "\ufeffPath,Label\r\n" + "\r\n".join(lines) + "\r\n"
    (ctx.tmp / "eyes.csv").write_bytes(text.encode("utf-8"))
    expected = {3: ctx.h.sample_image(3)}
    return CsvSource(ctx.tmp / "eyes.csv"), expected, LABELS, 0


def _folder_upper_case_extensions(ctx):
    for i in range(5):
        for name in ("closed", "open"):
            image = _gradient(i + (5 if name == "open" else 0))
            ext = [".PNG", ".Jpg", ".jpeg", ".BMP", ".png"][i]
            ok, data = cv2.imencode(ext.lower(), image[..., ::-1])
            (ctx.tmp / "eyes" / name).mkdir(parents=True, exist_ok=True)
            (ctx.tmp / "eyes" / name / f"{i}{ext}").write_bytes(data.tobytes())
    source = FolderSource(ctx.tmp / "eyes", class_names=["closed", "open"])
    return source, {0: _gradient(0)}, [0] * 5 + [1] * 5, 0


CASES = [
    ("palette-png", _pil_case(lambda im: im.quantize(16))),
    ("rgba-png", _pil_case(lambda im: im.convert("RGBA"))),
    ("grayscale-png", _pil_case(lambda im: im.convert("L"))),
    ("grayscale-alpha-png", _pil_case(lambda im: im.convert("LA"))),
    ("one-bit-png", _pil_case(lambda im: im.convert("1"))),
    ("16-bit-rgb-png", _sixteen_bit),
    ("16-bit-gray-png", _sixteen_bit_gray),
    ("jpeg-bytes", _jpeg_bytes),
    ("jpeg-and-bmp-files", _jpeg_and_bmp_files),
    ("mixed-image-sizes", _mixed_sizes),
    ("class-id-as-strings", _class_id_strings),
    ("class-id-gaps-categorical-label", _class_id_gaps_and_categorical_label),
    ("split-aliases-categorical", _split_aliases),
    ("excel-csv-bom-crlf", _excel_csv),
    ("folder-upper-case-extensions", _folder_upper_case_extensions),
]


@pytest.mark.parametrize("build", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_odd_but_valid_data_loads_and_batches(ctx, make_dm, build):
    source, expected, labels, tolerance = build(ctx)
    dm = make_dm(source, batch_size=4, splits={"train": 0.6, "val": 0.2, "test": 0.2})
    dm.setup("fit")
    assert dm.skipped_samples == []
    assert dm.table.frame["label"].tolist() == labels
    for row, pixels in expected.items():
        cached = np.asarray(dm._images[row]).astype(int)
        assert np.abs(cached - pixels.astype(int)).max() <= tolerance, row
    images, targets = next(iter(dm.train_dataloader()))
    assert tuple(images.shape) == (4, 3, H, W) and targets.shape == (4,)
    assert torch.isfinite(images.float()).all()


def test_split_aliases_become_the_three_splits(ctx, make_dm):
    source, *_ = _split_aliases(ctx)
    dm = make_dm(source)
    dm.setup("fit")
    assert {s: dm.num_samples(s) for s in ("train", "val", "test")} == {
        "train": 6,
        "val": 3,
        "test": 1,
    }


def test_parquet_without_test_rows_fits(ctx, make_cfg, helpers):
    """Upstream OCEC's default split is 0.8/0.2/0: fitting needs no test rows. (Whether a
    run then skips testing is the training entry point's decision, not the data's.)"""
    n = 24
    labels = ["open" if i % 2 else "closed" for i in range(n)]
    splits = ["train"] * 18 + ["val"] * 6
    path = ctx.parquet(labels, splits=splits)
    from ocec_lightning.training import build_run

    cfg = make_cfg(
        [
            "data=parquet",
            f"data.path={path}",
            "data.image_size=[8,16]",
            "data.batch_size=8",
            "data.num_workers=0",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",
            "trainer.limit_val_batches=1",
            "trainer.log_every_n_steps=1",
        ],
        tiny=False,
    )
    run = build_run(cfg)
    run.trainer.fit(run.task, datamodule=run.datamodule)
    assert run.trainer.state.finished and run.trainer.global_step == 2
    assert run.datamodule.num_samples("test") == 0
    dm = build_datamodule(cfg)
    with pytest.raises(DataError, match=r"split 'test' is empty \(train=18, val=6, test=0\)"):
        dm.setup("test")
