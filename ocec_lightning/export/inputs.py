"""The crops `ocec-predict` reads: an image folder, a parquet file/shard folder or a CSV.

No labels are needed. A folder is searched recursively for PNG/JPEG/BMP files (a
segmentation layout `root/images` + `root/masks` reads `images/` only); a parquet file
(or a folder of `*.parquet` shards) uses its `image_bytes` and/or `image_path` columns;
a CSV its `path` (or `image`) column, relative to the CSV's folder. Each input is a
(ref, reader) pair; readers decode to HxWx3 uint8 RGB or raise a DataError naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ocec_lightning.data.sources.folder import is_segmentation_folder
from ocec_lightning.data.sources.parquet import parquet_shards
from ocec_lightning.data.table import IMAGE_SUFFIXES, decode_image_bytes, read_image_file
from ocec_lightning.errors import DataError

Reader = Callable[[], np.ndarray]


def _file_reader(path: Path, ref: str) -> Reader:
    return lambda: read_image_file(path, ref)


def _folder(root: Path) -> list[tuple[str, Reader]]:
    base = root / "images" if is_segmentation_folder(root) else root
    files = sorted(
        p
        for p in base.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and "masks" not in p.relative_to(base).parts[:-1]
    )
    if not files and any(root.glob("*.parquet")):
        return _parquet(root)
    return [(str(p), _file_reader(p, str(p))) for p in files]


def _parquet(path: Path) -> list[tuple[str, Reader]]:
    out: list[tuple[str, Reader]] = []
    for shard in parquet_shards(path):
        try:
            names = pq.read_schema(shard).names
            columns = [c for c in ("image_bytes", "image_path") if c in names]
            if not columns:
                raise DataError(
                    f"{shard}: no image_bytes or image_path column; columns found: {names}"
                )
            table = pq.read_table(shard, columns=columns).to_pandas()
        except DataError:
            raise
        except Exception as err:  # pyarrow raises several types for non-parquet files
            raise DataError(f"{shard}: not a readable parquet file ({err})") from None
        for row in range(len(table)):
            rel = table["image_path"].iloc[row] if "image_path" in table else None
            has_rel = isinstance(rel, str) and rel != ""
            ref = str(shard.parent / rel) if has_rel else f"{shard}[{row}]"
            data = table["image_bytes"].iloc[row] if "image_bytes" in table else None
            if data is not None:
                out.append((ref, (lambda d=bytes(data), r=ref: decode_image_bytes(d, r))))
            elif has_rel:
                out.append((ref, _file_reader(shard.parent / rel, ref)))
            else:
                raise DataError(f"{shard}[{row}]: has neither image_bytes nor image_path")
    return out


def _csv(path: Path) -> list[tuple[str, Reader]]:
    try:
        table = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except Exception as err:
        raise DataError(f"{path}: not a readable CSV ({str(err).splitlines()[0]})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    column = next((c for c in ("path", "image") if c in table), None)
    if column is None:
        raise DataError(f"{path}: no 'path' (or 'image') column; columns: {list(table.columns)}")
    out = []
    for rel in table[column].dropna():
        file = Path(rel) if Path(rel).is_absolute() else path.parent / rel
        out.append((str(file), _file_reader(file, str(file))))
    return out


def read_inputs(path: str | Path) -> list[tuple[str, Reader]]:
    """(ref, reader) per image; a DataError for a missing path or no images."""
    source = Path(path)
    if not source.exists():
        raise DataError(f"input: {source} does not exist; expected a folder, .parquet or .csv")
    if source.is_dir():
        items = _folder(source)
    elif source.suffix.lower() == ".parquet":
        items = _parquet(source)
    elif source.suffix.lower() == ".csv":
        items = _csv(source)
    elif source.suffix.lower() in IMAGE_SUFFIXES:
        items = [(str(source), _file_reader(source, str(source)))]
    else:
        raise DataError(f"input: {source} is not a folder, .parquet, .csv or image file")
    if not items:
        raise DataError(f"input: {source} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return items
