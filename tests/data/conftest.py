"""Fixtures for the data tests: tiny image datasets written into tmp_path.

Images are 8x16 solid colours whose value encodes the sample (red channel = index), so
a test can tell which row an image came from after decoding and caching. Segmentation
masks are 8x16 too: left half `index % 4`, right half 10 (hair). The helpers are handed
out by the `helpers` and `seg` fixtures (importing from a conftest is fragile when
several test folders have one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest

from ocec_lightning.data.datamodule import OCECDataModule
from ocec_lightning.data.table import default_class_names


def sample_image(index: int, height: int = 8, width: int = 16) -> np.ndarray:
    """RGB image identifying `index`: red = index % 256, green = index // 256, blue 7."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[..., 0] = index % 256
    image[..., 1] = index // 256
    image[..., 2] = 7
    return image


def png_bytes(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return buffer.tobytes()


def write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(image))
    return path


def save_parquet(columns: dict[str, object], target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(columns).to_parquet(target, index=False)
    return target


def alternating(n: int) -> list[str]:
    """closed, open, closed, open, ... (n labels)."""
    return ["open" if i % 2 else "closed" for i in range(n)]


@pytest.fixture()
def helpers() -> SimpleNamespace:
    """sample_image, png_bytes, write_png and alternating, for use inside tests."""
    return SimpleNamespace(
        sample_image=sample_image, png_bytes=png_bytes, write_png=write_png, alternating=alternating
    )


@pytest.fixture()
def write_parquet(tmp_path: Path) -> Callable[..., Path]:
    """write_parquet(labels, name=..., with_bytes=..., splits=..., extra=...) -> parquet path.

    Images are written as PNG files under tmp_path/images (always, so image_path works)
    and embedded as image_bytes when `with_bytes`.
    """

    def _write(
        labels: Sequence[object],
        name: str = "data.parquet",
        with_bytes: bool = True,
        splits: Sequence[object] | None = None,
        start: int = 0,
        **extra: Sequence[object],
    ) -> Path:
        n = len(labels)
        paths = [f"images/{start + i:05d}.png" for i in range(n)]
        for i, rel in enumerate(paths):
            write_png(tmp_path / rel, sample_image(start + i))
        columns: dict[str, object] = {
            "label": list(labels),
            "image_path": paths,
            "source": ["test"] * n,
        }
        if splits is not None:
            columns["split"] = list(splits)
        if with_bytes:
            columns["image_bytes"] = [png_bytes(sample_image(start + i)) for i in range(n)]
        columns.update(extra)
        return save_parquet(columns, tmp_path / name)

    return _write


@pytest.fixture()
def make_dm(tmp_path: Path) -> Callable[..., OCECDataModule]:
    """OCECDataModule around a source with small, fast defaults and a cache (`cache_mode`,
    ram by default) under tmp_path."""

    def _make(source: object, cache_mode: str = "ram", **kwargs: object) -> OCECDataModule:
        settings: dict[str, object] = {
            "image_size": (8, 16),
            "batch_size": 8,
            "num_workers": 0,
            "cache": {"mode": cache_mode, "dir": tmp_path / "cache"},
            "class_names": ["closed", "open"],
            "seed": 0,
        }
        settings.update(kwargs)
        return OCECDataModule(source, **settings)

    return _make


# ------------------------------------------------------------------ segmentation
# The 11 face classes of the segmentation task config (conf/task/segmentation.yaml);
# tests/synthetic/test_faces.py checks the face generator draws the same ids.
FACE_NAMES = default_class_names("segmentation")


def sample_mask(index: int, height: int = 8, width: int = 16) -> np.ndarray:
    """Class ids identifying `index`: left half `index % 4`, right half 10 (hair)."""
    mask = np.full((height, width), 10, dtype=np.uint8)
    mask[:, : width // 2] = index % 4
    return mask


def mask_png(mask: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", mask)
    assert ok
    return buffer.tobytes()


@pytest.fixture()
def write_seg_parquet(tmp_path: Path) -> Callable[..., Path]:
    """write_seg_parquet(n | masks=..., with_bytes=..., splits=..., **extra) -> parquet path.

    Images (`sample_image`) and masks (`sample_mask` unless given) are written as PNG
    files under tmp_path/images and tmp_path/masks (so the path columns work) and
    embedded as image_bytes / mask_bytes when `with_bytes`.
    """

    def _write(
        n: int | None = None,
        masks: Sequence[np.ndarray] | None = None,
        name: str = "seg.parquet",
        with_bytes: bool = True,
        splits: Sequence[object] | None = None,
        **extra: Sequence[object],
    ) -> Path:
        if masks is None:
            masks = [sample_mask(i) for i in range(int(n or 0))]
        images = [sample_image(i, *masks[i].shape[:2]) for i in range(len(masks))]
        columns: dict[str, object] = {
            "image_path": [f"images/{i:05d}.png" for i in range(len(masks))],
            "mask_path": [f"masks/{i:05d}.png" for i in range(len(masks))],
            "source": [f"subject_{i // 2}" for i in range(len(masks))],
        }
        for i, mask in enumerate(masks):
            write_png(tmp_path / columns["image_path"][i], images[i])
            (tmp_path / columns["mask_path"][i]).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / columns["mask_path"][i]).write_bytes(mask_png(mask))
        if splits is not None:
            columns["split"] = list(splits)
        if with_bytes:
            columns["image_bytes"] = [png_bytes(image) for image in images]
            columns["mask_bytes"] = [mask_png(mask) for mask in masks]
        columns.update(extra)
        return save_parquet(columns, tmp_path / name)

    return _write


@pytest.fixture()
def make_seg_dm(make_dm: Callable[..., OCECDataModule]) -> Callable[..., OCECDataModule]:
    """A segmentation OCECDataModule (11 face classes): `make_dm` with batch size 4."""

    def _make(source: object, **kwargs: object) -> OCECDataModule:
        settings: dict[str, object] = {
            "batch_size": 4,
            "class_names": FACE_NAMES,
            "task": "segmentation",
            "num_classes": 11,
            "ignore_index": 255,
        }
        settings.update(kwargs)
        return make_dm(source, **settings)

    return _make


@pytest.fixture()
def seg() -> SimpleNamespace:
    """Segmentation helpers: sample_mask, mask_png and the 11 face class names."""
    return SimpleNamespace(sample_mask=sample_mask, mask_png=mask_png, names=list(FACE_NAMES))
