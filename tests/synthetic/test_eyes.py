"""Tests for the procedural synthetic eye generator and its OCEC parquet writer."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ocec_lightning.errors import ConfigError
from ocec_lightning.synthetic.eyes import (
    BORDERLINE_FRACTION,
    SyntheticEyes,
    borderline_margin,
    generate_eyes,
    render_eye,
    subject_traits,
)
from ocec_lightning.synthetic.eyes_render import draw_eye
from ocec_lightning.synthetic.eyes_writer import (
    OCEC_COLUMNS,
    subject_splits,
    write_synthetic_eyes,
)


@pytest.fixture(scope="module")
def batch() -> SyntheticEyes:
    """2000 default crops, shared by the distribution tests (about 2 s to render)."""
    return generate_eyes(2000, seed=11)


# ----------------------------------------------------------------------------- generator


def test_render_is_deterministic_per_seed_and_index() -> None:
    a, oa, sa = render_eye(7, 123)
    b, ob, sb = render_eye(7, 123)
    assert a.tobytes() == b.tobytes() and oa == ob and sa == sb
    c, _, _ = render_eye(8, 123)
    d, _, _ = render_eye(7, 124)
    assert a.tobytes() != c.tobytes() and a.tobytes() != d.tobytes()


def test_crop_independent_of_start_order_and_batch() -> None:
    full = generate_eyes(40, seed=3)
    tail = generate_eyes(10, seed=3, start=30)
    np.testing.assert_array_equal(full.images[30:], tail.images)
    np.testing.assert_array_equal(full.openness[30:], tail.openness)
    # Rendering other crops first (in reverse) must not change crop 5.
    for i in reversed(range(10)):
        render_eye(3, i)
    img, openness, subject = render_eye(3, 5)
    np.testing.assert_array_equal(full.images[5], img)
    assert full.openness[5] == np.float32(openness) and full.subjects[5] == subject


def test_workers_give_identical_output() -> None:
    one = generate_eyes(200, seed=5, start=17)
    two = generate_eyes(200, seed=5, start=17, workers=2)
    for field in ("images", "labels", "openness", "subjects"):
        np.testing.assert_array_equal(getattr(one, field), getattr(two, field))


def test_shapes_and_dtypes() -> None:
    b = generate_eyes(6, seed=1, height=24, width=40)
    assert b.images.shape == (6, 24, 40, 3) and b.images.dtype == np.uint8
    assert b.labels.shape == (6,) and b.labels.dtype == np.int64
    assert b.openness.dtype == np.float32 and b.subjects.dtype == np.int64
    img, openness, subject = render_eye(1, 0)
    assert img.shape == (32, 64, 3) and img.dtype == np.uint8
    assert isinstance(openness, float) and isinstance(subject, int)
    assert generate_eyes(0, seed=1).images.shape == (0, 32, 64, 3)


def test_label_is_openness_above_threshold(batch: SyntheticEyes) -> None:
    np.testing.assert_array_equal(batch.labels, (batch.openness > 0.5).astype(np.int64))
    assert batch.openness.min() >= 0.0 and batch.openness.max() <= 1.0
    low = generate_eyes(300, seed=2, threshold=0.3)
    np.testing.assert_array_equal(low.labels, (low.openness > 0.3).astype(np.int64))


def test_open_fraction_follows_open_ratio(batch: SyntheticEyes) -> None:
    assert abs(batch.labels.mean() - 0.532) <= 0.03
    skewed = generate_eyes(400, seed=4, open_ratio=0.2)
    assert abs(skewed.labels.mean() - 0.2) <= 0.06


def test_borderline_fraction_in_band(batch: SyntheticEyes) -> None:
    near = np.abs(batch.openness - 0.5) < borderline_margin(0.5)
    assert 0.07 <= near.mean() <= 0.13
    assert abs(BORDERLINE_FRACTION - 0.10) <= 0.02
    # The rest are clearly open or clearly closed, with many fully shut eyes.
    assert (batch.openness[~near] < 0.2).mean() > 0.3


def test_subjects_group_consecutive_indices() -> None:
    b = generate_eyes(60, seed=9, start=40, samples_per_subject=10)
    np.testing.assert_array_equal(b.subjects, np.arange(40, 100) // 10)
    assert render_eye(9, 49, samples_per_subject=10)[2] == 4
    # Subject traits depend on (seed, subject) only.
    assert subject_traits(9, 4) == subject_traits(9, 4)
    assert subject_traits(9, 4) != subject_traits(9, 5)
    assert subject_traits(9, 4) != subject_traits(10, 4)


def test_same_subject_crops_share_skin_tone() -> None:
    # Border pixels are mostly skin: within-subject spread of their median colour must be
    # clearly smaller than the spread across subjects (what makes group splits matter).
    b = generate_eyes(400, seed=21, samples_per_subject=20)
    rgb = b.images.astype(np.float32)
    border = np.concatenate(
        [rgb[:, :3].reshape(len(rgb), -1, 3), rgb[:, -3:].reshape(len(rgb), -1, 3)], axis=1
    )
    tone = np.median(border, axis=1)
    keep = ~np.isclose(tone[:, 0], tone[:, 2], atol=2)  # IR crops are grey: no skin tone
    # Blue/red ratio: skin tone that survives the per-crop brightness changes.
    colour = (tone[:, 2] / np.maximum(tone[:, 0], 1.0))[keep]
    subj = b.subjects[keep]
    within = np.mean([colour[subj == s].std() for s in np.unique(subj)])
    assert within < 0.6 * colour.std()


def test_open_and_closed_crops_differ_in_central_contrast(batch: SyntheticEyes) -> None:
    grey = batch.images.astype(np.float32).mean(axis=3)
    centre = grey[:, 8:28, 16:48]
    contrast = centre.std(axis=(1, 2))
    hgrad = np.abs(np.diff(centre, axis=2)).mean(axis=(1, 2))
    is_open = batch.labels == 1
    assert contrast[is_open].mean() > 1.4 * contrast[~is_open].mean()
    assert hgrad[is_open].mean() > 1.6 * hgrad[~is_open].mean()


def test_closed_eye_hides_the_iris() -> None:
    # A vivid blue iris is easy to count; closed lids must hide every blue pixel.
    t = dataclasses.replace(subject_traits(0, 0), iris=(30.0, 80.0, 250.0), glasses=False)
    opened = []
    for k in range(8):
        closed = draw_eye(np.random.default_rng([99, k]), t, 0.0, 32, 64).astype(int)
        wide = draw_eye(np.random.default_rng([99, k]), t, 1.0, 32, 64).astype(int)
        assert ((closed[..., 2] - closed[..., 0]) > 60).sum() == 0
        opened.append(((wide[..., 2] - wide[..., 0]) > 60).sum())
    # Crops drawn as IR greyscale show no blue either, so require most, not all.
    assert sum(n > 20 for n in opened) >= 4


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"seed": -1}, "seed"),
        ({"index": -3}, "index"),
        ({"threshold": 1.0}, "threshold"),
        ({"open_ratio": 1.5}, "open_ratio"),
        ({"height": 4}, "height"),
        ({"samples_per_subject": 0}, "samples_per_subject"),
    ],
)
def test_render_rejects_bad_arguments(kwargs: dict, key: str) -> None:
    args = {"seed": 0, "index": 0, **kwargs}
    with pytest.raises(ConfigError, match=key):
        render_eye(**args)


# -------------------------------------------------------------------------------- writer


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_writer_single_file_schema_and_bytes(tmp_path) -> None:
    out = tmp_path / "eyes.parquet"
    frame = write_synthetic_eyes(out, 120, seed=3, height=24, width=48)
    assert list(frame.columns) == OCEC_COLUMNS
    table = pd.read_parquet(out)
    assert list(table.columns) == [*OCEC_COLUMNS, "image_bytes"]
    assert len(table) == 120
    assert set(table["split"]) <= {"train", "val", "test"}
    assert (table["class_id"] == (table["label"] == "open").astype(int)).all()
    assert pd.api.types.is_integer_dtype(table["class_id"])
    assert table["source"].str.fullmatch(r"synthetic/subject_\d{5}").all()
    rows = zip(table["split"], table["label"], table["image_path"], strict=True)
    for split, label, path in rows:
        assert path.startswith(f"images/{split}/{label}/") and path.endswith(".png")
    # PNG is lossless: the bytes decode back to exactly the generator's crops.
    ref = generate_eyes(120, seed=3, height=24, width=48)
    for i in (0, 57, 119):
        img = _decode(table["image_bytes"][i])
        assert img.shape == (24, 48, 3)
        np.testing.assert_array_equal(img, ref.images[i])
    np.testing.assert_array_equal(table["class_id"].to_numpy(), ref.labels)


def test_writer_keeps_each_subject_in_one_split(tmp_path) -> None:
    frame = write_synthetic_eyes(tmp_path / "s.parquet", 300, seed=8)
    assert (frame.groupby("source")["split"].nunique() == 1).all()
    assert set(frame["split"]) == {"train", "val", "test"}
    again = write_synthetic_eyes(tmp_path / "t.parquet", 300, seed=8)
    pd.testing.assert_frame_equal(frame, again)


def test_subject_splits_follow_ratios() -> None:
    names = subject_splits(100, seed=42, ratios=(0.8, 0.1, 0.1))
    counts = pd.Series(names).value_counts()
    assert (counts["train"], counts["val"], counts["test"]) == (80, 10, 10)
    assert list(subject_splits(4, seed=1, ratios=(0.8, 0.1, 0.1))).count("val") == 1
    other_seed = subject_splits(100, seed=43, ratios=(0.8, 0.1, 0.1))
    assert (names != other_seed).any()


def test_writer_shard_directory_without_bytes(tmp_path) -> None:
    out = tmp_path / "dataset"
    frame = write_synthetic_eyes(out, 90, seed=4, shards=3, with_bytes=False)
    parts = sorted(p.name for p in out.glob("part-*.parquet"))
    assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    table = pd.concat([pd.read_parquet(out / p) for p in parts], ignore_index=True)
    assert list(table.columns) == OCEC_COLUMNS
    pd.testing.assert_frame_equal(table, frame, check_dtype=False)
    assert table["image_path"].is_unique
    for rel in table["image_path"]:
        assert (out / rel).is_file()
    assert _decode((out / table["image_path"][0]).read_bytes()).shape == (32, 64, 3)
    # A rerun with fewer shards leaves no stale part behind.
    write_synthetic_eyes(out, 40, seed=4, shards=2)
    assert sorted(p.name for p in out.glob("part-*.parquet")) == parts[:2]


@pytest.mark.parametrize(
    ("name", "kwargs", "key"),
    [
        ("a.parquet", {"n": 0}, "'n'"),
        ("a.parquet", {"ratios": (0.8, 0.1, 0.05)}, "ratios"),
        ("a.parquet", {"ratios": (0.9, 0.1)}, "ratios"),
        ("dir", {"shards": 0}, "shards"),
        ("dir", {"n": 3, "shards": 4}, "shards"),
        ("a.parquet", {"shards": 2}, "shards"),
        ("afile.txt", {}, "out"),
    ],
)
def test_writer_rejects_bad_arguments(tmp_path, name: str, kwargs: dict, key: str) -> None:
    (tmp_path / "afile.txt").write_text("not a directory")
    args = {"n": 10, **kwargs}
    with pytest.raises(ConfigError, match=key):
        write_synthetic_eyes(tmp_path / name, **args)
