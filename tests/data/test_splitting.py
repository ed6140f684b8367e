"""Split assignment: stratified, grouped, deterministic, and the split column wins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from ocec_lightning.checks import split_ratios
from ocec_lightning.data.splitting import assign_splits, resolve_splits
from ocec_lightning.data.table import make_frame
from ocec_lightning.errors import ConfigError, DataError

RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}


def _share_open(labels: np.ndarray, splits: np.ndarray, name: str) -> float:
    return float(labels[splits == name].mean())


def test_stratified_split_sizes_and_class_balance():
    labels = (np.random.default_rng(0).random(1000) < 0.3).astype(np.int64)
    splits = assign_splits(labels, None, RATIOS, seed=1)
    assert {name: int((splits == name).sum()) for name in RATIOS} == {
        "train": 800,
        "val": 100,
        "test": 100,
    }
    for name in RATIOS:
        assert abs(_share_open(labels, splits, name) - labels.mean()) < 0.01


def test_split_is_deterministic_per_seed():
    labels = np.arange(200) % 2
    first = assign_splits(labels, None, RATIOS, seed=5)
    assert (assign_splits(labels, None, RATIOS, seed=5) == first).all()
    assert (assign_splits(labels, None, RATIOS, seed=6) != first).any()


def test_zero_test_ratio_gives_no_test_split():
    labels = np.arange(101) % 2
    splits = assign_splits(labels, None, {"train": 0.9, "val": 0.1, "test": 0.0}, seed=0)
    assert set(splits) == {"train", "val"}
    groups = np.arange(101) // 5
    assert "test" not in set(assign_splits(labels, groups, {"train": 0.9, "val": 0.1}, seed=0))


def test_grouped_split_keeps_groups_whole_and_roughly_stratified():
    rng = np.random.default_rng(0)
    sizes = rng.integers(5, 40, size=300)
    groups = np.repeat(np.arange(300), sizes)
    # Each group leans open or closed, like videos of one person with eyes mostly open.
    lean = rng.random(300)[groups]
    labels = (rng.random(len(groups)) < 0.2 + 0.6 * lean).astype(np.int64)
    splits = assign_splits(labels, groups, RATIOS, seed=3)

    per_group = pd.Series(splits).groupby(groups).nunique()
    assert (per_group == 1).all()  # no group crosses splits
    n = len(labels)
    for name, ratio in RATIOS.items():
        assert abs((splits == name).sum() / n - ratio) < 0.01
        assert abs(_share_open(labels, splits, name) - labels.mean()) < 0.01
    assert (assign_splits(labels, groups, RATIOS, seed=3) == splits).all()


def test_ratio_validation_names_data_splits():
    labels = np.arange(10) % 2
    with pytest.raises(ConfigError, match=r"config key 'data.splits' .* sum to 1.1"):
        assign_splits(labels, None, {"train": 0.8, "val": 0.2, "test": 0.1}, seed=0)
    with pytest.raises(ConfigError, match="unknown split"):
        assign_splits(labels, None, {"train": 0.8, "holdout": 0.2}, seed=0)
    with pytest.raises(ConfigError, match="data.splits"):
        assign_splits(labels, None, {"train": 1.2, "val": -0.2}, seed=0)
    with pytest.raises(ConfigError, match=r"'data.splits' .* train ratio > 0"):
        assign_splits(labels, None, {"val": 0.5, "test": 0.5}, seed=0)
    with pytest.raises(ConfigError, match=r"'data.splits' = \{'train': 'most'"):
        assign_splits(labels, None, {"train": "most", "val": 0.2}, seed=0)


@pytest.mark.parametrize(
    "values",
    [
        {"train": 0.7, "val": 0.3},
        {"train": 0.7, "val": 0.3, "test": 0},
        OmegaConf.create({"val": 0.3, "train": 0.7}),
        (0.7, 0.3, 0),
        [0.7, 0.3, 0.0],
    ],
)
def test_split_ratios_take_a_mapping_or_three_fractions(values):
    shares = split_ratios("ratios", values)
    assert shares == {"train": 0.7, "val": 0.3, "test": 0.0}
    assert list(shares) == ["train", "val", "test"]
    assert all(type(v) is float for v in shares.values())


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ((0.9, 0.1), r"'ratios' = \(0.9, 0.1\) .*fractions >= 0 for train, val, test"),
        ((0.8, 0.1, 0.05), "sum to 0.95"),
        ((1.2, -0.1, -0.1), "fractions >= 0"),
        ((0.5, float("nan"), 0.5), "fractions >= 0"),
        ((True, 0, 0), "fractions >= 0"),
        (("a", 0.5, 0.5), "fractions >= 0"),
        ({"train": 0.9, "dev": 0.1}, r"unknown split\(s\) \['dev'\]"),
        (0.8, "fractions >= 0"),
    ],
)
def test_split_ratios_reject(values, match):
    with pytest.raises(ConfigError, match=match):
        split_ratios("ratios", values)


def _frame(splits=None, groups=None, n=6):
    return make_frame(np.arange(n) % 2, [f"t.parquet row {i}" for i in range(n)], splits, groups)


def test_existing_split_column_is_kept():
    given = ["train", "train", "val", "val", "test", "test"]
    assert resolve_splits(_frame(given), RATIOS, seed=0).tolist() == given


def test_partial_split_column_names_the_first_empty_row():
    with pytest.raises(
        DataError, match=r"t.parquet row 2: split is empty while 4 other rows have one"
    ):
        resolve_splits(_frame(["train", "val", None, "test", None, "train"]), RATIOS, seed=0)


def test_missing_split_column_uses_groups_when_present():
    frame = _frame(groups=["a", "a", "b", "b", "c", "c"])
    splits = resolve_splits(frame, {"train": 0.34, "val": 0.33, "test": 0.33}, seed=0)
    assert splits[0] == splits[1] and splits[2] == splits[3] and splits[4] == splits[5]
    assert set(splits) == {"train", "val", "test"}
    with pytest.raises(DataError, match=r"t.parquet row 1: group is empty"):
        resolve_splits(_frame(groups=["a", None, "b", "b", "c", "c"]), RATIOS, seed=0)


def test_few_groups_still_fill_every_requested_split():
    # 5 subjects at 0.8/0.1/0.1: the least-squares fit alone gives test nothing.
    groups = np.arange(48) // 10
    labels = np.zeros(48, dtype=np.int64)
    splits = assign_splits(labels, groups, RATIOS, seed=0)
    assert set(splits) == {"train", "val", "test"}
    assert (pd.Series(splits).groupby(groups).nunique() == 1).all()
    assert (splits == "train").sum() >= 28  # train keeps the most groups
    # A split with ratio 0 stays empty, and two groups cannot fill three splits.
    assert "test" not in set(assign_splits(labels, groups, {"train": 0.9, "val": 0.1}, seed=0))
    two = assign_splits(np.zeros(4, np.int64), np.array([0, 0, 1, 1]), RATIOS, seed=0)
    assert len(set(two)) == 2
