"""Decode every image once into one compact uint8 array [N, H, W, 3] at the model's size.

Upstream OCEC's fork got its biggest speed-up from decoding all crops into RAM up front;
this module does the same for every source, in the main process, so a corrupt or missing
image fails during `setup()` with its row instead of inside a DataLoader worker.

Two modes:
- `ram`: a plain numpy array; DataLoader workers started by fork share its pages.
- `disk`: a `.npy` file opened as a read-only memmap under the cache dir, named by the
  source fingerprint and the image size. It is written to a temporary name and renamed
  into place only when complete, so an interrupted run never leaves a half-written cache,
  and the next run with the same data maps it without decoding anything. Workers and
  DDP ranks on one machine share it through the page cache.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from ocec_lightning.data.table import SampleTable
from ocec_lightning.errors import ConfigError

log = logging.getLogger("ocec_lightning.data")

CACHE_MODES: tuple[str, ...] = ("ram", "disk")
# Rows per decoding task: large enough to amortise the thread pool's per-task cost,
# small enough that the pool stays busy on small datasets.
_DECODE_CHUNK = 256
# Rows per call of a source's block renderer (synthetic sources fan these out to processes).
_RENDER_CHUNK = 4096


def cache_path(cache_dir: str | Path, fingerprint: str, image_size: tuple[int, int]) -> Path:
    """Where `disk` mode keeps the decoded images of one source at one size."""
    height, width = image_size
    return Path(cache_dir) / f"{fingerprint}_{height}x{width}.npy"


def load_images(
    table: SampleTable,
    image_size: Sequence[int],
    mode: str = "ram",
    cache_dir: str | Path | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Return all images of `table` as uint8 [N, H, W, 3], decoding only if not cached."""
    height, width = check_image_size(image_size)
    if mode not in CACHE_MODES:
        raise ConfigError("data.cache.mode", mode, f"one of {', '.join(CACHE_MODES)}")
    shape = (len(table), height, width, 3)
    if mode == "ram" or shape[0] == 0:
        images = np.empty(shape, dtype=np.uint8)
        _timed_fill(table, images, threads)
        return images

    if not cache_dir:
        raise ConfigError("data.cache.dir", cache_dir, "a directory for data.cache.mode=disk")
    path = cache_path(cache_dir, table.fingerprint, (height, width))
    cached = _open_cached(path, shape)
    if cached is not None:
        log.info("image cache: reusing %s (%d images, no decoding)", path, shape[0])
        return cached

    path.parent.mkdir(parents=True, exist_ok=True)
    # The pid keeps concurrent writers (DDP ranks, parallel runs) off each other's file;
    # os.replace is atomic, so readers see either no cache or a complete one.
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        _timed_fill(table, images, threads)
        images.flush()
        del images
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("image cache: wrote %s", path)
    return np.load(path, mmap_mode="r")


def check_image_size(image_size: Sequence[int]) -> tuple[int, int]:
    """`data.image_size` as (height, width) ints, or a ConfigError."""
    try:
        height, width = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ConfigError("data.image_size", image_size, "[height, width], e.g. [32, 64]") from None
    if height < 1 or width < 1:
        raise ConfigError("data.image_size", image_size, "positive [height, width], e.g. [32, 64]")
    return height, width


def _open_cached(path: Path, shape: tuple[int, ...]) -> np.ndarray | None:
    """Map an existing cache file, or None when absent or not matching this table."""
    if not path.is_file():
        return None
    try:
        images = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        log.warning("image cache: ignoring unreadable %s (%s); rebuilding", path, exc)
        return None
    if images.shape != shape or images.dtype != np.uint8:
        # Same fingerprint but another shape means the file was not written by us.
        log.warning(
            "image cache: %s has shape %s, expected %s; rebuilding", path, images.shape, shape
        )
        return None
    return images


def _timed_fill(table: SampleTable, out: np.ndarray, threads: int | None) -> None:
    start = time.perf_counter()
    _decode_into(table, out, threads)
    seconds = time.perf_counter() - start
    log.info("image cache: decoded %d images in %.1f s", len(out), seconds)


def _decode_into(table: SampleTable, out: np.ndarray, threads: int | None = None) -> None:
    """Fill `out` (N, H, W, 3) with every row of `table`, resized to out's H x W."""
    n, height, width = out.shape[:3]
    if table.render_block is not None:
        for start in range(0, n, _RENDER_CHUNK):
            stop = min(n, start + _RENDER_CHUNK)
            block = table.render_block(start, stop)
            if table.render_size == (height, width):
                out[start:stop] = block
            else:
                for k in range(stop - start):
                    out[start + k] = _fit(block[k], height, width)
        return

    def decode_chunk(start: int) -> None:
        for i in range(start, min(n, start + _DECODE_CHUNK)):
            out[i] = _fit(table.read_image(i), height, width)

    workers = threads or min(8, os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        # Consuming the results in order re-raises the first failing chunk's DataError,
        # i.e. the lowest failing row, so the message does not depend on thread timing.
        for _ in pool.map(decode_chunk, range(0, n, _DECODE_CHUNK)):
            pass
    finally:
        # After a failure, do not decode the rest of a large dataset before reporting it.
        pool.shutdown(wait=True, cancel_futures=True)


def _fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    # INTER_AREA averages source pixels when shrinking, which keeps thin eyelid lines.
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
