"""Fill the decoded cache's arrays from a `SampleTable`, row by row, at the model's size.

Decoded sources are read from a thread pool in chunks of rows (OpenCV releases the GIL
while decoding); synthetic sources hand over whole blocks they drew themselves. Images
are resized with `cv2.INTER_AREA` (`fit_image`, which prediction uses too, so a served
image is resized as training saw it), masks with nearest-neighbour interpolation
(`fit_mask`, never blending two class ids into a third), and a mask whose size differs
from its image fails with its row. When the arrays are memory-mapped (the disk cache),
written rows leave this process's RSS as the fill goes on, so building a cache larger
than RAM does not grow the process. Where the arrays live is `cache`'s business; what a
bad row becomes is `bad_samples`'.
"""

from __future__ import annotations

import logging
import mmap
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np

from ocec_lightning.data.bad_samples import skip_record
from ocec_lightning.data.table import SampleTable
from ocec_lightning.errors import DataError

log = logging.getLogger("ocec_lightning.data")

# Rows per decoding task: large enough to amortise the thread pool's per-task cost,
# small enough that the pool stays busy on small datasets.
_DECODE_CHUNK = 256
# Rows per call of a source's block renderer (synthetic sources fan these out to processes).
_RENDER_CHUNK = 4096
# Written disk-cache rows leave this process's RSS every this many bytes.
_RELEASE_BYTES = 64 << 20


def fill(
    table: SampleTable,
    images: np.ndarray,
    threads: int | None,
    masks: np.ndarray | None = None,
    skip: bool = False,
) -> list[dict[str, Any]]:
    """`decode_into`, logging how many rows it decoded, how long it took and how many failed."""
    start = time.perf_counter()
    skipped = decode_into(table, images, threads, masks, skip=skip)
    seconds = time.perf_counter() - start
    what = "images and masks" if masks is not None else "images"
    bad = f", {len(skipped)} unusable (skipped)" if skipped else ""
    log.info("image cache: decoded %d %s in %.1f s%s", len(images), what, seconds, bad)
    return skipped


def decode_into(
    table: SampleTable,
    out: np.ndarray,
    threads: int | None = None,
    masks: np.ndarray | None = None,
    skip: bool = False,
) -> list[dict[str, Any]]:
    """Fill `out` (N, H, W, 3) with every row of `table`, resized to out's H x W.

    With `masks` (N, H, W) each row's mask is read too, checked to have its image's size
    and resized with nearest-neighbour interpolation. A row failing with DataError raises
    it or, with `skip`, is left as it is (zeros) and returned as a `skip_record`.
    Memory-mapped outputs (the disk cache) leave this process's RSS as rows are written.
    """
    done = _releaser([out] if masks is None else [out, masks])
    if table.render_block is not None:
        _render_into(table, out, masks, done)
        return []  # drawn, never decoded: nothing can be bad

    n, height, width = out.shape[:3]
    refs = table.frame["ref"]

    def decode_chunk(start: int) -> list[dict[str, Any]]:
        bad = []
        for i in range(start, min(n, start + _DECODE_CHUNK)):
            try:
                image = table.read_image(i)
                mask = None if masks is None else _checked_mask(table, i, image)
            except DataError as exc:
                if not skip:
                    raise
                bad.append(skip_record(i, refs.iloc[i], exc))
                continue
            if mask is not None:
                masks[i] = fit_mask(mask, height, width)
            out[i] = fit_image(image, height, width)
        return bad

    workers = threads or min(8, os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=workers)
    skipped: list[dict[str, Any]] = []
    starts = range(0, n, _DECODE_CHUNK)
    try:
        # Consuming the results in order re-raises the first failing chunk's DataError,
        # i.e. the lowest failing row, so the message does not depend on thread timing.
        for start, bad in zip(starts, pool.map(decode_chunk, starts), strict=True):
            skipped += bad
            done(min(n, start + _DECODE_CHUNK))
    finally:
        # After a failure, do not decode the rest of a large dataset before reporting it.
        pool.shutdown(wait=True, cancel_futures=True)
    return skipped


def _render_into(
    table: SampleTable,
    out: np.ndarray,
    masks: np.ndarray | None,
    done: Callable[[int], None],
) -> None:
    """Fill `out` (and `masks`) from the source's block renderer, resizing when needed."""
    n, height, width = out.shape[:3]
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
                out[start + k] = fit_image(images[k], height, width)
                if masks is not None:
                    masks[start + k] = fit_mask(block_masks[k], height, width)
        done(stop)


def _releaser(arrays: list[np.ndarray]) -> Callable[[int], None]:
    """`done(n)` for rows 0..n-1 written: every `_RELEASE_BYTES`, unmaps them from memmapped
    `arrays` (shared mappings: the pages stay in the page cache and reach the file)."""
    maps = [a.base if isinstance(a, np.memmap) else None for a in arrays]
    if not hasattr(mmap, "MADV_DONTNEED") or not all(isinstance(m, mmap.mmap) for m in maps):
        return lambda n: None  # not memmaps (ram mode), or views of one
    sizes = [a[0].nbytes if len(a) else 0 for a in arrays]
    released = 0

    def done(n: int) -> None:
        nonlocal released
        if (n - released) * sum(sizes) >= _RELEASE_BYTES or n == len(arrays[0]):
            for array, mapped, size in zip(arrays, maps, sizes, strict=True):
                base = array.offset % mmap.ALLOCATIONGRANULARITY  # row 0 in the mapping
                begin = (base + released * size) // mmap.PAGESIZE * mmap.PAGESIZE
                end = min(len(mapped), base + n * size)
                mapped.madvise(mmap.MADV_DONTNEED, begin, max(0, end - begin))
            released = n

    return done


def _checked_mask(table: SampleTable, row: int, image: np.ndarray) -> np.ndarray:
    """Row `row`'s mask, or a DataError when it is not 2-D or not the image's size."""
    mask = table.read_mask(row)
    ref = table.frame["ref"].iloc[row]
    if mask.ndim != 2:
        raise DataError(
            f"{ref}: mask has shape {mask.shape}; expected one class id per pixel (H x W)"
        )
    if mask.shape != image.shape[:2]:
        mask_height, mask_width = mask.shape
        image_height, image_width = image.shape[:2]
        raise DataError(
            f"{ref}: mask size {mask_height}x{mask_width} differs from its image size "
            f"{image_height}x{image_width} (HxW); "
            "expected a mask of the same height and width as its image"
        )
    return mask


def fit_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """`mask` at height x width; nearest neighbour keeps only ids of the original."""
    if mask.shape[:2] == (height, width):
        return mask
    return cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)


def fit_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """`image` at height x width, as the cache and prediction resize it."""
    if image.shape[:2] == (height, width):
        return image
    # INTER_AREA averages source pixels when shrinking, which keeps thin eyelid lines.
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
