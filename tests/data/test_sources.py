"""Sources: parquet (bytes, paths, shards, aliases, class_id), folder, csv, synthetic."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.data.sources import (
    CsvSource,
    FolderSource,
    ParquetSource,
    SyntheticEyesSource,
    open_source,
)
from ocec_lightning.errors import ConfigError, DataError
from ocec_lightning.synthetic import raster
from ocec_lightning.synthetic.eyes import generate_eyes


def _images(table) -> np.ndarray:
    return np.stack([table.read_image(i) for i in range(len(table))])


def test_parquet_bytes_and_paths_decode_to_the_same_pixels(write_parquet, helpers):
    with_bytes = ParquetSource(write_parquet(helpers.alternating(6), name="a.parquet")).load()
    paths_only = ParquetSource(
        write_parquet(helpers.alternating(6), name="b.parquet", with_bytes=False)
    ).load()
    expected = np.stack([helpers.sample_image(i) for i in range(6)])
    np.testing.assert_array_equal(_images(with_bytes), expected)
    np.testing.assert_array_equal(_images(paths_only), expected)
    assert with_bytes.frame["label"].tolist() == [0, 1, 0, 1, 0, 1]
    assert with_bytes.class_names == ["closed", "open"]


def test_parquet_null_bytes_fall_back_to_image_path(write_parquet, tmp_path, helpers):
    path = write_parquet(
        helpers.alternating(3),
        image_bytes=[helpers.png_bytes(helpers.sample_image(50)), None, None],
    )
    table = ParquetSource(path).load()
    assert table.read_image(0)[0, 0, 0] == 50  # the embedded bytes win
    assert table.read_image(1)[0, 0, 0] == 1  # no bytes: images/00001.png


def test_parquet_root_overrides_the_image_folder(write_parquet, tmp_path, helpers):
    path = write_parquet(helpers.alternating(2), name="meta/data.parquet", with_bytes=False)
    with pytest.raises(
        DataError, match=r"data\.parquet row 0: image file not found: .*meta/images/00000\.png"
    ):
        ParquetSource(path).load().read_image(0)
    assert ParquetSource(path, root=tmp_path).load().read_image(1)[0, 0, 0] == 1


def test_class_id_wins_over_label(write_parquet):
    path = write_parquet(["open", "open", "closed"], class_id=[0, 1, 1])
    assert ParquetSource(path).load().frame["label"].tolist() == [0, 1, 1]


def test_labels_accept_names_in_any_case_and_ids(write_parquet):
    path = write_parquet(["OPEN", "Closed", "1", "0"])
    assert ParquetSource(path).load().frame["label"].tolist() == [1, 0, 1, 0]


def test_split_aliases_are_normalised(write_parquet, helpers):
    aliases = ["Training", "train", "VALID", "validation", "dev", "val", "Testing", "test"]
    table = ParquetSource(write_parquet(helpers.alternating(8), splits=aliases)).load()
    assert table.frame["split"].tolist() == ["train"] * 2 + ["val"] * 4 + ["test"] * 2


def test_unknown_split_names_the_row(write_parquet, helpers):
    path = write_parquet(helpers.alternating(3), splits=["train", "holdout", "test"])
    with pytest.raises(DataError, match=r"data\.parquet row 1: unknown split 'holdout'"):
        ParquetSource(path).load()


def test_unknown_label_names_row_value_and_choices(write_parquet):
    path = write_parquet(["open", "closed", "squint"])
    with pytest.raises(
        DataError,
        match=r"data\.parquet row 2: unknown label 'squint'; expected one of closed/open .* or 0/1",
    ):
        ParquetSource(path).load()


def test_missing_column_lists_the_columns_found(write_parquet, helpers):
    path = write_parquet(helpers.alternating(2))
    frame = pd.read_parquet(path).drop(columns=["label"])
    frame.to_parquet(path, index=False)
    with pytest.raises(
        DataError,
        match=r"missing required column 'class_id' or 'label'; "
        r"columns found: image_path, source, image_bytes",
    ):
        ParquetSource(path).load()


def test_missing_group_column_is_named(write_parquet, helpers):
    with pytest.raises(DataError, match=r"group column 'video' \(data.group_column\) not found"):
        ParquetSource(write_parquet(helpers.alternating(2)), group_column="video").load()


def test_shard_directory_reads_shards_in_name_order(write_parquet, tmp_path, helpers):
    write_parquet(
        helpers.alternating(3), name="shards/part-00001.parquet", start=3, splits=["val"] * 3
    )
    write_parquet(
        helpers.alternating(3), name="shards/part-00000.parquet", start=0, splits=["train"] * 3
    )
    table = ParquetSource(tmp_path / "shards").load()
    assert len(table) == 6
    assert table.frame["ref"].tolist()[2:4] == [
        "part-00000.parquet row 2",
        "part-00001.parquet row 0",
    ]
    assert [table.read_image(i)[0, 0, 0] for i in range(6)] == list(range(6))
    assert table.frame["split"].tolist() == ["train"] * 3 + ["val"] * 3


def test_parquet_group_column_becomes_group(write_parquet, helpers):
    path = write_parquet(helpers.alternating(4), video=["a", "a", "b", "b"])
    table = ParquetSource(path, group_column="video").load()
    assert table.frame["group"].tolist() == ["a", "a", "b", "b"]
    assert table.has_groups


def test_missing_path_and_empty_directory(tmp_path):
    with pytest.raises(DataError, match=r"parquet path does not exist: .*nope\.parquet"):
        ParquetSource(tmp_path / "nope.parquet").load()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no \\*.parquet files"):
        ParquetSource(tmp_path / "empty").load()


def test_corrupt_bytes_name_the_row(write_parquet, helpers):
    path = write_parquet(
        helpers.alternating(2),
        image_bytes=[helpers.png_bytes(helpers.sample_image(0)), b"\x89PNG broken"],
    )
    table = ParquetSource(path).load()
    with pytest.raises(
        DataError, match=r"data\.parquet row 1: image data \(11 bytes\) is not a decodable"
    ):
        table.read_image(1)


def test_fingerprint_follows_content(write_parquet, helpers):
    path = write_parquet(helpers.alternating(2))
    first = ParquetSource(path).load().fingerprint
    assert ParquetSource(path).load().fingerprint == first
    write_parquet(helpers.alternating(3))  # rewrite: size/mtime change
    assert ParquetSource(path).load().fingerprint != first


def test_folder_source(tmp_path, helpers):
    for i in range(3):
        helpers.write_png(tmp_path / "eyes" / "closed" / f"c{i}.png", helpers.sample_image(i))
    helpers.write_png(tmp_path / "eyes" / "open" / "o0.JPG.png", helpers.sample_image(9))
    (tmp_path / "eyes" / "open" / "notes.txt").write_text("ignored")
    table = FolderSource(tmp_path / "eyes", class_names=["closed", "open"]).load()
    assert table.frame["label"].tolist() == [0, 0, 0, 1]
    assert table.read_image(3)[0, 0, 0] == 9
    assert table.frame["ref"].iloc[0].endswith("closed/c0.png")
    assert FolderSource(tmp_path / "eyes").load().class_names == ["closed", "open"]


def test_folder_source_rejects_other_class_folders(tmp_path, helpers):
    helpers.write_png(tmp_path / "eyes" / "closed" / "a.png", helpers.sample_image(0))
    helpers.write_png(tmp_path / "eyes" / "opened" / "b.png", helpers.sample_image(1))
    with pytest.raises(
        DataError,
        match=r"class folders \['closed', 'opened'\] do not match the class names "
        r"\['closed', 'open'\]",
    ):
        FolderSource(tmp_path / "eyes", class_names=["closed", "open"]).load()
    with pytest.raises(DataError, match="image folder does not exist"):
        FolderSource(tmp_path / "missing").load()


def test_csv_source(tmp_path, helpers):
    for i in range(4):
        helpers.write_png(tmp_path / "img" / f"{i}.png", helpers.sample_image(i))
    manifest = tmp_path / "eyes.csv"
    manifest.write_text(
        "path,label,split,group\nimg/0.png,open,train,s1\nimg/1.png,closed,train,s1\n"
        "img/2.png,1,valid,s2\nimg/3.png,0,test,s3\n"
    )
    table = CsvSource(manifest).load()
    assert table.frame["label"].tolist() == [1, 0, 1, 0]
    assert table.frame["split"].tolist() == ["train", "train", "val", "test"]
    assert table.frame["group"].tolist() == ["s1", "s1", "s2", "s3"]
    assert table.read_image(2)[0, 0, 0] == 2
    manifest.write_text("path,label\nimg/0.png,open\nimg/9.png,closed\n")
    with pytest.raises(DataError, match=r"eyes\.csv line 3: image file not found: .*img/9\.png"):
        CsvSource(manifest).load().read_image(1)
    manifest.write_text("file,label\nimg/0.png,open\n")
    with pytest.raises(
        DataError, match=r"missing required column 'path'; columns found: file, label"
    ):
        CsvSource(manifest).load()


def test_synthetic_source_matches_the_generator():
    table = SyntheticEyesSource(60, seed=3, samples_per_subject=10, image_size=(16, 32)).load()
    eyes = generate_eyes(60, 3, 16, 32, samples_per_subject=10)
    np.testing.assert_array_equal(table.frame["label"].to_numpy(), eyes.labels)
    np.testing.assert_array_equal(table.frame["group"].to_numpy(dtype=np.int64), eyes.subjects)
    np.testing.assert_array_equal(table.render_block(20, 60), eyes.images[20:])
    np.testing.assert_array_equal(table.read_image(7), eyes.images[7])
    assert table.render_size == (16, 32)
    assert SyntheticEyesSource(60, seed=4).load().fingerprint != table.fingerprint
    assert not SyntheticEyesSource(10, seed=3, group_column=None).load().has_groups


@pytest.mark.parametrize(
    ("module", "drawing"),
    [
        ("synthetic_eyes", {"eyes", "eyes_render", "raster"}),
        (
            "synthetic_faces",
            {"faces", "faces_scene", "faces_render", "raster"},
        ),
    ],
)
def test_synthetic_fingerprints_hash_the_drawing_code(module, drawing, monkeypatch):
    source = importlib.import_module(f"ocec_lightning.data.sources.{module}")
    hashed: list[str] = []
    monkeypatch.setattr(source, "code_version", lambda paths: hashed.extend(map(str, paths)))
    source._generator_version()
    assert raster.__file__ in hashed  # editing a drawing primitive drops caches
    # Every module that decides pixels, none that only writes files.
    assert {Path(p).stem for p in hashed} == drawing and len(hashed) == len(drawing)
    assert all(Path(p).parent == Path(raster.__file__).parent for p in hashed)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"group_column": "video"}, "'data.group_column'"),
        ({"num_samples": 0}, "'num_samples'"),
        ({"threshold": 1.0}, "'threshold'"),
        ({"open_ratio": 1.5}, "'open_ratio'"),
        ({"open_ratio": "half"}, "'open_ratio'"),
        ({"samples_per_subject": 0}, "'samples_per_subject'"),
        ({"workers": 0}, "'workers'"),
        ({"seed": -1}, "'seed'"),
        ({"image_size": (4, 64)}, r"'data.image_size' = \[4, 64\].*each an integer >= 8"),
        ({"image_size": (32,)}, "'data.image_size'"),
    ],
)
def test_synthetic_source_checks_the_generator_arguments_when_built(kwargs, key):
    # Caught in the constructor, not when setup() first draws a crop.
    with pytest.raises(ConfigError, match=key):
        SyntheticEyesSource(**{"num_samples": 10, "seed": 0, **kwargs})


def test_synthetic_source_errors_name_the_config_key():
    node = OmegaConf.create(
        {"_target_": "ocec_lightning.data.sources.SyntheticEyesSource", "num_samples": 10}
    )
    node.seed, node.threshold = 0, 0.99
    with pytest.raises(ConfigError, match=r"^config key 'data.source.threshold' = 0.99"):
        instantiate(node, "data.source")


def test_open_source_picks_the_format(write_parquet, tmp_path, helpers):
    assert isinstance(open_source(write_parquet(helpers.alternating(2))), ParquetSource)
    (tmp_path / "m.csv").write_text("path,label\n")
    assert isinstance(open_source(tmp_path / "m.csv"), CsvSource)
    assert isinstance(open_source(tmp_path / "images"), FolderSource)
    with pytest.raises(DataError, match="path does not exist"):
        open_source(Path(tmp_path / "nothing"))
