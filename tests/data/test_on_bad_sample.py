"""`data.on_bad_sample: error|skip`: with skip, rows whose image or mask cannot be used
are dropped from their split (not renumbered), reported by row in
`datamodule.skipped_samples` and in one warning line, remembered by the disk cache, and
all-bad data still fails."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ocec_lightning.data import build_datamodule, cache_fill
from ocec_lightning.data.cache import load_checked_samples, skipped_path
from ocec_lightning.data.sources import ParquetSource
from ocec_lightning.errors import DataError

N = 12
LABELS = ["open" if i % 2 else "closed" for i in range(N)]
BAD_ROWS = (3, 7, 10)


def _pfm_with_nan() -> bytes:
    image = np.full((8, 16, 3), 0.5, np.float32)
    image[1, 1] = np.nan
    return cv2.imencode(".pfm", image)[1].tobytes()


def _corrupt_first_page(path, column: str) -> None:
    """Damage a column chunk's first page header (the footer still reads), as a torn
    copy or a bad disk sector would."""
    meta = pq.ParquetFile(path).metadata.row_group(0)
    names = [meta.column(j).path_in_schema for j in range(meta.num_columns)]
    chunk = meta.column(names.index(column))
    offset = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))


def _bad_parquet(write_parquet, helpers, name="data.parquet"):
    """N rows; row 3 holds garbage bytes, row 7 none at all (empty), row 10 a NaN float."""
    data = [helpers.png_bytes(helpers.sample_image(i)) for i in range(N)]
    data[3], data[7], data[10] = b"garbage", b"", _pfm_with_nan()
    return write_parquet(LABELS, name=name, image_bytes=data)


def test_skip_drops_bad_rows_reports_them_and_keeps_row_numbers(
    write_parquet, helpers, make_dm, caplog
):
    dm = make_dm(ParquetSource(_bad_parquet(write_parquet, helpers)), on_bad_sample="skip")
    with caplog.at_level(logging.WARNING, logger="ocec_lightning.data"):
        dm.setup("fit")
    assert [s["row"] for s in dm.skipped_samples] == list(BAD_ROWS)
    assert [s["ref"] for s in dm.skipped_samples] == [f"data.parquet row {r}" for r in BAD_ROWS]
    reasons = [s["reason"] for s in dm.skipped_samples]
    assert "not a decodable image" in reasons[0] and "empty (0 bytes)" in reasons[1]
    assert "NaN/inf" in reasons[2]
    # One warning line: the count, the first rows and where the full list is.
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "\n" not in warning and "skipped 3 of 12 samples" in warning
    assert "data.parquet row 3" in warning and "skipped_samples" in warning
    # Row numbers do not shift: the table keeps all 12 rows, the skipped ones in no split.
    frame = dm.table.frame
    assert len(frame) == N and frame["split"].isna().to_numpy().nonzero()[0].tolist() == [3, 7, 10]
    kept = sorted(np.concatenate([dm._rows[s] for s in ("train", "val", "test")]).tolist())
    assert kept == [i for i in range(N) if i not in BAD_ROWS]
    for row in kept:  # each kept row's pixels are its own image (red channel = row)
        assert dm._images[row][0, 0, 0] == row
    assert dm._labels[kept].tolist() == [i % 2 for i in kept]


def test_skipping_moves_no_good_row_to_another_split(write_parquet, helpers, make_dm):
    good = make_dm(ParquetSource(write_parquet(LABELS, name="good.parquet")))
    good.setup("fit")
    bad = make_dm(ParquetSource(_bad_parquet(write_parquet, helpers)), on_bad_sample="skip")
    bad.setup("fit")
    expected = good.table.frame["split"].copy()
    expected[list(BAD_ROWS)] = None
    pd.testing.assert_series_equal(bad.table.frame["split"], expected)


def test_error_is_the_default_and_names_the_first_bad_row(write_parquet, helpers, make_dm):
    dm = make_dm(ParquetSource(_bad_parquet(write_parquet, helpers)))
    assert dm.on_bad_sample == "error"
    with pytest.raises(DataError, match=r"^data\.parquet row 3: image data \(7 bytes\)"):
        dm.setup("fit")


def test_disk_cache_remembers_the_skipped_rows(write_parquet, helpers, make_dm, monkeypatch):
    source = ParquetSource(_bad_parquet(write_parquet, helpers))
    first = make_dm(source, cache_mode="disk", on_bad_sample="skip")
    first.setup("fit")
    record = skipped_path(first.cache_dir, source.load().fingerprint, (8, 16))
    assert record.is_file()
    monkeypatch.setattr(
        cache_fill, "decode_into", lambda *a, **k: pytest.fail("decoded although cached")
    )
    second = make_dm(source, cache_mode="disk", on_bad_sample="skip")
    second.setup("fit")
    assert second.skipped_samples == first.skipped_samples
    assert {s: second._rows[s].tolist() for s in second._rows} == {
        s: first._rows[s].tolist() for s in first._rows
    }
    np.testing.assert_array_equal(np.asarray(second._images), np.asarray(first._images))
    # The same cache under on_bad_sample=error fails exactly as decoding would have.
    strict = make_dm(source, cache_mode="disk")
    with pytest.raises(DataError, match=r"^data\.parquet row 3: image data \(7 bytes\)") as info:
        strict.setup("fit")
    assert "\n" not in str(info.value)


def test_a_failed_strict_build_leaves_no_cache_for_a_later_skip_run(
    write_parquet, helpers, make_dm
):
    source = ParquetSource(_bad_parquet(write_parquet, helpers))
    strict = make_dm(source, cache_mode="disk")
    with pytest.raises(DataError):
        strict.setup("fit")
    assert not strict.cache_dir.exists() or not any(strict.cache_dir.iterdir())
    lenient = make_dm(source, cache_mode="disk", on_bad_sample="skip")
    lenient.setup("fit")
    assert [s["row"] for s in lenient.skipped_samples] == list(BAD_ROWS)


def test_all_samples_bad_fails_even_with_skip(write_parquet, make_dm):
    path = write_parquet(LABELS[:4], image_bytes=[b"x", b"", b"y", b"z"])
    dm = make_dm(ParquetSource(path), on_bad_sample="skip")
    with pytest.raises(DataError, match=r"^all 4 samples are unusable, e\.g\. data\.parquet row 0"):
        dm.setup("fit")


def test_metadata_errors_are_never_skipped(write_parquet, make_dm):
    path = write_parquet(["open", "closed", "blink", "open"])
    with pytest.raises(DataError, match=r"row 2: unknown label 'blink'"):
        make_dm(ParquetSource(path), on_bad_sample="skip").setup("fit")


def test_skip_leaves_too_few_rows_for_a_split(write_parquet, helpers, make_dm):
    """Splits are checked after skipping: a split emptied by it fails by name."""
    data = [helpers.png_bytes(helpers.sample_image(i)) for i in range(6)]
    data[4] = data[5] = b"bad"
    path = write_parquet(LABELS[:6], image_bytes=data, split=["train"] * 4 + ["val"] * 2)
    dm = make_dm(ParquetSource(path), on_bad_sample="skip")
    with pytest.raises(DataError, match=r"^split 'val' is empty \(train=4, val=0, test=0\)"):
        dm.setup("fit")


def test_segmentation_skips_bad_masks(write_seg_parquet, make_seg_dm, seg, caplog):
    masks = [seg.sample_mask(i) for i in range(10)]
    masks[2][0, :3] = 40  # class id >= num_classes (11)
    path = write_seg_parquet(masks=masks, splits=["train"] * 6 + ["val"] * 2 + ["test"] * 2)
    frame = pd.read_parquet(path)
    frame.loc[5, "mask_bytes"] = seg.mask_png(np.zeros((6, 16), np.uint8))  # wrong size
    frame.loc[8, "mask_bytes"] = b"\x89PNG\r\n\x1a\n truncated"
    frame.to_parquet(path)
    dm = make_seg_dm(ParquetSource(path, task="segmentation"), on_bad_sample="skip")
    with caplog.at_level(logging.WARNING, logger="ocec_lightning.data"):
        dm.setup("fit")
    assert [s["row"] for s in dm.skipped_samples] == [2, 5, 8]
    reasons = [s["reason"] for s in dm.skipped_samples]
    assert "class id(s) 40" in reasons[0] and "mask size 6x16 differs" in reasons[1]
    assert "not a decodable PNG" in reasons[2]
    kept = np.concatenate([dm._rows[s] for s in ("train", "val", "test")])
    assert sorted(kept.tolist()) == [0, 1, 3, 4, 6, 7, 9]
    assert not any("no labelled pixels" in r.getMessage() for r in caplog.records)
    assert abs(sum(dm.class_pixel_frequencies()) - 1.0) < 1e-9
    # Class ids are checked against the run's task settings, not stored with the cache:
    # once id 40 marks unlabelled pixels (task.ignore_index) that row is kept.
    relaxed = make_seg_dm(
        ParquetSource(path, task="segmentation"), on_bad_sample="skip", ignore_index=40
    )
    relaxed.setup("fit")
    assert [s["row"] for s in relaxed.skipped_samples] == [5, 8]


def test_load_checked_samples_skip_in_ram(write_parquet, helpers):
    table = ParquetSource(_bad_parquet(write_parquet, helpers)).load()
    images, masks, counts, skipped = load_checked_samples(table, (8, 16), on_bad_sample="skip")
    assert masks is None and counts is None and len(images) == N
    assert [s["row"] for s in skipped] == list(BAD_ROWS)
    assert not images[list(BAD_ROWS)].any()  # skipped rows stay zero, never garbage


def test_config_passes_on_bad_sample(make_cfg):
    assert build_datamodule(make_cfg()).on_bad_sample == "error"
    assert build_datamodule(make_cfg(["data.on_bad_sample=skip"])).on_bad_sample == "skip"


def test_unreadable_skip_record_rebuilds_the_cache(write_parquet, helpers, make_dm):
    source = ParquetSource(_bad_parquet(write_parquet, helpers))
    first = make_dm(source, cache_mode="disk", on_bad_sample="skip")
    first.setup("fit")
    record = skipped_path(first.cache_dir, source.load().fingerprint, (8, 16))
    record.write_text("{half a record")
    second = make_dm(source, cache_mode="disk", on_bad_sample="skip")
    second.setup("fit")
    assert second.skipped_samples == first.skipped_samples
    assert json.loads(record.read_text()) == first.skipped_samples


def test_skip_drops_the_rows_of_a_damaged_shard(write_parquet, helpers, make_dm):
    shards = [
        write_parquet(LABELS[:8], name="shards/a.parquet"),
        write_parquet(LABELS[:6], name="shards/b.parquet", start=8),
    ]
    _corrupt_first_page(shards[1], "image_bytes")
    dm = make_dm(ParquetSource(shards[0].parent), on_bad_sample="skip")
    dm.setup("fit")
    assert [s["ref"] for s in dm.skipped_samples] == [f"b.parquet row {i}" for i in range(6)]
    assert "corrupt parquet data in column(s) image_bytes" in dm.skipped_samples[0]["reason"]
    assert sum(dm.num_samples(s) for s in ("train", "val", "test")) == 8


def test_a_run_with_skip_trains_and_lists_what_it_skipped(write_parquet, helpers, make_cfg):
    from ocec_lightning.training import run_training

    labels = ["open" if i % 2 else "closed" for i in range(40)]
    data = [helpers.png_bytes(helpers.sample_image(i)) for i in range(40)]
    data[5], data[22] = b"garbage", b""
    path = write_parquet(labels, image_bytes=data)
    splits = "{train: 0.6, val: 0.4, test: 0.0}"
    overrides = ["data=parquet", f"data.path={path}", "data.image_size=[8,16]"]
    overrides += ["data.batch_size=8", f"data.splits={splits}", "data.on_bad_sample=skip"]
    overrides += ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "model.base_channels=8"]
    result = run_training(make_cfg(overrides, tiny=False))
    summary = json.loads((Path(result.run_dir) / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["skipped_samples"] == 2
    assert "no test rows" in summary["test_skipped"]  # 0.6/0.4/0: testing skipped, exit 0
    rows = pd.read_csv(Path(result.run_dir) / "skipped_samples.csv")
    assert rows["row"].tolist() == [5, 22] and list(rows.columns) == ["row", "ref", "reason"]
    assert "empty" in rows["reason"][1]
