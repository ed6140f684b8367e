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

Bad samples (`data.on_bad_sample`): with "error" the first image or mask that cannot be
used (unreadable, empty, corrupt, NaN/inf floats, a mask of another size) fails with its
row. With "skip" such rows are recorded instead, {row, ref, reason}, and left zero in the
cache; the cache keeps every row, so row numbers never shift, and the record is stored
next to it (`<fingerprint>_<H>x<W>_skipped.json`, written before the arrays) so that a
later run reusing the cache knows the same rows are bad without decoding them.
`drop_skipped` then takes those rows out of their split.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ocec_lightning.checks import int_pair, one_of
from ocec_lightning.data.masks import count_mask_pixels, warn_unlabelled
from ocec_lightning.data.table import SampleTable
from ocec_lightning.errors import ConfigError, DataError

log = logging.getLogger("ocec_lightning.data")

CACHE_MODES: tuple[str, ...] = ("ram", "disk")
BAD_SAMPLE_MODES: tuple[str, ...] = ("error", "skip")
# Bad rows quoted in the one-line warning about skipped samples (all are in the list).
_SHOWN_SKIPS = 3
# Rows per decoding task: large enough to amortise the thread pool's per-task cost,
# small enough that the pool stays busy on small datasets.
_DECODE_CHUNK = 256
# Rows per call of a source's block renderer (synthetic sources fan these out to processes).
_RENDER_CHUNK = 4096
_RELEASE_BYTES = 64 << 20  # written disk-cache rows leave this process's RSS this often


def cache_path(
    cache_dir: str | Path, fingerprint: str, image_size: tuple[int, int], kind: str = "images"
) -> Path:
    """Where `disk` mode keeps the decoded images (or `kind="masks"`) of one source/size."""
    height, width = image_size
    suffix = "" if kind == "images" else f"_{kind}"
    return Path(cache_dir) / f"{fingerprint}_{height}x{width}{suffix}.npy"


def skipped_path(cache_dir: str | Path, fingerprint: str, image_size: tuple[int, int]) -> Path:
    """Where `disk` mode records the rows skipped as bad while building the cache."""
    return cache_path(cache_dir, fingerprint, image_size, "skipped").with_suffix(".json")


def load_samples(
    table: SampleTable,
    image_size: Sequence[int],
    mode: str = "ram",
    cache_dir: str | Path | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Images uint8 [N, H, W, 3] and, for segmentation tables, masks uint8 [N, H, W].

    Masks are None for classification tables. Decodes only what is not cached. The
    first row that cannot be decoded raises DataError (`data.on_bad_sample=error`).
    """
    images, masks, _ = _load_arrays(table, image_size, mode, cache_dir, threads)
    return images, masks


def load_checked_samples(
    table: SampleTable,
    image_size: Sequence[int],
    mode: str = "ram",
    cache_dir: str | Path | None = None,
    on_bad_sample: str = "error",
    num_classes: int | None = None,
    ignore_index: int = 255,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, list[dict[str, Any]]]:
    """`load_samples` with every sample checked: (images, masks, pixel counts, skipped).

    Segmentation masks are also checked for class ids outside `num_classes` (other than
    `ignore_index`) and counted per class (`masks.count_mask_pixels`, None for
    classification). `skipped` lists the rows set aside with `on_bad_sample="skip"`,
    [{row, ref, reason}] in row order; with "error" the first bad row raises DataError.
    """
    if table.read_mask is not None and num_classes is None:
        raise ValueError("load_checked_samples needs num_classes to check a table's masks")
    images, masks, skipped = _load_arrays(table, image_size, mode, cache_dir, None, on_bad_sample)
    counts = None
    if masks is not None:
        refs = table.frame["ref"].tolist()
        bad_ids = skipped if on_bad_sample == "skip" else None
        counts = count_mask_pixels(masks, refs, num_classes, ignore_index, bad_ids)
        warn_unlabelled(counts, refs, ignore_index, skipped)
    return images, masks, counts, skipped


def _load_arrays(
    table: SampleTable,
    image_size: Sequence[int],
    mode: str,
    cache_dir: str | Path | None,
    threads: int | None,
    on_bad_sample: str = "error",
) -> tuple[np.ndarray, np.ndarray | None, list[dict[str, Any]]]:
    """The cached images and masks, plus the rows skipped while decoding them."""
    height, width = check_image_size(image_size)
    check_cache_mode(mode)
    skip = check_on_bad_sample(on_bad_sample) == "skip"
    with_masks = table.read_mask is not None
    shapes = {"images": (len(table), height, width, 3)}
    if with_masks:
        shapes["masks"] = (len(table), height, width)
    if mode == "ram" or len(table) == 0:
        arrays = {kind: np.zeros(shape, dtype=np.uint8) for kind, shape in shapes.items()}
        skipped = _timed_fill(table, arrays["images"], threads, arrays.get("masks"), skip)
        return arrays["images"], arrays.get("masks"), skipped

    if not cache_dir:
        raise ConfigError("data.cache.dir", cache_dir, "a directory for data.cache.mode=disk")
    paths = {
        kind: cache_path(cache_dir, table.fingerprint, (height, width), kind) for kind in shapes
    }
    paths["skipped"] = skipped_path(cache_dir, table.fingerprint, (height, width))
    cached = {kind: _open_cached(paths[kind], shape) for kind, shape in shapes.items()}
    complete = all(array is not None for array in cached.values())
    skipped = _read_skipped(paths["skipped"]) if complete else None
    if skipped is not None:
        log.info("image cache: reusing %s (%d images, no decoding)", paths["images"], len(table))
        if skipped and not skip:
            # Built by a run that skipped these rows: fail as decoding them would.
            raise DataError(skipped[0]["reason"])
        return cached["images"], cached.get("masks"), skipped

    paths["images"].parent.mkdir(parents=True, exist_ok=True)
    # The pid keeps concurrent writers (DDP ranks, parallel runs) off each other's file;
    # os.replace is atomic, so readers see either no cache or a complete one. The skip
    # record and the masks are renamed first: images present means both are too.
    tmps = {kind: path.with_name(f"{path.name}.tmp-{os.getpid()}") for kind, path in paths.items()}
    try:
        arrays = {
            kind: np.lib.format.open_memmap(tmps[kind], mode="w+", dtype=np.uint8, shape=shape)
            for kind, shape in shapes.items()
        }
        skipped = _timed_fill(table, arrays["images"], threads, arrays.get("masks"), skip)
        for array in arrays.values():
            array.flush()
        del arrays
        tmps["skipped"].write_text(json.dumps(skipped))
        for kind in ("skipped", "masks", "images"):
            if kind in tmps:
                os.replace(tmps[kind], paths[kind])
    except BaseException:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
        raise
    log.info("image cache: wrote %s", paths["images"])
    loaded = {kind: np.load(paths[kind], mmap_mode="r") for kind in shapes}
    return loaded["images"], loaded.get("masks"), skipped


def check_image_size(image_size: Sequence[int]) -> tuple[int, int]:
    """`data.image_size` as (height, width) ints, or a ConfigError."""
    return int_pair("data.image_size", image_size)


def check_cache_mode(mode: str) -> str:
    """`data.cache.mode` is one of CACHE_MODES, or a ConfigError."""
    return one_of("data.cache.mode", mode, CACHE_MODES)


def check_on_bad_sample(value: str) -> str:
    """`data.on_bad_sample` is one of BAD_SAMPLE_MODES, or a ConfigError."""
    return one_of("data.on_bad_sample", value, BAD_SAMPLE_MODES)


def drop_skipped(splits: np.ndarray, skipped: Sequence[dict[str, Any]]) -> np.ndarray:
    """`splits` (one split name per row) with the skipped rows in no split (None).

    Splits are assigned from the metadata before decoding, so a skipped row simply leaves
    its split and no other row moves. Logs one warning line with the count and the first
    rows; raises DataError when no row is left.
    """
    if not skipped:
        return splits
    rows = sorted({int(s["row"]) for s in skipped})
    if len(rows) >= len(splits):
        raise DataError(
            f"all {len(splits)} samples are unusable, e.g. {skipped[0]['reason']}; "
            "data.on_bad_sample=skip drops bad samples but needs some good ones: fix the data"
        )
    kept = np.asarray(splits, dtype=object).copy()
    kept[rows] = None
    shown = "; ".join(s["reason"] for s in skipped[:_SHOWN_SKIPS])
    more = f"; and {len(skipped) - _SHOWN_SKIPS} more" if len(skipped) > _SHOWN_SKIPS else ""
    log.warning(
        "data.on_bad_sample=skip: skipped %d of %d samples (all listed in the datamodule's "
        "skipped_samples): %s%s",
        len(rows),
        len(splits),
        shown,
        more,
    )
    return kept


def _read_skipped(path: Path) -> list[dict[str, Any]] | None:
    """The skip record of a complete cache, or None when it is unreadable (rebuild).

    No record means no row was skipped: it is renamed into place before the arrays, and
    caches written before records existed were only complete when every row decoded.
    """
    if not path.is_file():
        return []
    try:
        return [
            {"row": int(s["row"]), "ref": str(s["ref"]), "reason": str(s["reason"])}
            for s in json.loads(path.read_text())
        ]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("image cache: ignoring unreadable %s (%s); rebuilding", path, exc)
        return None


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
    table: SampleTable,
    out: np.ndarray,
    threads: int | None,
    masks: np.ndarray | None = None,
    skip: bool = False,
) -> list[dict[str, Any]]:
    start = time.perf_counter()
    skipped = _decode_into(table, out, threads, masks, skip=skip)
    seconds = time.perf_counter() - start
    what = "images and masks" if masks is not None else "images"
    bad = f", {len(skipped)} unusable (skipped)" if skipped else ""
    log.info("image cache: decoded %d %s in %.1f s%s", len(out), what, seconds, bad)
    return skipped


def _decode_into(
    table: SampleTable,
    out: np.ndarray,
    threads: int | None = None,
    masks: np.ndarray | None = None,
    skip: bool = False,
) -> list[dict[str, Any]]:
    """Fill `out` (N, H, W, 3) with every row of `table`, resized to out's H x W.

    With `masks` (N, H, W) each row's mask is read too, checked to have its image's size
    and resized with nearest-neighbour interpolation. A row failing with DataError raises
    it or, with `skip`, is left as it is (zeros) and returned as {row, ref, reason}.
    Memory-mapped outputs (the disk cache) leave this process's RSS as rows are written.
    """
    done = _releaser([out] if masks is None else [out, masks])
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
            done(stop)
        return []  # drawn, never decoded: nothing can be bad

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
                bad.append({"row": i, "ref": str(refs.iloc[i]), "reason": str(exc)})
                continue
            if mask is not None:
                masks[i] = _fit_mask(mask, height, width)
            out[i] = _fit(image, height, width)
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


def _releaser(arrays: list[np.ndarray]) -> Callable[[int], None]:
    """`done(n)` for rows 0..n-1 written: every `_RELEASE_BYTES`, unmaps them from memmapped
    `arrays` (shared mappings: the pages stay in the page cache and reach the file)."""
    maps = [a.base if isinstance(a, np.memmap) else None for a in arrays]
    if not hasattr(mmap, "MADV_DONTNEED") or not all(isinstance(m, mmap.mmap) for m in maps):
        return lambda n: None  # not memmaps (ram mode), or views of one
    sizes, released = [a[0].nbytes if len(a) else 0 for a in arrays], 0

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
