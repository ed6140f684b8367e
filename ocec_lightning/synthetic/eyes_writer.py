"""Write synthetic eye crops as an OCEC dataset: parquet index plus PNG images.

The parquet follows the upstream OCEC schema exactly: ``split`` ("train"/"val"/"test"),
``label`` ("open"/"closed"), ``class_id`` (0 closed, 1 open), ``image_path`` (POSIX,
relative to the parquet's folder) and ``source`` ("synthetic/subject_00042", the group
key), plus ``image_bytes`` (PNG) when the images are embedded. Without embedded bytes the
PNGs are written under the parquet's folder at ``image_path``. Splits are assigned per
subject, so no synthetic person appears in two splits, and depend only on the seed and
the subject count. ``out`` ending in ``.parquet`` gives one file; anything else is a
directory of ``part-NNNNN.parquet`` shards holding contiguous index ranges.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ocec_lightning.checks import int_at_least
from ocec_lightning.errors import ConfigError
from ocec_lightning.synthetic.common import assign_subject_splits, subject_count, subject_sources
from ocec_lightning.synthetic.eyes import check_eye_args, generate_eyes

OCEC_COLUMNS = ["split", "label", "class_id", "image_path", "source"]
# Fixed by the generator's defaults: the writer exposes no knob for them so the written
# "source" groups always match the generator's subjects.
SAMPLES_PER_SUBJECT = 25
THRESHOLD = 0.5
# Salt separating the split-assignment stream from the generator's streams.
_SPLIT_SALT = 2_000_003
_PART_RE = re.compile(r"part-(\d{5})\.parquet")


def subject_splits(n_subjects: int, seed: int, ratios: tuple[float, float, float]) -> np.ndarray:
    """Split name for each subject ``0..n_subjects-1``, deterministic from ``seed``
    (see ``common.assign_subject_splits``, which checks ``ratios``)."""
    return assign_subject_splits(n_subjects, seed, ratios, _SPLIT_SALT)


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    # Level 1: these crops are tiny and noisy, so higher levels barely shrink them.
    Image.fromarray(img).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _validate(out: Path, n: int, shards: int, generator_args: dict) -> bool:
    """Check the arguments but ``ratios`` (checked when the splits are drawn, before
    anything is written); returns True when ``out`` is a single parquet file."""
    int_at_least("n", n, 1)
    int_at_least("shards", shards, 1)
    check_eye_args(**generator_args)
    if shards > n:
        raise ConfigError("shards", shards, f"at most n = {n} so no shard is empty")
    single = out.suffix == ".parquet"
    if single and shards != 1:
        raise ConfigError(
            "shards", shards, "1 when out is a single .parquet file; pass a directory to shard"
        )
    if single and out.is_dir():
        raise ConfigError("out", str(out), "a .parquet file path, but a directory exists there")
    if not single and out.exists() and not out.is_dir():
        raise ConfigError("out", str(out), "a directory or a path ending in .parquet")
    return single


def write_synthetic_eyes(
    out: str | Path,
    n: int,
    seed: int = 42,
    *,
    height: int = 32,
    width: int = 64,
    with_bytes: bool = True,
    shards: int = 1,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    open_ratio: float = 0.532,
    workers: int = 1,
) -> pd.DataFrame:
    """Generate crops ``0..n-1`` of stream ``seed`` and write them as an OCEC dataset.

    Returns the index frame written, with the ``OCEC_COLUMNS`` only: the
    ``image_bytes`` column (when ``with_bytes``) is left out to save memory. Existing
    files are overwritten; stale ``part-NNNNN.parquet`` shards beyond ``shards`` in the
    output directory are removed so a directory read never mixes two runs.
    """
    out = Path(out)
    generator_args = {
        "seed": seed,
        "height": height,
        "width": width,
        "open_ratio": open_ratio,
        "threshold": THRESHOLD,
        "samples_per_subject": SAMPLES_PER_SUBJECT,
        "workers": workers,
    }
    single = _validate(out, n, shards, generator_args)
    split_of = subject_splits(subject_count(n, SAMPLES_PER_SUBJECT), seed, ratios)
    root = out.parent if single else out
    root.mkdir(parents=True, exist_ok=True)

    frames = []
    # Generate shard by shard so memory stays bounded by one shard's images.
    for shard, idx in enumerate(np.array_split(np.arange(n), shards)):
        start = int(idx[0])
        count = len(idx)
        batch = generate_eyes(count, start=start, **generator_args)
        splits = split_of[batch.subjects]
        labels = np.where(batch.labels == 1, "open", "closed")
        rows = zip(splits, labels, idx, strict=True)
        paths = [f"images/{s}/{lab}/{i:06d}.png" for s, lab, i in rows]
        values = (
            pd.Series(splits, dtype=object),
            pd.Series(labels, dtype=object),
            batch.labels.astype(np.int64),
            paths,
            subject_sources(batch.subjects),
        )
        frame = pd.DataFrame(dict(zip(OCEC_COLUMNS, values, strict=True)))
        pngs = [_png(img) for img in batch.images]
        if with_bytes:
            table = frame.assign(image_bytes=pd.Series(pngs, dtype=object))
        else:
            table = frame
            for rel, data in zip(paths, pngs, strict=True):
                dest = root / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
        target = out if single else root / f"part-{shard:05d}.parquet"
        table.to_parquet(target, index=False)
        frames.append(frame)

    if not single:
        for stale in root.glob("part-*.parquet"):
            match = _PART_RE.fullmatch(stale.name)
            if match and int(match.group(1)) >= shards:
                stale.unlink()
    return pd.concat(frames, ignore_index=True)
