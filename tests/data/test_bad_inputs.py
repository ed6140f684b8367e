"""Bad input, table-driven: every broken file, row, column or config value fails
in `setup()` (the main process, before any training or DataLoader worker) with one line
naming the file/row/key, the bad value and what is expected.

Each case is a row `(id, build, error, parts)`: `build(ctx)` writes the broken data into
the test's tmp_path and returns the data source (or a `(source, datamodule kwargs)`
pair); the error's message must be one line and contain every string in `parts`.
Cases already covered elsewhere (unknown label names, unknown split names, a partial
split column, missing columns and group column, colour / oversized-id / wrongly sized
masks, data.cache.mode) are not repeated here.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ocec_lightning.data import build_datamodule
from ocec_lightning.data.sources import CsvSource, FolderSource, ParquetSource
from ocec_lightning.errors import ConfigError, DataError

ALT8 = ["open" if i % 2 else "closed" for i in range(8)]


@pytest.fixture()
def ctx(tmp_path, write_parquet, write_seg_parquet, helpers, seg) -> SimpleNamespace:
    return SimpleNamespace(
        tmp=tmp_path, parquet=write_parquet, seg_parquet=write_seg_parquet, h=helpers, seg=seg
    )


def pfm(values: np.ndarray) -> bytes:
    """A float32 image as PFM bytes: a float format OpenCV decodes (and, unchecked, would
    silently turn NaN into 0 and rescale)."""
    ok, buffer = cv2.imencode(".pfm", values.astype(np.float32))
    assert ok
    return buffer.tobytes()


def _float_image(bad: float, at: tuple[int, int] = (2, 3)) -> bytes:
    image = np.full((8, 16, 3), 0.5, np.float32)
    image[at] = bad
    return pfm(image)


def _replace_bytes(ctx, row: int, data: bytes, column: str = "image_bytes") -> ParquetSource:
    good = [ctx.h.png_bytes(ctx.h.sample_image(i)) for i in range(8)]
    good[row] = data
    return ParquetSource(ctx.parquet(ALT8, **{column: good}))


def _replace_file(ctx, row: int, data: bytes | Callable[[bytes], bytes] | None) -> ParquetSource:
    """Parquet without image_bytes whose row `row` file holds `data` (a function: of its
    good bytes; None: deleted)."""
    path = ctx.parquet(ALT8, with_bytes=False)
    file = ctx.tmp / "images" / f"{row:05d}.png"
    if data is None:
        file.unlink()
    else:
        file.write_bytes(data(file.read_bytes()) if callable(data) else data)
    return ParquetSource(path)


def _retyped(ctx, **columns: Any) -> ParquetSource:
    path = ctx.parquet(ALT8)
    frame = pd.read_parquet(path)
    for name, values in columns.items():
        frame[name] = values
    frame.to_parquet(path, index=False)
    return ParquetSource(path)


def _csv(ctx, data: bytes, images: tuple[str, ...] = ()) -> CsvSource:
    for i, name in enumerate(images):
        ctx.h.write_png(ctx.tmp / name, ctx.h.sample_image(i))
    manifest = ctx.tmp / "eyes.csv"
    manifest.write_bytes(data)
    return CsvSource(manifest)


def _folder(ctx, files: dict[str, bytes]) -> FolderSource:
    for i in range(10):
        ctx.h.write_png(ctx.tmp / "eyes" / "open" / f"o{i}.png", ctx.h.sample_image(i))
    (ctx.tmp / "eyes" / "closed").mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (ctx.tmp / "eyes" / name).write_bytes(data)
    return FolderSource(ctx.tmp / "eyes", class_names=["closed", "open"])


def _seg_bytes(ctx, row: int, data: bytes) -> tuple[ParquetSource, dict[str, Any]]:
    good = [ctx.seg.mask_png(ctx.seg.sample_mask(i)) for i in range(6)]
    good[row] = data
    path = ctx.seg_parquet(6, mask_bytes=good)
    return ParquetSource(path, task="segmentation"), {"task": "segmentation"}


def _png(ctx, i: int = 0) -> bytes:
    return ctx.h.png_bytes(ctx.h.sample_image(i))


Build = Callable[[SimpleNamespace], Any]
# (id, build, error, substrings of the one-line message)
CASES: list[tuple[str, Build, type, tuple[str, ...]]] = [
    # ---------------------------------------------------------------- image files
    (
        "missing-image-file",
        lambda c: _replace_file(c, 3, None),
        DataError,
        ("data.parquet row 3", "image file not found", "images/00003.png"),
    ),
    (
        "empty-image-file",
        lambda c: _replace_file(c, 3, b""),
        DataError,
        ("data.parquet row 3", "images/00003.png", "empty (0 bytes)", "expected"),
    ),
    (
        "truncated-png-file",
        lambda c: _replace_file(c, 5, lambda data: data[: len(data) // 2]),
        DataError,
        ("data.parquet row 5", "images/00005.png", "not a decodable PNG (truncated", "expected"),
    ),
    (
        "truncated-jpeg-bytes",
        lambda c: _replace_bytes(
            c, 2, cv2.imencode(".jpg", np.full((32, 32, 3), 90, np.uint8))[1].tobytes()[:300]
        ),
        DataError,
        ("data.parquet row 2", "(300 bytes)", "not a decodable JPEG (truncated", "expected"),
    ),
    (
        "garbage-image-bytes",
        lambda c: _replace_bytes(c, 6, b"these are not image bytes"),
        DataError,
        ("data.parquet row 6", "(25 bytes)", "not a decodable image", "PNG/JPEG/BMP"),
    ),
    (
        "empty-image-bytes",
        lambda c: _replace_bytes(c, 1, b""),
        DataError,
        ("data.parquet row 1", "empty (0 bytes)", "expected"),
    ),
    (
        "image-path-is-a-directory",
        lambda c: _replace_dir(c, 4),
        DataError,
        ("data.parquet row 4", "cannot read image file", "00004.png"),
    ),
    (
        "row-with-neither-bytes-nor-path",
        lambda c: _retyped(
            c,
            image_bytes=[None] + [_png(c)] * 7,
            image_path=[None] + [f"images/{i:05d}.png" for i in range(1, 8)],
        ),
        DataError,
        ("data.parquet row 0", "neither image_bytes nor image_path", "expected"),
    ),
    (
        "folder-corrupt-file",
        lambda c: _folder(c, {"closed/c0.png": _png(c), "closed/c1.png": b"hello"}),
        DataError,
        ("closed/c1.png", "(5 bytes)", "not a decodable image"),
    ),
    (
        "csv-missing-file",
        lambda c: _csv(c, b"path,label\na.png,open\nb.png,closed\n", images=("a.png",)),
        DataError,
        ("eyes.csv line 3", "image file not found", "b.png"),
    ),
    # ------------------------------------------------------------- float images
    (
        "float-image-nan",
        lambda c: _replace_bytes(c, 1, _float_image(np.nan)),
        DataError,
        (
            "data.parquet row 1",
            "NaN/inf",
            "3 NaN/inf value(s)",
            "pixel (2, 3)",
            "finite values in [0, 1]",
        ),
    ),
    (
        "float-image-inf",
        lambda c: _replace_bytes(c, 7, _float_image(np.inf, at=(0, 0))),
        DataError,
        ("data.parquet row 7", "NaN/inf", "pixel (0, 0)", "finite values in [0, 1]"),
    ),
    (
        "float-image-out-of-range",
        lambda c: _replace_bytes(c, 2, _float_image(255.0)),
        DataError,
        ("data.parquet row 2", "float", "0.5 to 255", "[0, 1]"),
    ),
    # ------------------------------------------------------------ labels, dtypes
    (
        "class-id-out-of-range",
        lambda c: _retyped(c, class_id=[0, 1, 2, 0, 1, 0, 1, 0]),
        DataError,
        ("data.parquet row 2", "unknown label 2", "closed/open", "0/1"),
    ),
    (
        "class-id-negative",
        lambda c: _retyped(c, class_id=[0, 1, 0, 1, -1, 0, 1, 0]),
        DataError,
        ("data.parquet row 4", "unknown label -1", "0/1"),
    ),
    (
        "class-id-fraction",
        lambda c: _retyped(c, class_id=[0.0, 1.0, 0.5, 0, 1, 0, 1, 0]),
        DataError,
        ("data.parquet row 2", "unknown label 0.5", "0/1"),
    ),
    (
        "label-missing-in-a-row",
        lambda c: _retyped(c, label=["open", None, *ALT8[2:]]),
        DataError,
        ("data.parquet row 1", "label is missing", "closed/open"),
    ),
    (
        "label-as-lists",
        lambda c: _retyped(c, label=[["open"]] * 8),
        DataError,
        ("data.parquet", "column 'label'", "list", "expected"),
    ),
    (
        "image-bytes-as-strings",
        lambda c: _retyped(c, image_bytes=["iVBORw0KGgo="] * 8),
        DataError,
        ("data.parquet", "column 'image_bytes'", "string", "binary"),
    ),
    (
        "image-bytes-as-float-arrays",
        lambda c: _retyped(c, image_bytes=[np.full(8 * 16 * 3, np.nan)] * 8),
        DataError,
        ("data.parquet", "column 'image_bytes'", "list<element: double>", "binary"),
    ),
    (
        "image-path-as-integers",
        lambda c: _retyped(c, image_path=list(range(8))),
        DataError,
        ("data.parquet", "column 'image_path'", "int64", "string"),
    ),
    (
        "not-a-parquet-file",
        lambda c: (
            (c.tmp / "eyes.parquet").write_text("split,label\n")
            and ParquetSource(c.tmp / "eyes.parquet")
        ),
        DataError,
        ("eyes.parquet", "not a readable parquet file"),
    ),
    (
        "corrupt-parquet-page-labels",
        lambda c: _corrupt(c, "label"),
        DataError,
        ("data.parquet", "corrupt parquet data in column(s) label", "expected a readable"),
    ),
    (
        "corrupt-parquet-page-image-bytes",
        lambda c: _corrupt(c, "image_bytes"),
        DataError,
        ("data.parquet", "corrupt parquet data in column(s) image_bytes", "expected"),
    ),
    (
        "parquet-without-rows",
        lambda c: _retyped_empty(c),
        DataError,
        ("data.parquet", "no rows", "expected"),
    ),
    (
        "csv-empty-file",
        lambda c: _csv(c, b""),
        DataError,
        ("eyes.csv", "the file is empty", "path,label"),
    ),
    (
        "csv-not-text",
        lambda c: _csv(c, b"path,label\n\xff\xfe\x00\x81,open\n"),
        DataError,
        ("eyes.csv", "UTF-8", "path,label"),
    ),
    (
        "csv-bad-quoting",
        lambda c: _csv(c, b'path,label\n"a.png,open\nb.png,"closed\n"c,d",e,f\n'),
        DataError,
        ("eyes.csv", "not a readable CSV", "path,label"),
    ),
    # --------------------------------------------------------------- splits
    (
        "split-column-without-val-rows",
        lambda c: ParquetSource(c.parquet(ALT8, splits=["train"] * 6 + ["test"] * 2)),
        DataError,
        ("split 'val' is empty", "train=6, val=0, test=2", "'val' rows"),
    ),
    (
        "one-class-only",
        lambda c: ParquetSource(c.parquet(["open"] * 10)),
        DataError,
        ("split 'train' has a single class", "closed=0, open=8"),
    ),
    (
        "folder-with-an-empty-class",
        lambda c: _folder(c, {}),
        DataError,
        ("split 'train' has a single class", "closed=0"),
    ),
    # ---------------------------------------------------------------- masks
    (
        "mask-float-nan",
        lambda c: _seg_bytes(c, 1, pfm(np.where(np.eye(8, 16) > 0, np.nan, 1.0))),
        DataError,
        ("seg.parquet row 1", "mask", "float32", "NaN", "class ids"),
    ),
    (
        "mask-empty-bytes",
        lambda c: _seg_bytes(c, 4, b""),
        DataError,
        ("seg.parquet row 4", "mask data is empty (0 bytes)", "expected"),
    ),
    (
        "mask-truncated-png",
        lambda c: _seg_bytes(c, 3, c.seg.mask_png(c.seg.sample_mask(3))[:-20]),
        DataError,
        ("seg.parquet row 3", "mask data", "not a decodable PNG (truncated", "expected"),
    ),
]


def _replace_dir(ctx, row: int) -> ParquetSource:
    source = _replace_file(ctx, row, None)
    (ctx.tmp / "images" / f"{row:05d}.png").mkdir()
    return source


def corrupt_page(path, column: str) -> None:
    """Overwrite the header of `column`'s first data page: the footer still reads."""
    meta = pq.ParquetFile(path).metadata.row_group(0)
    chunk = next(
        meta.column(j) for j in range(meta.num_columns) if meta.column(j).path_in_schema == column
    )
    offset = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))


def _corrupt(ctx, column: str) -> ParquetSource:
    path = ctx.parquet(ALT8)
    corrupt_page(path, column)
    return ParquetSource(path)


def _retyped_empty(ctx) -> ParquetSource:
    path = ctx.parquet(ALT8)
    pd.read_parquet(path).iloc[:0].to_parquet(path, index=False)
    return ParquetSource(path)


@pytest.mark.parametrize(
    ("build", "error", "parts"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_data_fails_in_setup_with_one_line(ctx, make_dm, make_seg_dm, build, error, parts):
    built = build(ctx)
    source, kwargs = built if isinstance(built, tuple) else (built, {})
    segmentation = kwargs.pop("task", None) == "segmentation"
    dm = (make_seg_dm if segmentation else make_dm)(source, **kwargs)
    with pytest.raises(error) as info:
        dm.setup("fit")
    message = str(info.value)
    assert "\n" not in message, message
    missing = [part for part in parts if part not in message]
    assert not missing, f"{missing} not in: {message}"


# Config values out of range: ConfigError at construction, naming the key and value.
# (data.cache.mode, data.group_column and data.splits sums are tested in test_datamodule.)
CONFIG_CASES = [
    ("data.batch_size=0", ("'data.batch_size' = 0", "an integer >= 1")),
    ("data.batch_size=1.5", ("'data.batch_size' = 1.5", "an integer >= 1")),
    ("data.num_workers=-1", ("'data.num_workers' = -1", "an integer >= 0")),
    ("data.image_size=[0,64]", ("'data.image_size' = [0, 64]", "two positive integers")),
    ("data.image_size=[32]", ("'data.image_size' = [32]", "[height, width]")),
    ("data.splits={train:0,val:0.5,test:0.5}", ("'data.splits'", "a train ratio > 0")),
    ("data.splits.train=-0.1", ("'data.splits'", "-0.1", "fractions >= 0")),
    ("data.on_bad_sample=ignore", ("'data.on_bad_sample' = 'ignore'", "one of error, skip")),
    ("data.multiprocessing_context=thread", ("'data.multiprocessing_context'", "fork")),
    ("data.normalize.std=[0,1,1]", ("'data.normalize.std' = [0, 1, 1]", "> 0")),
    ("data.normalize.mean=[0.5]", ("'data.normalize.mean' = [0.5]", "three values")),
    pytest.param(
        "data.normalize.std=[nan,1,1]",
        ("'data.normalize.std'", "nan"),
    ),
    pytest.param(
        "data.weighted_sampler=maybe",
        ("'data.weighted_sampler' = 'maybe'", "true or false"),
    ),
    pytest.param(
        "data.pin_memory=sometimes",
        ("'data.pin_memory' = 'sometimes'", "true or false"),
    ),
]


@pytest.mark.parametrize(("override", "parts"), CONFIG_CASES)
def test_bad_data_config_fails_at_construction(make_cfg, override, parts):
    with pytest.raises(ConfigError) as info:
        build_datamodule(make_cfg([override]))
    message = str(info.value)
    assert "\n" not in message
    missing = [part for part in parts if part not in message]
    assert not missing, f"{missing} not in: {message}"
