"""Decoded-image cache: RAM vs memmap, reuse without decoding, atomic writes, errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ocec_lightning.data import cache_fill
from ocec_lightning.data.cache import cache_path, load_samples
from ocec_lightning.data.sources import ParquetSource
from ocec_lightning.data.table import SampleTable, make_frame
from ocec_lightning.errors import ConfigError, DataError


def _noise_table(n: int, fail_rows: tuple[int, ...] = (), size=(20, 30)) -> SampleTable:
    """Random images (fixed seed); rows in `fail_rows` raise like a corrupt file."""
    images = np.random.default_rng(0).integers(0, 256, size=(n, *size, 3), dtype=np.uint8)

    def read(i: int) -> np.ndarray:
        if i in fail_rows:
            raise DataError(f"noise row {i}: image data (3 bytes) is not a decodable PNG/JPEG/BMP")
        return images[i]

    refs = [f"noise row {i}" for i in range(n)]
    return SampleTable(make_frame(np.arange(n) % 2, refs), read, f"noise{n}", ["closed", "open"])


def test_ram_and_disk_hold_the_same_resized_pixels(tmp_path):
    table = _noise_table(40)
    ram = load_samples(table, (10, 12), "ram")[0]
    disk = load_samples(table, (10, 12), "disk", tmp_path)[0]
    assert isinstance(disk, np.memmap) and not disk.flags.writeable
    assert ram.shape == (40, 10, 12, 3) and ram.dtype == np.uint8
    np.testing.assert_array_equal(ram, disk)
    expected = cv2.resize(table.read_image(5), (12, 10), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(ram[5], expected)
    assert cache_path(tmp_path, "noise40", (10, 12)).is_file()


def test_second_disk_load_does_not_decode(tmp_path, monkeypatch):
    table = _noise_table(12)
    first = np.array(load_samples(table, (20, 30), "disk", tmp_path)[0])

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the disk cache exists")

    monkeypatch.setattr(cache_fill, "decode_into", no_decoding)
    np.testing.assert_array_equal(load_samples(table, (20, 30), "disk", tmp_path)[0], first)
    with pytest.raises(AssertionError):  # another size is another cache file
        load_samples(table, (10, 15), "disk", tmp_path)


def test_failed_decode_leaves_no_cache_file(tmp_path):
    table = _noise_table(600, fail_rows=(300, 550))
    # Rows 300 and 550 sit in different decoding chunks; the lower one is reported.
    with pytest.raises(DataError, match=r"^noise row 300: "):
        load_samples(table, (20, 30), "disk", tmp_path / "c")
    assert list((tmp_path / "c").iterdir()) == []


def test_interrupted_build_leaves_nothing_and_next_run_rebuilds(tmp_path, monkeypatch):
    table = _noise_table(8)

    def interrupted(table, out, threads=None, masks=None, skip=False):
        out[:4] = 255  # half written, then Ctrl-C
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(cache_fill, "decode_into", interrupted)
        with pytest.raises(KeyboardInterrupt):
            load_samples(table, (20, 30), "disk", tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither a partial cache nor a temp file
    images = load_samples(table, (20, 30), "disk", tmp_path)[0]
    np.testing.assert_array_equal(images, load_samples(table, (20, 30), "ram")[0])


def test_damaged_cache_file_is_rebuilt(tmp_path):
    table = _noise_table(8)
    path = cache_path(tmp_path, table.fingerprint, (20, 30))
    path.write_bytes(b"not an npy file")
    images = load_samples(table, (20, 30), "disk", tmp_path)[0]
    np.testing.assert_array_equal(images, load_samples(table, (20, 30), "ram")[0])


def test_cache_with_another_shape_is_rebuilt(tmp_path):
    small = _noise_table(5)
    load_samples(small, (20, 30), "disk", tmp_path)
    bigger = _noise_table(7)
    bigger.fingerprint = small.fingerprint  # same name, different row count
    assert load_samples(bigger, (20, 30), "disk", tmp_path)[0].shape == (7, 20, 30, 3)


def test_block_renderer_is_used_instead_of_read_image():
    blocks = []

    def render(start: int, stop: int) -> np.ndarray:
        blocks.append((start, stop))
        return np.full((stop - start, 4, 6, 3), start, dtype=np.uint8)

    def no_read(i: int) -> np.ndarray:
        raise AssertionError("read_image called")

    table = SampleTable(
        make_frame([0, 1, 0], ["a", "b", "c"]),
        no_read,
        "blocks",
        ["closed", "open"],
        render_block=render,
        render_size=(4, 6),
    )
    images = load_samples(table, (4, 6), "ram")[0]
    assert blocks == [(0, 3)] and images.shape == (3, 4, 6, 3)
    assert load_samples(table, (2, 3), "ram")[0].shape == (3, 2, 3, 3)  # resized per image


def test_missing_file_in_parquet_fails_with_row_and_file(write_parquet, tmp_path, helpers):
    path = write_parquet(helpers.alternating(4), with_bytes=False)
    (tmp_path / "images" / "00002.png").unlink()
    with pytest.raises(
        DataError, match=r"data.parquet row 2: image file not found: .*images/00002.png"
    ):
        load_samples(ParquetSource(path).load(), (8, 16), "ram")


def test_bad_cache_settings_are_config_errors(tmp_path):
    table = _noise_table(2)
    with pytest.raises(ConfigError, match="data.cache.mode"):
        load_samples(table, (8, 8), "gpu")
    with pytest.raises(ConfigError, match="data.cache.dir"):
        load_samples(table, (8, 8), "disk", None)
    with pytest.raises(ConfigError, match="data.image_size"):
        load_samples(table, (0, 8), "ram")
