"""Segmentation sources: parquet, folder, csv and synthetic faces read images with their
masks, and tell the task from the columns."""

from __future__ import annotations

import numpy as np
import pytest

from ocec_lightning.data.sources import (
    CsvSource,
    FolderSource,
    ParquetSource,
    SyntheticFacesSource,
    open_source,
)
from ocec_lightning.errors import ConfigError, DataError
from ocec_lightning.synthetic.faces import generate_faces
from ocec_lightning.synthetic.faces_scene import FACE_CLASSES


def _masks(table) -> np.ndarray:
    return np.stack([table.read_mask(i) for i in range(len(table))])


def _expect_setup_error(dm, error: type, pattern: str, stage: str = "fit") -> None:
    with pytest.raises(error, match=pattern) as info:
        dm.setup(stage)
    assert "\n" not in str(info.value)  # one line


def test_parquet_mask_bytes_and_paths_decode_to_the_same_masks(write_seg_parquet, seg, helpers):
    with_bytes = ParquetSource(write_seg_parquet(6, name="a.parquet"), task="segmentation").load()
    paths = ParquetSource(
        write_seg_parquet(6, name="b.parquet", with_bytes=False), task="segmentation"
    ).load()
    expected = np.stack([seg.sample_mask(i) for i in range(6)])
    for table in (with_bytes, paths):
        # No task config given: the names come from conf/task/segmentation.yaml.
        assert table.task == "segmentation" and table.class_names == seg.names
        np.testing.assert_array_equal(_masks(table), expected)
        assert table.read_image(5)[0, 0, 0] == 5
        assert table.frame["label"].tolist() == [0] * 6
    assert with_bytes.fingerprint != paths.fingerprint
    # Null bytes fall back to mask_path, like image_bytes to image_path.
    mixed = write_seg_parquet(
        3, name="c.parquet", mask_bytes=[None, seg.mask_png(seg.sample_mask(7)), None]
    )
    table = ParquetSource(mixed, task="segmentation").load()
    assert table.read_mask(0)[0, 0] == 0 and table.read_mask(1)[0, 0] == 7 % 4


def test_parquet_task_must_match_its_columns(write_seg_parquet, write_parquet, helpers):
    seg_path = write_seg_parquet(2)
    with pytest.raises(
        DataError,
        match=r"seg\.parquet: has mask column\(s\) mask_bytes, mask_path.*task=segmentation",
    ):
        ParquetSource(seg_path, task="classification").load()
    eyes = write_parquet(helpers.alternating(2))
    with pytest.raises(
        DataError,
        match=r"data\.parquet: has no 'mask_bytes' or 'mask_path' column.*task=classification",
    ):
        ParquetSource(eyes, task="segmentation").load()
    # task=None (ocec-data info) follows the columns.
    assert ParquetSource(seg_path, task=None).load().task == "segmentation"
    assert ParquetSource(eyes, task=None).load().task == "classification"
    assert open_source(seg_path).load().task == "segmentation"


def test_parquet_row_without_any_mask_is_named(write_seg_parquet):
    path = write_seg_parquet(2, with_bytes=False, mask_path=["masks/00000.png", None])
    table = ParquetSource(path, task="segmentation").load()
    with pytest.raises(
        DataError, match=r"seg\.parquet row 1: has neither mask_bytes nor mask_path"
    ):
        table.read_mask(1)


def _write_folder(root, stems, helpers, seg, mask_stems=None):
    for i, stem in enumerate(stems):
        helpers.write_png(root / "images" / f"{stem}.png", helpers.sample_image(i))
    for i, stem in enumerate(mask_stems if mask_stems is not None else stems):
        (root / "masks").mkdir(parents=True, exist_ok=True)
        (root / "masks" / f"{stem}.png").write_bytes(seg.mask_png(seg.sample_mask(i)))


def test_folder_pairs_images_and_masks_by_stem(tmp_path, helpers, seg):
    _write_folder(tmp_path / "faces", ["b", "a", "c"], helpers, seg)
    table = FolderSource(tmp_path / "faces", task="segmentation").load()
    assert [r.split("/")[-1] for r in table.frame["ref"]] == ["a.png", "b.png", "c.png"]
    # "a" was written second (index 1): its image and mask both say 1.
    assert table.read_image(0)[0, 0, 0] == 1 and table.read_mask(0)[0, 0] == 1
    assert table.read_image(1)[0, 0, 0] == 0 and table.read_mask(1)[0, 0] == 0
    assert FolderSource(tmp_path / "faces", task=None).load().task == "segmentation"
    with pytest.raises(DataError, match=r"has images/ and masks/ folders.*task=segmentation"):
        FolderSource(tmp_path / "faces", class_names=["closed", "open"]).load()


def test_folder_unpaired_stems_are_listed(tmp_path, helpers, seg):
    stems = [f"img{i}" for i in range(8)]
    _write_folder(tmp_path / "f", stems, helpers, seg, mask_stems=stems[:1] + ["extra"])
    with pytest.raises(DataError) as info:
        FolderSource(tmp_path / "f", task="segmentation").load()
    text = str(info.value)
    assert "7 image(s) without a mask: img1, img2, img3, img4, img5 (and 2 more)" in text
    assert "1 mask(s) without an image: extra" in text and "\n" not in text
    (tmp_path / "eyes" / "closed").mkdir(parents=True)
    with pytest.raises(DataError, match=r"has no images/ and masks/ folders.*task=classification"):
        FolderSource(tmp_path / "eyes", task="segmentation").load()


def test_csv_manifest_with_masks(tmp_path, helpers, seg):
    _write_folder(tmp_path, ["0", "1", "2"], helpers, seg)
    manifest = tmp_path / "faces.csv"
    manifest.write_text(
        "image,mask,split,group\nimages/0.png,masks/0.png,train,s1\n"
        "images/1.png,masks/1.png,val,s1\nimages/2.png,masks/2.png,test,s2\n"
    )
    table = CsvSource(manifest, task="segmentation").load()
    assert table.frame["split"].tolist() == ["train", "val", "test"]
    assert table.frame["group"].tolist() == ["s1", "s1", "s2"]
    np.testing.assert_array_equal(_masks(table)[2], seg.sample_mask(2))
    assert open_source(manifest).load().task == "segmentation"
    with pytest.raises(DataError, match=r"faces\.csv: has a 'mask' column.*task=segmentation"):
        CsvSource(manifest).load()
    manifest.write_text("path,mask\nimages/0.png,masks/9.png\n")  # `path` is accepted for image
    with pytest.raises(DataError, match=r"faces\.csv line 2: mask file not found: .*masks/9\.png"):
        CsvSource(manifest, task="segmentation").load().read_mask(0)
    manifest.write_text("image,label\nimages/0.png,open\n")
    with pytest.raises(DataError, match=r"has no 'mask' column \(columns found: image, label\)"):
        CsvSource(manifest, task="segmentation").load()


def test_synthetic_faces_source_matches_the_generator():
    source = SyntheticFacesSource(24, seed=5, image_size=(32, 32), samples_per_subject=4)
    table = source.load()
    faces = generate_faces(24, 5, 32, 32, samples_per_subject=4)
    images, masks = table.render_block(8, 24)
    np.testing.assert_array_equal(images, faces.images[8:])
    np.testing.assert_array_equal(masks, faces.masks[8:])
    np.testing.assert_array_equal(table.read_mask(3), faces.masks[3])
    np.testing.assert_array_equal(table.frame["group"].to_numpy(dtype=np.int64), faces.subjects)
    assert table.class_names == list(FACE_CLASSES) and table.render_size == (32, 32)
    assert (
        SyntheticFacesSource(24, seed=6, image_size=(32, 32)).load().fingerprint
        != table.fingerprint
    )
    for kwargs, key in [
        ({"num_samples": 0}, "num_samples"),
        ({"group_column": "video"}, "data.group_column"),
        ({"image_size": (8, 8)}, "data.image_size"),
    ]:
        with pytest.raises(ConfigError, match=key):
            SyntheticFacesSource(**{"num_samples": 4, "seed": 0, **kwargs})


def test_unpaired_folder_fails_in_setup(tmp_path, helpers, seg, make_seg_dm):
    _write_folder(tmp_path / "f", ["a", "b"], helpers, seg, mask_stems=["a"])
    _expect_setup_error(
        make_seg_dm(FolderSource(tmp_path / "f", task="segmentation")),
        DataError,
        r"unpaired files, 1 image\(s\) without a mask: b",
    )
