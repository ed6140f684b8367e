"""Write synthetic face-parsing scenes as a segmentation dataset: PNG folders + parquet.

Layout under ``out``::

    images/<stem>.png    RGB image
    masks/<stem>.png     single-channel uint8 class ids (FACE_CLASSES), same stem
    faces.parquet        split, image_path, mask_path, source, image_bytes, mask_bytes

``<stem>`` is the zero-padded scene index (``000042``). ``image_path`` / ``mask_path`` are
POSIX paths relative to ``out``; ``source`` is the subject group key
(``synthetic/subject_00042``); the ``*_bytes`` columns hold the same PNG bytes as the
files, so the parquet alone is a complete dataset and ``out`` also works as a ``folder``
source (``images/`` + ``masks/`` paired by stem). Splits are assigned per subject (all
``SAMPLES_PER_SUBJECT`` scenes of one synthetic person share a split) and depend only on
the seed, the subject count and the ratios.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from ocec_lightning.checks import int_at_least
from ocec_lightning.errors import ConfigError
from ocec_lightning.synthetic.common import assign_subject_splits, subject_count, subject_sources
from ocec_lightning.synthetic.faces import check_face_args, generate_faces

FACES_COLUMNS = ["split", "image_path", "mask_path", "source"]
BYTES_COLUMNS = ["image_bytes", "mask_bytes"]
PARQUET_NAME = "faces.parquet"
# Fixed to the generator's default so the written "source" groups match its subjects.
SAMPLES_PER_SUBJECT = 10
# Scenes generated (and held in memory) at a time.
CHUNK = 512
# Salt separating the split-assignment stream from the generator's streams.
_SPLIT_SALT = 2_000_029
_STEM_RE = re.compile(r"\d{6,}\.png")


def face_subject_splits(
    n_subjects: int, seed: int, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
) -> np.ndarray:
    """Split name (object array) of each subject ``0..n_subjects-1``, deterministic from
    ``seed`` (see ``common.assign_subject_splits``, which checks ``ratios``)."""
    return assign_subject_splits(n_subjects, int(seed), ratios, _SPLIT_SALT)


def _png(array: np.ndarray) -> bytes:
    """Lossless PNG of an RGB ``[H, W, 3]`` or single-channel ``[H, W]`` uint8 array."""
    data = array[..., ::-1] if array.ndim == 3 else array  # OpenCV expects BGR
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(data), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - encoding a valid uint8 array does not fail
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def _validate(out: Path, n: int, generator_args: dict) -> None:
    """Check the arguments but ``ratios`` (checked when the splits are drawn, before
    anything is written)."""
    int_at_least("n", n, 1)
    check_face_args(**generator_args)
    if out.exists() and not out.is_dir():
        raise ConfigError("out", str(out), "a directory (an existing file is in the way)")


def write_synthetic_faces(
    out: str | Path,
    n: int,
    seed: int = 42,
    *,
    height: int = 128,
    width: int = 128,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    workers: int = 1,
) -> pd.DataFrame:
    """Generate scenes ``0..n-1`` of stream ``seed`` and write them under ``out``.

    Returns the index frame (``FACES_COLUMNS``, without the bytes columns). Existing
    files are overwritten; stale ``<digits>.png`` files from an earlier, larger run are
    removed from ``images/`` and ``masks/`` so the folders always match the parquet. The
    parquet is written to a temporary name and renamed, so a reader never sees half a file.
    """
    out = Path(out)
    generator_args = {
        "seed": seed,
        "height": height,
        "width": width,
        "samples_per_subject": SAMPLES_PER_SUBJECT,
        "workers": workers,
    }
    _validate(out, n, generator_args)
    n = int(n)
    split_of = face_subject_splits(subject_count(n, SAMPLES_PER_SUBJECT), seed, ratios)
    image_dir, mask_dir = out / "images", out / "masks"
    image_dir.mkdir(parents=True, exist_ok=True)
    mask_dir.mkdir(parents=True, exist_ok=True)

    stems = [f"{i:06d}" for i in range(n)]
    image_bytes: list[bytes] = []
    mask_bytes: list[bytes] = []
    subjects = np.empty(n, dtype=np.int64)
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        batch = generate_faces(count, start=start, **generator_args)
        subjects[start : start + count] = batch.subjects
        for k in range(count):
            stem = stems[start + k]
            img_png, mask_png = _png(batch.images[k]), _png(batch.masks[k])
            (image_dir / f"{stem}.png").write_bytes(img_png)
            (mask_dir / f"{stem}.png").write_bytes(mask_png)
            image_bytes.append(img_png)
            mask_bytes.append(mask_png)

    keep = {f"{stem}.png" for stem in stems}
    for folder in (image_dir, mask_dir):
        for path in folder.iterdir():
            if _STEM_RE.fullmatch(path.name) and path.name not in keep:
                path.unlink()

    values = (
        pd.Series(split_of[subjects], dtype=object),
        [f"images/{stem}.png" for stem in stems],
        [f"masks/{stem}.png" for stem in stems],
        subject_sources(subjects),
    )
    frame = pd.DataFrame(dict(zip(FACES_COLUMNS, values, strict=True)))
    blobs = (pd.Series(image_bytes, dtype=object), pd.Series(mask_bytes, dtype=object))
    table = frame.assign(**dict(zip(BYTES_COLUMNS, blobs, strict=True)))
    target = out / PARQUET_NAME
    tmp = out / f".{PARQUET_NAME}.tmp"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, target)
    return frame
