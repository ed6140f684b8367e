"""OCECDataModule: batches, counts, samplers, stages, and every bad input failing in setup()."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from ocec_lightning.data import OCECDataModule, build_datamodule
from ocec_lightning.data.sources import ParquetSource
from ocec_lightning.errors import ConfigError, DataError

FLIP = [{"_target_": "albumentations.HorizontalFlip", "p": 0.5}]


def test_default_config_gives_normalised_batches(make_cfg, caplog):
    cfg = make_cfg(["aug=aggressive"])  # tiny synthetic data, num_workers 0
    dm = build_datamodule(cfg)
    assert dm._images is None  # the constructor reads nothing
    with caplog.at_level(logging.INFO, logger="ocec_lightning.data"):
        dm.setup("fit")
    raw, targets = next(iter(dm.train_dataloader()))  # the loader moves uint8 only
    assert raw.shape == (32, 3, 32, 64) and raw.dtype == torch.uint8
    # Lightning's on_after_batch_transfer: batched augmentation + normalisation.
    images, same_targets = dm.augment_batch((raw, targets), train=True)
    assert images.shape == (32, 3, 32, 64) and images.dtype == torch.float32
    assert torch.equal(same_targets, targets) and 0.0 <= images.min() and images.max() <= 1.0
    assert not torch.equal(images, raw.float() / 255)  # aggressive changed something
    assert targets.dtype == torch.int64 and set(targets.tolist()) <= {0, 1}
    counts = dm.split_counts
    assert dm.class_names == ["closed", "open"]
    assert sum(sum(c.values()) for c in counts.values()) == 240
    assert all(dm.num_samples(s) == sum(counts[s].values()) for s in counts)
    assert dm.pos_weight() == counts["train"]["closed"] / counts["train"]["open"]
    assert any(
        r.getMessage().startswith("train: ") and "closed" in r.getMessage() for r in caplog.records
    )


def test_val_and_test_batches_are_not_augmented(make_cfg):
    dm = build_datamodule(make_cfg(["aug=aggressive"]))
    dm.setup("fit")
    dm.setup("test")  # idempotent: nothing is loaded twice
    for loader in (dm.val_dataloader, dm.test_dataloader):
        first, second = next(iter(loader())), next(iter(loader()))
        assert torch.equal(first[0], second[0])
        rows = loader().dataset.rows[:4]
        np.testing.assert_array_equal(first[0][:4].permute(0, 2, 3, 1).numpy(), dm._images[rows])
        # Outside training the hook only normalises (mean 0 / std 1: pixels / 255).
        images, _ = dm.augment_batch(first, train=False)
        np.testing.assert_allclose(
            images[:4].permute(0, 2, 3, 1).numpy(), dm._images[rows] / 255.0, atol=1e-6
        )


def test_setup_is_idempotent(write_parquet, make_dm, helpers):
    source = ParquetSource(write_parquet(helpers.alternating(20)))
    dm = make_dm(source)
    dm.setup("fit")
    source.load = lambda: pytest.fail("loaded twice")
    dm.setup("fit")
    dm.setup("validate")


def test_train_loader_is_seeded_and_keeps_one_batch_for_tiny_splits(
    write_parquet, make_dm, helpers
):
    source = ParquetSource(write_parquet(helpers.alternating(40)))
    orders = []
    for _ in range(2):
        dm = make_dm(source, batch_size=64, splits={"train": 0.5, "val": 0.5})
        dm.setup("fit")
        loader = dm.train_dataloader()
        assert not loader.batch_sampler.drop_last  # 20 train samples < one batch
        orders.append(torch.cat([images[:, 0, 0, 0] for images, _ in loader]))
    assert torch.equal(orders[0], orders[1])
    dm = make_dm(source, batch_size=8)
    dm.setup("fit")
    assert dm.train_dataloader().batch_sampler.drop_last


def test_weighted_sampler_balances_an_imbalanced_train_split(write_parquet, make_dm):
    labels = ["closed"] * 90 + ["open"] * 10
    dm = make_dm(ParquetSource(write_parquet(labels)), weighted_sampler=True, batch_size=50)
    dm.setup("fit")
    assert dm.split_counts["train"] == {"closed": 72, "open": 8}
    drawn = torch.cat([targets for _ in range(25) for _, targets in dm.train_dataloader()])
    assert len(drawn) == 25 * 50
    assert abs(drawn.float().mean().item() - 0.5) < 0.05
    assert dm.pos_weight() == 72 / 8


def test_workers_get_their_own_augmentation_streams(write_parquet, make_dm):
    # 16 identical images; with shared RNG states both workers would flip the same way.
    path = write_parquet(["closed", "open"] * 8)
    frame = pd.read_parquet(path)
    frame["image_bytes"] = [frame["image_bytes"][0]] * 16
    frame["split"] = ["train"] * 16
    frame.to_parquet(path)
    image = np.zeros((8, 16, 3), dtype=np.uint8)
    image[:, :8] = 255  # left half white: a flip is visible
    dm = make_dm(
        ParquetSource(path),
        num_workers=2,
        batch_size=1,
        train_transforms=FLIP,
        persistent_workers=False,
    )
    dm.setup("predict")
    dm._images[:] = image
    loader = dm.train_dataloader()
    flips = [int(images[0, 0, 0, 0] == 0) for images, _ in loader]
    worker0, worker1 = flips[0::2], flips[1::2]
    assert worker0 != worker1


def _expect_setup_error(dm: OCECDataModule, error: type, pattern: str, stage: str = "fit") -> None:
    with pytest.raises(error, match=pattern) as info:
        dm.setup(stage)
    assert "\n" not in str(info.value)  # one line


def test_missing_image_file_names_file_and_row(write_parquet, make_dm, tmp_path, helpers):
    path = write_parquet(helpers.alternating(10), with_bytes=False)
    (tmp_path / "images" / "00007.png").unlink()
    _expect_setup_error(
        make_dm(ParquetSource(path)),
        DataError,
        r"^data\.parquet row 7: image file not found: .*images/00007\.png$",
    )


def test_corrupt_png_bytes_name_the_row(write_parquet, make_dm, helpers):
    good = helpers.png_bytes(helpers.sample_image(0))
    path = write_parquet(helpers.alternating(6), image_bytes=[good] * 4 + [good[:40], good])
    _expect_setup_error(
        make_dm(ParquetSource(path)), DataError, r"^data\.parquet row 4: image data \(40 bytes\)"
    )


def test_unknown_label_names_row_value_and_expected(write_parquet, make_dm):
    path = write_parquet(["open", "closed", "open", "half"])
    _expect_setup_error(
        make_dm(ParquetSource(path)),
        DataError,
        r"^data\.parquet row 3: unknown label 'half'; expected one of closed/open",
    )


def test_empty_split_names_split_count_and_ratio(write_parquet, make_dm, helpers):
    dm = make_dm(
        ParquetSource(write_parquet(helpers.alternating(20))), splits={"train": 0.9, "test": 0.1}
    )
    _expect_setup_error(
        dm, DataError, r"^split 'val' is empty \(train=18, val=0, test=2\) .* data\.splits\.val > 0"
    )
    no_test = make_dm(
        ParquetSource(write_parquet(helpers.alternating(20))), splits={"train": 0.9, "val": 0.1}
    )
    no_test.setup("fit")  # fitting does not need a test split
    _expect_setup_error(
        no_test, DataError, r"split 'test' is empty .*data\.splits\.test > 0.*test=false", "test"
    )


def test_single_class_train_split_shows_counts(write_parquet, make_dm):
    path = write_parquet(["open"] * 6 + ["closed"] * 2, splits=["train"] * 6 + ["val"] * 2)
    _expect_setup_error(
        make_dm(ParquetSource(path)),
        DataError,
        r"^split 'train' has a single class \(closed=0, open=6\)",
    )


def test_parquet_without_required_column(write_parquet, make_dm, helpers):
    path = write_parquet(helpers.alternating(4))
    pd.read_parquet(path).drop(columns=["image_path", "image_bytes"]).to_parquet(path)
    _expect_setup_error(
        make_dm(ParquetSource(path)),
        DataError,
        r"missing required column 'image_path' .*columns found: label, source",
    )


def test_build_datamodule_config_errors(make_cfg, tmp_path):
    with pytest.raises(ConfigError, match=r"'data.path' = '\?\?\?'"):
        build_datamodule(make_cfg(["data=parquet"], tiny=False))
    dm = build_datamodule(
        make_cfg(["data=parquet", f"data.path={tmp_path}/missing.parquet"], tiny=False)
    )
    _expect_setup_error(dm, DataError, r"parquet path does not exist: .*missing\.parquet")
    with pytest.raises(ConfigError, match=r"^config key 'data.splits' .*sum to 1.1"):
        build_datamodule(make_cfg(["data.splits.val=0.2"]))
    with pytest.raises(ConfigError, match="data.cache.mode"):
        build_datamodule(make_cfg(["data.cache.mode=gpu"]))
    with pytest.raises(ConfigError, match="data.group_column"):
        build_datamodule(make_cfg(["data.group_column=video"]))


def test_parquet_and_folder_configs_build(write_parquet, make_cfg, tmp_path, helpers):
    path = write_parquet(helpers.alternating(30), video=[str(i // 3) for i in range(30)])
    cfg = make_cfg(
        ["data=parquet", f"data.path={path}", "data.group_column=video", "data.num_workers=0"],
        tiny=False,
    )
    dm = build_datamodule(cfg)
    dm.setup("fit")
    assert sum(dm.num_samples(s) for s in ("train", "val", "test")) == 30
    for i in range(5):
        helpers.write_png(tmp_path / "eyes" / "closed" / f"{i}.png", helpers.sample_image(i))
        helpers.write_png(tmp_path / "eyes" / "open" / f"{i}.png", helpers.sample_image(i))
    cfg = make_cfg(
        ["data=folder", f"data.root={tmp_path / 'eyes'}", "data.splits={train:0.6,val:0.4,test:0}"],
        tiny=False,
    )
    dm = build_datamodule(cfg)
    dm.setup("fit")
    assert dm.split_counts["train"] == {"closed": 3, "open": 3}


def test_disk_cache_is_reused_by_the_next_run(make_cfg, monkeypatch):
    from ocec_lightning.data import cache_fill

    cfg = make_cfg(["data.cache.mode=disk"])
    first = build_datamodule(cfg)
    first.setup("fit")
    monkeypatch.setattr(cache_fill, "decode_into", lambda *a, **k: pytest.fail("decoded twice"))
    second = build_datamodule(cfg)
    second.prepare_data()
    second.setup("fit")
    np.testing.assert_array_equal(np.asarray(second._images), np.asarray(first._images))
    assert second.split_counts == first.split_counts


def test_prepare_data_then_setup_reads_the_source_once(write_parquet, make_dm, helpers):
    # Lightning calls prepare_data() then setup(); the source (a parquet read) must not be
    # loaded twice in one process.
    source = ParquetSource(write_parquet(helpers.alternating(12)))
    loads = []
    load = source.load
    source.load = lambda: loads.append(1) or load()
    dm = make_dm(source, cache_mode="disk")
    dm.prepare_data()
    dm.setup("fit")
    dm.setup("fit")
    assert len(loads) == 1
    assert sum(dm.num_samples(s) for s in ("train", "val", "test")) == 12


def test_train_batches_do_not_depend_on_the_number_of_workers(write_parquet, make_dm, helpers):
    # Per-sample transforms are seeded per batch (seed, rank, epoch, batch number), not
    # per worker: 0 or 2 workers, and a second epoch, draw what they should.
    source = ParquetSource(write_parquet(helpers.alternating(48)))

    def epochs(workers: int) -> list[torch.Tensor]:
        dm = make_dm(
            source,
            batch_size=8,
            num_workers=workers,
            train_transforms=FLIP,
            persistent_workers=False,
            splits={"train": 1.0},
        )
        dm.setup("predict")
        loader = dm.train_dataloader()
        out = []
        for epoch in (0, 1, 0):
            loader.batch_sampler.set_epoch(epoch)
            out.append(torch.cat([images for images, _ in loader]))
        return out

    main, workers = epochs(0), epochs(2)
    assert all(torch.equal(a, b) for a, b in zip(main, workers, strict=True))
    assert torch.equal(main[0], main[2]) and not torch.equal(main[0], main[1])


# -- the `data` group is the datamodule's arguments ---------------------------------------
def test_hydra_instantiate_builds_the_datamodule_from_the_data_group(make_cfg):
    from hydra.utils import instantiate

    cfg = make_cfg(["task=segmentation", "aug=balanced", "seed=5", "test_split=val"])
    dm = instantiate(cfg.data)  # conf/data_common.yaml's _target_, nothing mapped by hand
    assert isinstance(dm, OCECDataModule) and dm._images is None
    assert (dm.task, dm.num_classes, dm.seed, dm.test_split) == ("segmentation", 11, 5, "val")
    assert dm.class_names == list(cfg.task.class_names)
    assert dm.image_size == (64, 64) and dm.batch_size == 8
    assert "HorizontalFlip" in dm.augmentation.names()  # aug.batched.segmentation
    assert type(dm.source).__name__ == "SyntheticFacesSource"


def test_the_linked_keys_are_the_ones_data_common_links():
    from omegaconf import OmegaConf

    from ocec_lightning.config.compose import conf_dir
    from ocec_lightning.data.build import LINKED_KEYS

    common = OmegaConf.load(conf_dir() / "data_common.yaml")
    linked = [k for k in common if OmegaConf.is_interpolation(common, k)]
    assert sorted(linked) == sorted(LINKED_KEYS)


def test_the_record_keeps_links_and_rebuilds_without_hydra(make_cfg):
    from omegaconf import OmegaConf

    cfg = make_cfg(["test_split=val", "data.batch_size=16"])
    record = build_datamodule(cfg).hparams["config"]
    assert record["data"]["train_transforms"] == "${aug.${task.name}}"
    assert record["data"]["batch_size"] == 16 and record["seed"] == 42
    # What ocec-eval / ocec-export do: the record alone, with evaluation's empty aug.
    run_cfg = OmegaConf.create(record)
    run_cfg.aug = {"name": "none", "classification": [], "batch": None}
    dm = build_datamodule(run_cfg)
    assert dm.test_split == "test" and dm.batch_size == 16  # the record has no test_split
    assert dm.augmentation.names() == []


def test_a_record_from_before_the_target_still_builds(make_cfg):
    from omegaconf import OmegaConf, open_dict

    from ocec_lightning.data.build import LINKED_KEYS

    run_cfg = OmegaConf.create(build_datamodule(make_cfg()).hparams["config"])
    with open_dict(run_cfg):
        for key in ("_target_", "_recursive_", *LINKED_KEYS):
            del run_cfg.data[key]
    dm = build_datamodule(run_cfg)
    assert isinstance(dm, OCECDataModule) and dm.class_names == ["closed", "open"]


def test_every_data_argument_is_checked_with_its_key(make_cfg):
    with pytest.raises(ConfigError, match=r"'data.cache.mod' = 'ram' .*one of the keys mode, dir"):
        build_datamodule(make_cfg(["+data.cache.mod=ram"]))
    with pytest.raises(ConfigError, match=r"^config key 'test_split' = 'train'"):
        build_datamodule(make_cfg(["test_split=train"]))
    with pytest.raises(ConfigError, match=r"^config key 'aug.batched.classification\[0\]"):
        build_datamodule(make_cfg(["aug=none", "aug.batched.classification=[1]"]))
    with pytest.raises(ConfigError, match=r"'data.source' = None .*data=synthetic_eyes"):
        OCECDataModule(source=None)


def test_num_workers_is_capped_at_the_cores(write_parquet, make_dm, monkeypatch, caplog):
    """A recipe's 16 workers on a 2-core machine: 2 worker processes, said once."""
    from ocec_lightning.data import datamodule

    monkeypatch.setattr(datamodule, "available_cores", lambda: 2)
    source = ParquetSource(write_parquet(["closed", "open"] * 4))
    with caplog.at_level("INFO", logger="ocec_lightning.data"):
        dm = make_dm(source, num_workers=16, persistent_workers=False)
    assert (dm.num_workers, dm.loader_workers) == (16, 2)
    capped = [r.getMessage() for r in caplog.records if "capped" in r.getMessage()]
    assert capped == ["data.num_workers=16 capped at the 2 cores this process may use"]
    dm.setup("predict")
    assert dm.train_dataloader().num_workers == 2
    assert make_dm(source, num_workers=1).loader_workers == 1  # below the cores: as given
