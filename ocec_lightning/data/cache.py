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

Segmentation tables also get a mask cache, uint8 [N, H, W] of class ids, resized with
nearest-neighbour interpolation (never blending two ids into a third). It is filled in
the same pass as the images (so a mask whose size differs from its image fails with its
row), and stored next to the images as `<fingerprint>_<H>x<W>_masks.npy`; the pair is
reused only when both files are complete.
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

from ocec_lightning.checks import int_pair, one_of
from ocec_lightning.data.table import SampleTable
from ocec_lightning.errors import ConfigError, DataError

log = logging.getLogger("ocec_lightning.data")

CACHE_MODES: tuple[str, ...] = ("ram", "disk")
# Rows per decoding task: large enough to amortise the thread pool's per-task cost,
# small enough that the pool stays busy on small datasets.
_DECODE_CHUNK = 256
# Rows per call of a source's block renderer (synthetic sources fan these out to processes).
_RENDER_CHUNK = 4096


def cache_path(
    cache_dir: str | Path, fingerprint: str, image_size: tuple[int, int], kind: str = "images"
) -> Path:
    """Where `disk` mode keeps the decoded images (or `kind="masks"`) of one source/size."""
    height, width = image_size
    suffix = "" if kind == "images" else f"_{kind}"
    return Path(cache_dir) / f"{fingerprint}_{height}x{width}{suffix}.npy"


def load_samples(
    table: SampleTable,
    image_size: Sequence[int],
    mode: str = "ram",
    cache_dir: str | Path | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Images uint8 [N, H, W, 3] and, for segmentation tables, masks uint8 [N, H, W].

    Masks are None for classification tables. Decodes only what is not cached.
    """
    height, width = check_image_size(image_size)
    check_cache_mode(mode)
    with_masks = table.read_mask is not None
    shapes = {"images": (len(table), height, width, 3)}
    if with_masks:
        shapes["masks"] = (len(table), height, width)
    if mode == "ram" or len(table) == 0:
        arrays = {kind: np.empty(shape, dtype=np.uint8) for kind, shape in shapes.items()}
        _timed_fill(table, arrays["images"], threads, arrays.get("masks"))
        return arrays["images"], arrays.get("masks")

    if not cache_dir:
        raise ConfigError("data.cache.dir", cache_dir, "a directory for data.cache.mode=disk")
    paths = {
        kind: cache_path(cache_dir, table.fingerprint, (height, width), kind) for kind in shapes
    }
    cached = {kind: _open_cached(paths[kind], shape) for kind, shape in shapes.items()}
    if all(array is not None for array in cached.values()):
        log.info("image cache: reusing %s (%d images, no decoding)", paths["images"], len(table))
        return cached["images"], cached.get("masks")

    paths["images"].parent.mkdir(parents=True, exist_ok=True)
    # The pid keeps concurrent writers (DDP ranks, parallel runs) off each other's file;
    # os.replace is atomic, so readers see either no cache or a complete one. Masks are
    # renamed first: images present means their masks are too.
    tmps = {kind: path.with_name(f"{path.name}.tmp-{os.getpid()}") for kind, path in paths.items()}
    try:
        arrays = {
            kind: np.lib.format.open_memmap(tmps[kind], mode="w+", dtype=np.uint8, shape=shape)
            for kind, shape in shapes.items()
        }
        _timed_fill(table, arrays["images"], threads, arrays.get("masks"))
        for array in arrays.values():
            array.flush()
        del arrays
        for kind in sorted(tmps, reverse=True):  # "masks" before "images"
            os.replace(tmps[kind], paths[kind])
    except BaseException:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
        raise
    log.info("image cache: wrote %s", paths["images"])
    loaded = {kind: np.load(path, mmap_mode="r") for kind, path in paths.items()}
    return loaded["images"], loaded.get("masks")


def check_image_size(image_size: Sequence[int]) -> tuple[int, int]:
    """`data.image_size` as (height, width) ints, or a ConfigError."""
    return int_pair("data.image_size", image_size)


def check_cache_mode(mode: str) -> str:
    """`data.cache.mode` is one of CACHE_MODES, or a ConfigError."""
    return one_of("data.cache.mode", mode, CACHE_MODES)


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


def _timed_fill(
    table: SampleTable, out: np.ndarray, threads: int | None, masks: np.ndarray | None = None
) -> None:
    start = time.perf_counter()
    _decode_into(table, out, threads, masks)
    seconds = time.perf_counter() - start
    what = "images and masks" if masks is not None else "images"
    log.info("image cache: decoded %d %s in %.1f s", len(out), what, seconds)


def _decode_into(
    table: SampleTable,
    out: np.ndarray,
    threads: int | None = None,
    masks: np.ndarray | None = None,
) -> None:
    """Fill `out` (N, H, W, 3) with every row of `table`, resized to out's H x W.

    With `masks` (N, H, W) each row's mask is read too, checked to have its image's size
    and resized with nearest-neighbour interpolation.
    """
    n, height, width = out.shape[:3]
    if table.render_block is not None:
        for start in range(0, n, _RENDER_CHUNK):
            stop = min(n, start + _RENDER_CHUNK)
            block = table.render_block(start, stop)
            images, block_masks = block if masks is not None else (block, None)
            if table.render_size == (height, width):
                out[start:stop] = images
                if masks is not None:
                    masks[start:stop] = block_masks
            else:
                for k in range(stop - start):
                    out[start + k] = _fit(images[k], height, width)
                    if masks is not None:
                        masks[start + k] = _fit_mask(block_masks[k], height, width)
        return

    def decode_chunk(start: int) -> None:
        for i in range(start, min(n, start + _DECODE_CHUNK)):
            image = table.read_image(i)
            if masks is not None:
                masks[i] = _fit_mask(_checked_mask(table, i, image), height, width)
            out[i] = _fit(image, height, width)

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


def _checked_mask(table: SampleTable, row: int, image: np.ndarray) -> np.ndarray:
    """Row `row`'s mask, or a DataError when it is not 2-D or not the image's size."""
    mask = table.read_mask(row)
    ref = table.frame["ref"].iloc[row]
    if mask.ndim != 2:
        raise DataError(
            f"{ref}: mask has shape {mask.shape}; expected one class id per pixel (H x W)"
        )
    if mask.shape != image.shape[:2]:
        (mh, mw), (ih, iw) = mask.shape, image.shape[:2]
        raise DataError(
            f"{ref}: mask size {mh}x{mw} differs from its image size {ih}x{iw} (HxW); "
            "expected a mask of the same height and width as its image"
        )
    return mask


def _fit_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    if mask.shape[:2] == (height, width):
        return mask
    # Nearest neighbour: a resized mask holds only ids that were in the original.
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)


def _fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    # INTER_AREA averages source pixels when shrinking, which keeps thin eyelid lines.
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
