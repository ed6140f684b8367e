"""The decoded-sample store: every image decoded once into one uint8 array [N, H, W, 3].

Upstream OCEC's fork got its biggest speed-up from decoding all crops into RAM up front;
this module does the same for every source, in the main process, so a corrupt or missing
image fails during `setup()` with its row instead of inside a DataLoader worker. It
decides where the arrays live and when a stored copy can be reused; `cache_fill` fills
them, `bad_samples` decides what an unusable row becomes.

Two modes:
- `ram`: a plain numpy array; DataLoader workers started by fork share its pages.
- `disk`: a `.npy` file opened as a read-only memmap under the cache dir, named by the
  source fingerprint and the image size. It is written to a temporary name and renamed
  into place only when complete, so an interrupted run never leaves a half-written cache,
  and the next run with the same data maps it without decoding anything. Workers and
  DDP ranks on one machine share it through the page cache.

Segmentation tables also get a mask array, uint8 [N, H, W] of class ids, filled in the
same pass as the images and stored next to them as `<fingerprint>_<H>x<W>_masks.npy`;
the pair is reused only when both files are complete. With `data.on_bad_sample=skip` the
rows set aside while filling are recorded as `<fingerprint>_<H>x<W>_skipped.json`,
written before the arrays, so that a later run reusing the cache knows the same rows are
bad without decoding them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ocec_lightning.checks import int_pair, one_of
from ocec_lightning.data import cache_fill
from ocec_lightning.data.bad_samples import check_on_bad_sample, skip_record
from ocec_lightning.data.masks import count_mask_pixels, warn_unlabelled
from ocec_lightning.data.table import SampleTable
from ocec_lightning.errors import ConfigError, DataError

log = logging.getLogger("ocec_lightning.data")

CACHE_MODES: tuple[str, ...] = ("ram", "disk")


def check_image_size(image_size: Sequence[int]) -> tuple[int, int]:
    """`data.image_size` as (height, width) ints, or a ConfigError."""
    return int_pair("data.image_size", image_size)


def check_cache_mode(mode: str) -> str:
    """`data.cache.mode` is one of CACHE_MODES, or a ConfigError."""
    return one_of("data.cache.mode", mode, CACHE_MODES)


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
    shapes = {"images": (len(table), height, width, 3)}
    if table.read_mask is not None:
        shapes["masks"] = (len(table), height, width)
    if mode == "ram" or len(table) == 0:
        arrays = {kind: np.zeros(shape, dtype=np.uint8) for kind, shape in shapes.items()}
        skipped = cache_fill.fill(table, arrays["images"], threads, arrays.get("masks"), skip)
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

    skipped = _write_cache(table, shapes, paths, threads, skip)
    log.info("image cache: wrote %s", paths["images"])
    loaded = {kind: np.load(paths[kind], mmap_mode="r") for kind in shapes}
    return loaded["images"], loaded.get("masks"), skipped


def _write_cache(
    table: SampleTable,
    shapes: dict[str, tuple[int, ...]],
    paths: dict[str, Path],
    threads: int | None,
    skip: bool,
) -> list[dict[str, Any]]:
    """Fill the arrays of `shapes` into temporary files, then rename them to `paths`."""
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
        skipped = cache_fill.fill(table, arrays["images"], threads, arrays.get("masks"), skip)
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
    return skipped


def _read_skipped(path: Path) -> list[dict[str, Any]] | None:
    """The skip record of a complete cache, or None when it is unreadable (rebuild).

    No record means no row was skipped: it is renamed into place before the arrays, and
    caches written before records existed were only complete when every row decoded.
    """
    if not path.is_file():
        return []
    try:
        return [skip_record(s["row"], s["ref"], s["reason"]) for s in json.loads(path.read_text())]
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
