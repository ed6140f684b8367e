"""Segmentation data: the mask cache, the DataModule's segmentation API (batches,
class_pixel_frequencies, fixed_val_samples) and every bad mask failing in setup() with one
line. The sources with masks are tested in test_segmentation_sources.py."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from ocec_lightning.data import build_datamodule, cache_fill
from ocec_lightning.data.cache import cache_path, load_samples
from ocec_lightning.data.datasets import CachedImageDataset
from ocec_lightning.data.sources import (
    ParquetSource,
)
from ocec_lightning.errors import ConfigError, DataError
from ocec_lightning.synthetic.faces_scene import FACE_CLASSES

SEG = ["task=segmentation", "data.image_size=[32,32]", "data.cache.mode=ram"]


def _expect_setup_error(dm, error: type, pattern: str, stage: str = "fit") -> None:
    with pytest.raises(error, match=pattern) as info:
        dm.setup(stage)
    assert "\n" not in str(info.value)  # one line


# ------------------------------------------------------------------------- cache
def test_mask_cache_equals_decoded_masks(write_seg_parquet, tmp_path, monkeypatch):
    masks = [np.random.default_rng(i).integers(0, 11, (12, 20), dtype=np.uint8) for i in range(5)]
    table = ParquetSource(write_seg_parquet(masks=masks), task="segmentation").load()
    images, cached = load_samples(table, (12, 20), "ram")
    np.testing.assert_array_equal(cached, np.stack(masks))
    assert images.shape == (5, 12, 20, 3)
    # Another size: nearest neighbour, so only ids of the original appear.
    _, small = load_samples(table, (6, 10), "ram")
    expected = [cv2.resize(m, (10, 6), interpolation=cv2.INTER_NEAREST) for m in masks]
    np.testing.assert_array_equal(small, np.stack(expected))
    # Disk: images and masks side by side, reused without decoding.
    disk_images, disk_masks = load_samples(table, (6, 10), "disk", tmp_path / "c")
    assert cache_path(tmp_path / "c", table.fingerprint, (6, 10), "masks").is_file()
    np.testing.assert_array_equal(disk_masks, small)
    monkeypatch.setattr(cache_fill, "decode_into", lambda *a, **k: pytest.fail("decoded twice"))
    again_images, again_masks = load_samples(table, (6, 10), "disk", tmp_path / "c")
    np.testing.assert_array_equal(again_masks, small)
    np.testing.assert_array_equal(again_images, disk_images)


def test_missing_mask_cache_file_rebuilds_both(write_seg_parquet, tmp_path):
    table = ParquetSource(write_seg_parquet(3), task="segmentation").load()
    load_samples(table, (8, 16), "disk", tmp_path)
    cache_path(tmp_path, table.fingerprint, (8, 16), "masks").unlink()
    images, masks = load_samples(table, (8, 16), "disk", tmp_path)
    assert masks.shape == (3, 8, 16) and images.shape == (3, 8, 16, 3)


def test_dataset_pickles_memmaps_by_name(write_seg_parquet, tmp_path):
    table = ParquetSource(write_seg_parquet(4), task="segmentation").load()
    images, masks = load_samples(table, (8, 16), "disk", tmp_path)
    dataset = CachedImageDataset(images, np.arange(4), np.zeros(4), None, masks)
    state = dataset.__getstate__()
    assert isinstance(state["images"], Path) and isinstance(state["masks"], Path)  # not arrays
    clone = pickle.loads(pickle.dumps(dataset))
    assert isinstance(clone.masks, np.memmap)
    image, mask = clone[2]
    assert image.shape == (3, 8, 16) and image.dtype == mask.dtype == torch.uint8
    np.testing.assert_array_equal(mask.numpy(), masks[2])


# -------------------------------------------------------------------- datamodule
def test_synthetic_faces_config_gives_segmentation_batches(make_cfg):
    cfg = make_cfg([*SEG, "data.source.num_samples=40", "data.batch_size=8"], tiny=False)
    assert cfg.data.source._target_.endswith("SyntheticFacesSource")
    dm = build_datamodule(cfg)
    dm.setup("fit")
    raw, raw_masks = next(iter(dm.train_dataloader()))
    assert raw.dtype == raw_masks.dtype == torch.uint8
    images, masks = dm.augment_batch((raw, raw_masks), train=True)
    assert images.shape == (8, 3, 32, 32) and images.dtype == torch.float32
    assert masks.shape == (8, 32, 32) and masks.dtype == torch.int64
    assert set(masks.unique().tolist()) <= set(range(11)) | {255}
    assert dm.class_names == list(cfg.task.class_names) == list(FACE_CLASSES)
    assert sum(dm.num_samples(s) for s in ("train", "val", "test")) == 40
    freqs = dm.class_pixel_frequencies()
    assert len(freqs) == 11 and abs(sum(freqs) - 1) < 1e-9 and freqs[0] > 0.2
    assert dm.split_counts["train"]["skin"] == dm.num_samples("train")  # every face has skin
    with pytest.raises(ConfigError, match="loss.pos_weight"):
        dm.pos_weight()


def test_val_batches_are_not_augmented(make_cfg):
    dm = build_datamodule(
        make_cfg(
            [
                *SEG,
                "data.source.num_samples=30",
                "data.source.samples_per_subject=2",
                "aug=aggressive",
            ],
            tiny=False,
        )
    )
    dm.setup("fit")
    first, second = next(iter(dm.val_dataloader())), next(iter(dm.val_dataloader()))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    rows = dm.val_dataloader().dataset.rows[:4]
    np.testing.assert_array_equal(first[1][:4].numpy(), dm._masks[rows])


def test_parquet_folder_and_csv_configs_build_for_segmentation(make_cfg, tmp_path):
    from ocec_lightning.synthetic.faces_writer import write_synthetic_faces

    write_synthetic_faces(tmp_path / "faces", 30, seed=1, height=32, width=32)
    frame = pd.read_parquet(
        tmp_path / "faces" / "faces.parquet", columns=["image_path", "mask_path"]
    )
    frame.rename(columns={"image_path": "image", "mask_path": "mask"}).to_csv(
        tmp_path / "faces" / "faces.csv", index=False
    )
    for data in (
        ["data=parquet", f"data.path={tmp_path / 'faces'}", "data.group_column=source"],
        ["data=folder", f"data.root={tmp_path / 'faces'}"],
        ["data=csv", f"data.path={tmp_path / 'faces' / 'faces.csv'}"],
    ):
        dm = build_datamodule(make_cfg([*SEG, *data], tiny=False))
        dm.setup("fit")
        assert sum(dm.num_samples(s) for s in ("train", "val", "test")) == 30
        images, masks = next(iter(dm.val_dataloader()))
        assert images.shape[1:] == (3, 32, 32) and masks.shape[1:] == (32, 32)


def test_class_pixel_frequencies_are_exact(write_seg_parquet, make_seg_dm):
    masks = [np.zeros((8, 16), np.uint8) for _ in range(4)]
    masks[0][:, :4] = 1  # train: 32 px of skin, 96 background
    masks[1][:2, :] = 255  # train: 32 px unlabelled, 96 background
    masks[1][2:, :] = np.where(np.arange(16) < 8, 0, 10)  # ...48 background + 48 hair
    masks[2][:] = 6  # val only: nose must not count
    masks[3][:] = 9  # test
    path = write_seg_parquet(masks=masks, splits=["train", "train", "val", "test"])
    dm = make_seg_dm(ParquetSource(path, task="segmentation"))
    dm.setup("fit")
    labelled = 128 + 96
    expected = [0.0] * 11
    expected[0], expected[1], expected[10] = (96 + 48) / labelled, 32 / labelled, 48 / labelled
    assert dm.class_pixel_frequencies() == pytest.approx(expected, abs=1e-12)
    counts = dm.split_counts
    assert counts["train"]["background"] == 2 and counts["train"]["hair"] == 1
    assert counts["val"] == {name: int(name == "nose") for name in dm.class_names}


def test_fixed_val_samples_are_deterministic(write_seg_parquet, make_seg_dm):
    path = write_seg_parquet(20)
    results = []
    for _ in range(2):
        dm = make_seg_dm(
            ParquetSource(path, task="segmentation"), splits={"train": 0.5, "val": 0.5}
        )
        dm.setup("fit")
        results.append(dm.fixed_val_samples(4))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
    raw, normalised, masks = results[0]
    assert raw.shape == (4, 8, 16, 3) and raw.dtype == torch.uint8
    assert normalised.shape == (4, 3, 8, 16) and normalised.dtype == torch.float32
    assert masks.shape == (4, 8, 16) and masks.dtype == torch.int64
    torch.testing.assert_close(normalised, raw.permute(0, 3, 1, 2).float() / 255.0)
    val_rows = dm._rows["val"]
    indices = [int(r[0, 0, 0]) for r in raw]  # red channel = sample index
    assert indices[0] == val_rows[0] and indices[-1] == val_rows[-1]  # spread over the split
    np.testing.assert_array_equal(masks.numpy(), dm._masks[indices])
    assert len(dm.fixed_val_samples(100)[0]) == 10  # capped at the split size


def test_weighted_sampler_and_class_names_are_checked(make_seg_dm, write_seg_parquet, seg):
    source = ParquetSource(write_seg_parquet(4), task="segmentation")
    with pytest.raises(ConfigError, match="data.weighted_sampler"):
        make_seg_dm(source, weighted_sampler=True)
    with pytest.raises(ConfigError, match=r"^config key 'task.class_names' .* 11 names"):
        make_seg_dm(source, class_names=seg.names[:10])
    with pytest.raises(ConfigError, match="task.ignore_index"):
        make_seg_dm(source, ignore_index=3)
    flip = {"_target_": "ocec_lightning.data.transforms.HorizontalFlipSwap", "pairs": [[2, 11]]}
    with pytest.raises(ConfigError, match=r"'task.flip_pairs' = \[\[2, 11\]\].*num_classes=11"):
        make_seg_dm(source, train_transforms=[flip])


def test_task_and_data_must_agree(make_cfg, make_seg_dm, write_parquet, helpers):
    with pytest.raises(
        ConfigError, match=r"'task.name' = 'classification'.*has masks.*task=segmentation"
    ):
        build_datamodule(make_cfg(["data=synthetic_faces"])).setup("fit")
    eyes = ParquetSource(write_parquet(helpers.alternating(4)), task=None)
    with pytest.raises(ConfigError, match=r"'task.name' = 'segmentation'.*has no masks"):
        make_seg_dm(eyes).setup("fit")


# -------------------------------------------------------------------- bad masks
def test_mask_size_differs_from_image(write_seg_parquet, make_seg_dm, seg):
    masks = [seg.sample_mask(i) for i in range(4)]
    path = write_seg_parquet(masks=masks)
    frame = pd.read_parquet(path)
    frame.loc[2, "mask_bytes"] = seg.mask_png(np.zeros((6, 16), np.uint8))
    frame.to_parquet(path)
    _expect_setup_error(
        make_seg_dm(ParquetSource(path, task="segmentation")),
        DataError,
        r"^seg\.parquet row 2: mask size 6x16 differs from its image size 8x16 \(HxW\)",
    )


def test_mask_class_id_out_of_range(write_seg_parquet, make_seg_dm, seg):
    masks = [seg.sample_mask(i) for i in range(4)]
    masks[3][0, :3] = 12
    path = write_seg_parquet(masks=masks)
    _expect_setup_error(
        make_seg_dm(ParquetSource(path, task="segmentation")),
        DataError,
        r"^seg\.parquet row 3: mask has class id\(s\) 12 \(3 px\) but task\.num_classes is 11 "
        r".*task\.ignore_index is 255.*raise task\.num_classes .*or set task\.ignore_index=12",
    )
    # ignore_index itself is fine, and so is the same id once it is the ignore value.
    make_seg_dm(ParquetSource(path, task="segmentation"), ignore_index=12).setup("fit")


def test_missing_and_corrupt_mask_files(write_seg_parquet, make_seg_dm, tmp_path, seg):
    path = write_seg_parquet(4, with_bytes=False)
    (tmp_path / "masks" / "00001.png").unlink()
    _expect_setup_error(
        make_seg_dm(ParquetSource(path, task="segmentation")),
        DataError,
        r"^seg\.parquet row 1: mask file not found: .*masks/00001\.png$",
    )
    good = seg.mask_png(seg.sample_mask(0))
    path = write_seg_parquet(4, name="bad.parquet", mask_bytes=[good, good, good[:30], good])
    _expect_setup_error(
        make_seg_dm(ParquetSource(path, task="segmentation")),
        DataError,
        r"^bad\.parquet row 2: mask data \(30 bytes\) is not a decodable PNG",
    )
    colour = cv2.imencode(
        ".png", np.dstack([seg.sample_mask(0)] * 2 + [np.zeros((8, 16), np.uint8)])
    )[1]
    path = write_seg_parquet(
        4, name="colour.parquet", mask_bytes=[good, colour.tobytes(), good, good]
    )
    _expect_setup_error(
        make_seg_dm(ParquetSource(path, task="segmentation")),
        DataError,
        r"^colour\.parquet row 1: mask is a colour image",
    )


def test_empty_split_and_unlabelled_images(write_seg_parquet, make_seg_dm, seg, caplog):
    source = ParquetSource(write_seg_parquet(10), task="segmentation")
    _expect_setup_error(
        make_seg_dm(source, splits={"train": 0.9, "test": 0.1}),
        DataError,
        r"^split 'val' is empty \(train=9, val=0, test=1\)",
    )
    masks = [seg.sample_mask(i) for i in range(6)]
    masks[4][:] = 255
    path = write_seg_parquet(masks=masks, name="blank.parquet")
    dm = make_seg_dm(ParquetSource(path, task="segmentation"))
    with caplog.at_level(logging.WARNING, logger="ocec_lightning.data"):
        dm.setup("fit")  # warns, does not fail
    assert any(
        "1 image(s) have no labelled pixels" in r.getMessage()
        and "blank.parquet row 4" in r.getMessage()
        for r in caplog.records
    )
    masks = [np.zeros((8, 16), np.uint8) for _ in range(6)]
    path = write_seg_parquet(masks=masks, name="flat.parquet")
    _expect_setup_error(
        make_seg_dm(ParquetSource(path, task="segmentation")),
        DataError,
        r"^split 'train' has labelled pixels of fewer than two classes",
    )
