"""Tests for the procedural synthetic face-parsing generator and its dataset writer."""

from __future__ import annotations

import dataclasses
import io
import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ocec_lightning.data.table import task_defaults
from ocec_lightning.data.transforms import HorizontalFlipSwap
from ocec_lightning.errors import ConfigError
from ocec_lightning.synthetic.faces import (
    SyntheticFaces,
    flip_face,
    generate_faces,
    render_face,
)
from ocec_lightning.synthetic.faces_render import draw_face
from ocec_lightning.synthetic.faces_scene import (
    FACE_CLASSES,
    FLIP_PAIRS,
    sample_scene,
    subject_traits,
)
from ocec_lightning.synthetic.faces_writer import (
    BYTES_COLUMNS,
    FACES_COLUMNS,
    face_subject_splits,
    write_synthetic_faces,
)

SKIN, L_BROW, R_BROW, L_EYE, R_EYE, NOSE, U_LIP, MOUTH, LO_LIP, HAIR = range(1, 11)


@pytest.fixture(scope="module")
def batch() -> SyntheticFaces:
    """200 default 128x128 scenes shared by the distribution tests (about 0.7 s)."""
    return generate_faces(200, seed=11)


def _mean_x(mask: np.ndarray, label: int) -> float:
    cols = np.nonzero(mask == label)[1]
    return float(cols.mean()) if cols.size else math.nan


def _scene(index: int, **changes: object):
    """A sampled scene of stream 0 with some fields overridden."""
    return dataclasses.replace(sample_scene(np.random.default_rng([0, index])), **changes)


def _draw(index: int, size: int = 128, **changes: object) -> tuple[np.ndarray, np.ndarray]:
    scene = _scene(index, **changes)
    return draw_face(np.random.default_rng([1, index]), subject_traits(0, index), scene, size, size)


# ---------------------------------------------------------------------------- constants


def test_class_ids_and_flip_pairs_are_fixed() -> None:
    assert FACE_CLASSES == [
        "background",
        "skin",
        "left_brow",
        "right_brow",
        "left_eye",
        "right_eye",
        "nose",
        "upper_lip",
        "inner_mouth",
        "lower_lip",
        "hair",
    ]
    assert FLIP_PAIRS == [(2, 3), (4, 5)]


def test_label_map_matches_the_segmentation_task_config() -> None:
    # The generator draws its own ids (a dataset's label map); the model side reads names,
    # flip pairs and colours from conf/task/segmentation.yaml. They must not diverge.
    task = task_defaults("segmentation")
    assert task["class_names"] == FACE_CLASSES
    assert task["num_classes"] == len(FACE_CLASSES)
    assert [tuple(pair) for pair in task["flip_pairs"]] == FLIP_PAIRS
    palette = np.asarray(task["palette"])
    assert palette.shape == (len(FACE_CLASSES), 3) and ((0 <= palette) & (palette <= 255)).all()
    assert len({tuple(c) for c in palette.tolist()}) == len(FACE_CLASSES)  # all distinct


# ----------------------------------------------------------------------- determinism


def test_render_is_deterministic_per_seed_and_index() -> None:
    img_a, mask_a, subj_a = render_face(7, 123)
    img_b, mask_b, subj_b = render_face(7, 123)
    assert img_a.tobytes() == img_b.tobytes() and mask_a.tobytes() == mask_b.tobytes()
    assert subj_a == subj_b == 12
    assert img_a.tobytes() != render_face(8, 123)[0].tobytes()
    assert img_a.tobytes() != render_face(7, 124)[0].tobytes()
    assert mask_a.tobytes() != render_face(7, 124)[1].tobytes()


def test_scene_independent_of_start_and_order() -> None:
    full = generate_faces(30, seed=3, height=64, width=64)
    tail = generate_faces(10, seed=3, height=64, width=64, start=20)
    np.testing.assert_array_equal(full.images[20:], tail.images)
    np.testing.assert_array_equal(full.masks[20:], tail.masks)
    np.testing.assert_array_equal(full.subjects[20:], tail.subjects)
    subject_traits.cache_clear()  # a cold trait cache must not change anything either
    for i in reversed(range(8)):
        img, mask, subject = render_face(3, i, 64, 64)
        assert img.tobytes() == full.images[i].tobytes()
        assert mask.tobytes() == full.masks[i].tobytes() and subject == full.subjects[i]


def test_workers_give_identical_output() -> None:
    one = generate_faces(70, seed=5, height=48, width=48, start=9)
    two = generate_faces(70, seed=5, height=48, width=48, start=9, workers=2)
    for field in ("images", "masks", "subjects"):
        np.testing.assert_array_equal(getattr(one, field), getattr(two, field))


# -------------------------------------------------------------------- shapes and values


@pytest.mark.parametrize(("height", "width"), [(64, 64), (128, 128), (256, 256), (48, 80)])
def test_shapes_dtypes_and_ids(height: int, width: int) -> None:
    b = generate_faces(3, seed=1, height=height, width=width)
    assert b.images.shape == (3, height, width, 3) and b.images.dtype == np.uint8
    assert b.masks.shape == (3, height, width) and b.masks.dtype == np.uint8
    assert b.subjects.shape == (3,) and b.subjects.dtype == np.int64
    assert b.masks.max() <= 10
    for m in b.masks:  # a face with skin, eyes region and nose at every size
        assert {SKIN, NOSE} <= set(np.unique(m).tolist())


def test_render_face_defaults_and_empty_batch() -> None:
    img, mask, subject = render_face(0, 0)
    assert img.shape == (128, 128, 3) and mask.shape == (128, 128)
    assert isinstance(subject, int)
    empty = generate_faces(0, seed=1)
    assert empty.images.shape == (0, 128, 128, 3) and empty.masks.shape == (0, 128, 128)


def test_same_scene_at_every_resolution() -> None:
    # The scene is sampled in size-independent units: only the raster changes.
    small = render_face(3, 5, 64, 64)[1]
    mid = render_face(3, 5, 128, 128)[1]
    large = render_face(3, 5, 256, 256)[1]
    assert (mid[1::2, 1::2] == small).mean() > 0.95
    assert (large[1::2, 1::2] == mid).mean() > 0.97


# ------------------------------------------------------------------------ distribution


def test_class_presence_rates(batch: SyntheticFaces) -> None:
    present = np.stack([(batch.masks == c).any(axis=(1, 2)) for c in range(11)], axis=1)
    rate = dict(zip(FACE_CLASSES, present.mean(axis=0), strict=True))
    for name in ("background", "skin", "nose", "upper_lip", "lower_lip"):
        assert rate[name] >= 0.97, (name, rate[name])
    for name in ("left_eye", "right_eye"):
        assert rate[name] >= 0.9, (name, rate[name])  # blinks hide a few
    for name in ("left_brow", "right_brow"):
        assert rate[name] >= 0.75, (name, rate[name])  # bangs hide some
    assert rate["hair"] >= 0.8
    assert 0.15 <= rate["inner_mouth"] <= 0.7  # only while the mouth is open
    # Faces are the subject but not the whole frame.
    area = np.stack([(batch.masks == c).mean(axis=(1, 2)) for c in range(11)], axis=1)
    assert 0.1 < area[:, SKIN].mean() < 0.45 and 0.2 < area[:, 0].mean() < 0.8


def test_subjects_group_consecutive_indices() -> None:
    b = generate_faces(25, seed=9, height=32, width=32, start=40, samples_per_subject=5)
    np.testing.assert_array_equal(b.subjects, np.arange(40, 65) // 5)
    assert render_face(9, 49, 32, 32, samples_per_subject=10)[2] == 4
    assert subject_traits(9, 4) == subject_traits(9, 4)
    assert subject_traits(9, 4) != subject_traits(9, 5)
    assert subject_traits(9, 4) != subject_traits(10, 4)


def test_same_subject_images_share_skin_tone() -> None:
    b = generate_faces(300, seed=21, height=64, width=64, samples_per_subject=10)
    colour = np.array(
        [im[m == SKIN].astype(float).mean(0) for im, m in zip(b.images, b.masks, strict=True)]
    )
    # Blue/red ratio of the skin survives the per-image brightness changes.
    ratio = colour[:, 2] / colour[:, 0]
    within = np.mean([ratio[b.subjects == s].std() for s in np.unique(b.subjects)])
    assert within < 0.75 * ratio.std()


# --------------------------------------------------------------- left/right and pose


def test_left_features_are_on_the_image_left(batch: SyntheticFaces) -> None:
    checked = 0
    for mask in batch.masks:
        for left, right in FLIP_PAIRS:
            lx, rx = _mean_x(mask, left), _mean_x(mask, right)
            if not (math.isnan(lx) or math.isnan(rx)):
                assert lx < rx
                checked += 1
    assert checked > 300


def test_flip_with_swapped_ids_keeps_the_convention(batch: SyntheticFaces) -> None:
    for img, mask in zip(batch.images[:40], batch.masks[:40], strict=True):
        f_img, f_mask = flip_face(img, mask)
        np.testing.assert_array_equal(f_img, img[:, ::-1])
        raw = mask[:, ::-1]
        for left, right in FLIP_PAIRS:
            if not ((mask == left).any() and (mask == right).any()):
                continue
            # Mirroring alone puts "left_eye" on the right; swapping the ids fixes it.
            assert _mean_x(raw, left) > _mean_x(raw, right)
            assert _mean_x(f_mask, left) < _mean_x(f_mask, right)
            assert (f_mask == left).sum() == (mask == right).sum()
        unpaired = ~np.isin(raw, [2, 3, 4, 5])
        np.testing.assert_array_equal(f_mask[unpaired], raw[unpaired])


def test_flip_face_is_the_flip_augmentation(batch: SyntheticFaces) -> None:
    # One swap table: the generator's flip and the training-time HorizontalFlipSwap agree.
    flip = HorizontalFlipSwap(pairs=FLIP_PAIRS, p=1.0)
    for img, mask in zip(batch.images[:5], batch.masks[:5], strict=True):
        out = flip(image=img, mask=mask)
        f_img, f_mask = flip_face(img, mask)
        np.testing.assert_array_equal(out["image"], f_img)
        np.testing.assert_array_equal(out["mask"], f_mask)


def test_yaw_shifts_the_nose_and_compresses_the_far_side() -> None:
    xs = np.arange(128)
    for index in range(4):
        fixed = {"roll": 0.0, "pitch": 0.0, "occluder": None, "open_l": 1.0, "open_r": 1.0}
        results = {}
        for yaw in (-30.0, 0.0, 30.0):
            _, m = _draw(index, yaw=math.radians(yaw), **fixed)
            face = (m >= SKIN) & (m <= LO_LIP)
            centre = (face * xs).sum() / face.sum()
            results[yaw] = (_mean_x(m, NOSE) - centre, (m == L_EYE).sum(), (m == R_EYE).sum())
        assert results[30.0][0] > results[0.0][0] + 5 > results[-30.0][0] + 10
        assert results[30.0][2] < 0.85 * results[30.0][1]  # turned right: right eye shrinks
        assert results[-30.0][1] < 0.85 * results[-30.0][2]


def test_roll_rotates_the_eye_line() -> None:
    for roll in (-20.0, 20.0):
        _, m = _draw(2, roll=math.radians(roll), yaw=0.0, pitch=0.0, occluder=None)
        (ly, lx), (ry, rx) = (np.argwhere(m == c).mean(axis=0) for c in (L_EYE, R_EYE))
        assert math.degrees(math.atan2(ry - ly, rx - lx)) == pytest.approx(roll, abs=4.0)


def test_inner_mouth_only_when_open_and_eyes_vanish_when_shut() -> None:
    _, closed = _draw(3, mouth_open=0.0, open_l=0.0, open_r=0.0, occluder=None)
    _, opened = _draw(3, mouth_open=0.15, open_l=1.0, open_r=1.0, occluder=None)
    assert not (closed == MOUTH).any()
    assert not np.isin(closed, [L_EYE, R_EYE]).any()
    assert (opened == MOUTH).sum() > 20
    assert (opened == L_EYE).sum() > 10 and (opened == R_EYE).sum() > 10


# ---------------------------------------------------------------------- alignment


def test_class_colours_differ_inside_the_mask(batch: SyntheticFaces) -> None:
    diffs = []
    for img, mask in zip(batch.images, batch.masks, strict=True):
        eye = np.isin(mask, [L_EYE, R_EYE])
        if eye.sum() < 5:
            continue
        skin = img[mask == SKIN].astype(float).mean(axis=0)
        diffs.append(np.abs(skin - img[eye].astype(float).mean(axis=0)).sum())
    assert np.mean(np.asarray(diffs) > 30) > 0.9


def test_mask_edges_sit_on_image_edges(batch: SyntheticFaces) -> None:
    grey = batch.images.astype(np.float32).mean(axis=3)
    grad = np.abs(np.diff(grey, axis=2))[:, :-1] + np.abs(np.diff(grey, axis=1))[:, :, :-1]

    def edges(m: np.ndarray) -> np.ndarray:
        base = m[:, :-1, :-1]
        return (m[:, 1:, :-1] != base) | (m[:, :-1, 1:] != base)

    at_edges = grad[edges(batch.masks)].mean()
    assert at_edges > 3.0 * grad.mean()
    # Shifting the mask by even one pixel moves its edges off the image edges.
    shifted = grad[edges(np.roll(batch.masks, 1, axis=2))].mean()
    assert at_edges > 1.2 * shifted


def test_clean_render_is_flat_inside_regions() -> None:
    # Without camera effects, labels change exactly where the rendered colour changes:
    # the mean jump across label edges dwarfs the jump between same-label neighbours.
    clean = {"blur": 0.0, "noise": 0.0, "jpeg": 0, "occluder": None}
    img, mask = _draw(4, **clean)
    grey = img.astype(np.float32).mean(axis=2)
    jump, same = np.abs(np.diff(grey, axis=1)), mask[:, 1:] == mask[:, :-1]
    assert jump[~same].mean() > 4.0 * jump[same].mean()


# -------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"seed": -1}, "seed"),
        ({"index": -3}, "index"),
        ({"height": 8}, "height"),
        ({"width": 2.5}, "width"),
        ({"samples_per_subject": 0}, "samples_per_subject"),
        ({"seed": True}, "seed"),
    ],
)
def test_render_rejects_bad_arguments(kwargs: dict, key: str) -> None:
    args = {"seed": 0, "index": 0, **kwargs}
    with pytest.raises(ConfigError, match=key):
        render_face(**args)


# ------------------------------------------------------------------------------ writer


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


def test_writer_files_parquet_and_bytes(tmp_path) -> None:
    out = tmp_path / "faces"
    frame = write_synthetic_faces(out, 25, seed=3, height=48, width=64)
    assert list(frame.columns) == FACES_COLUMNS
    table = pd.read_parquet(out / "faces.parquet")
    assert list(table.columns) == [*FACES_COLUMNS, *BYTES_COLUMNS]
    pd.testing.assert_frame_equal(table[FACES_COLUMNS], frame, check_dtype=False)
    assert table["source"].str.fullmatch(r"synthetic/subject_\d{5}").all()
    assert table["source"].iloc[24] == "synthetic/subject_00002"
    ref = generate_faces(25, seed=3, height=48, width=64)
    for i in (0, 13, 24):
        row = table.iloc[i]
        assert row["image_path"] == f"images/{i:06d}.png"
        assert row["mask_path"] == f"masks/{i:06d}.png"
        assert (out / row["image_path"]).read_bytes() == row["image_bytes"]
        assert (out / row["mask_path"]).read_bytes() == row["mask_bytes"]
        mask_png = Image.open(io.BytesIO(row["mask_bytes"]))
        assert mask_png.mode == "L"  # single channel of class ids
        np.testing.assert_array_equal(np.asarray(mask_png), ref.masks[i])
        np.testing.assert_array_equal(_decode(row["image_bytes"]), ref.images[i])
    assert sorted(p.name for p in (out / "images").iterdir()) == [f"{i:06d}.png" for i in range(25)]
    assert sorted(p.name for p in (out / "masks").iterdir()) == [f"{i:06d}.png" for i in range(25)]


def test_writer_splits_per_subject_and_rerun(tmp_path) -> None:
    frame = write_synthetic_faces(tmp_path / "a", 300, seed=8, height=16, width=16)
    assert (frame.groupby("source")["split"].nunique() == 1).all()
    counts = frame.drop_duplicates("source")["split"].value_counts()
    assert (counts["train"], counts["val"], counts["test"]) == (24, 3, 3)
    again = write_synthetic_faces(tmp_path / "b", 300, seed=8, height=16, width=16)
    pd.testing.assert_frame_equal(again, frame)
    assert (tmp_path / "a" / "faces.parquet").read_bytes() == (
        tmp_path / "b" / "faces.parquet"
    ).read_bytes()
    # A smaller rerun into the same folder removes the stale files of the first one.
    write_synthetic_faces(tmp_path / "a", 40, seed=8, height=16, width=16)
    assert len(list((tmp_path / "a" / "images").iterdir())) == 40
    assert len(list((tmp_path / "a" / "masks").iterdir())) == 40
    assert len(pd.read_parquet(tmp_path / "a" / "faces.parquet")) == 40


def test_face_subject_splits_follow_ratios() -> None:
    names = face_subject_splits(100, seed=42, ratios=(0.8, 0.1, 0.1))
    counts = pd.Series(names).value_counts()
    assert (counts["train"], counts["val"], counts["test"]) == (80, 10, 10)
    assert list(face_subject_splits(4, seed=1, ratios=(0.8, 0.1, 0.1))).count("val") == 1
    assert (names != face_subject_splits(100, seed=43, ratios=(0.8, 0.1, 0.1))).any()
    assert set(face_subject_splits(10, seed=0, ratios=(1.0, 0.0, 0.0))) == {"train"}


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"n": 0}, "'n'"),
        ({"seed": -2}, "seed"),
        ({"height": 4}, "height"),
        ({"ratios": (0.8, 0.1, 0.05)}, "ratios"),
        ({"ratios": (0.9, 0.1)}, "ratios"),
        ({"ratios": ("a", 0.1, 0.1)}, "ratios"),
        ({"workers": 0}, "workers"),
        ({"out": "afile.txt"}, "out"),
    ],
)
def test_writer_rejects_bad_arguments(tmp_path, kwargs: dict, key: str) -> None:
    (tmp_path / "afile.txt").write_text("not a directory")
    args = {"n": 10, "out": "dataset", **kwargs}
    args["out"] = tmp_path / args["out"]
    with pytest.raises(ConfigError, match=key):
        write_synthetic_faces(**args)
    assert not (tmp_path / "dataset").exists()  # nothing written before the check
