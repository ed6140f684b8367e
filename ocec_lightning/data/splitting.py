"""Train/val/test assignment: stratified by label and, when groups are given, by group.

Upstream OCEC split per sample, and its fork found that this made validation meaningless
(frames of one video or subject on both sides). So when a table has groups (video,
subject), every group goes to exactly one split; the assignment is a greedy least-squares
fit of each split's per-class counts to its target, which keeps both the split ratios and
the class balance close to the requested ones. Without groups the split is exactly
stratified. Both are deterministic for a given seed. With few groups, every split whose
ratio is > 0 still gets at least one group (taken from the split holding the most). A
split column already present in the data always wins; these functions only fill it when
it is absent.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ocec_lightning.checks import SPLIT_NAMES, split_ratios
from ocec_lightning.errors import ConfigError, DataError
from ocec_lightning.synthetic.common import largest_remainder


def validate_ratios(ratios: Mapping[str, float], key: str = "data.splits") -> dict[str, float]:
    """The split ratios (``checks.split_ratios``) as a plain dict with all three splits
    present; training also needs a train split."""
    shares = split_ratios(key, ratios)
    if shares["train"] <= 0:
        raise ConfigError(key, dict(ratios), "a train ratio > 0 (training needs a train split)")
    return shares


def assign_splits(
    labels: np.ndarray,
    groups: np.ndarray | None,
    ratios: Mapping[str, float],
    seed: int,
) -> np.ndarray:
    """Return an array of split names ("train"/"val"/"test") for each sample.

    Without `groups` each class is shuffled and cut at the ratio boundaries (largest
    remainder rounding), so every split has the dataset's class balance. With `groups`
    no group is divided between splits. A split with ratio 0 receives nothing.
    """
    shares = validate_ratios(ratios)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    if groups is None:
        return _stratified(labels, shares, rng)
    return _grouped(labels, np.asarray(groups), shares, rng)


def _stratified(
    labels: np.ndarray, shares: dict[str, float], rng: np.random.Generator
) -> np.ndarray:
    out = np.empty(len(labels), dtype=object)
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        quotas = largest_remainder(len(rows), [shares[s] for s in SPLIT_NAMES])
        bounds = np.cumsum(quotas)[:-1]
        for name, part in zip(SPLIT_NAMES, np.split(rows, bounds), strict=True):
            out[part] = name
    return out


def _grouped(
    labels: np.ndarray, groups: np.ndarray, shares: dict[str, float], rng: np.random.Generator
) -> np.ndarray:
    classes, label_idx = np.unique(labels, return_inverse=True)
    group_keys, group_idx = np.unique(
        pd.Series(groups, dtype="object").astype(str), return_inverse=True
    )
    # counts[g, c]: samples of class c in group g.
    counts = np.zeros((len(group_keys), len(classes)), dtype=np.int64)
    np.add.at(counts, (group_idx, label_idx), 1)

    ratio = np.array([shares[s] for s in SPLIT_NAMES])
    target = ratio[:, None] * counts.sum(axis=0)[None, :]  # [split, class]
    filled = np.zeros_like(target)
    open_splits = ratio > 0

    # Shuffle, then place big groups first (they are the hard ones to fit); the shuffle
    # makes ties between equal-sized groups depend on the seed.
    order = rng.permutation(len(group_keys))
    order = order[np.argsort(-counts[order].sum(axis=1), kind="stable")]
    choice = np.empty(len(group_keys), dtype=np.int64)
    for g in order:
        # Adding group g to split s changes the squared error sum_c (filled - target)^2 by
        # sum_c g_c * (2 * (filled - target) + g_c); the g_c^2 part is the same for every
        # split, so the best split is the one with the largest deficit weighted by g's mix.
        gain = (target - filled) @ counts[g]
        gain[~open_splits] = -np.inf
        best = int(np.argmax(gain))
        choice[g] = best
        filled[best] += counts[g]
    _fill_empty_splits(choice, order, open_splits)
    return np.asarray(SPLIT_NAMES, dtype=object)[choice[group_idx]]


def _fill_empty_splits(choice: np.ndarray, order: np.ndarray, open_splits: np.ndarray) -> None:
    """Give every split with a ratio > 0 at least one group, when there are enough groups.

    With few groups the least-squares fit may leave a small split empty (5 subjects at
    0.8/0.1/0.1: four to train, one to val, none to test), and an empty split fails later
    anyway. Move the last-placed (smallest) group of the split holding the most groups.
    """
    for split in np.flatnonzero(open_splits):
        held = np.bincount(choice, minlength=len(open_splits))
        donor = int(np.argmax(held))
        if held[split] > 0 or held[donor] < 2:
            continue
        smallest = next(g for g in order[::-1] if choice[g] == donor)
        choice[smallest] = split


def resolve_splits(frame: pd.DataFrame, ratios: Mapping[str, float], seed: int) -> np.ndarray:
    """Split names per row: the table's own split column if it has one, else assigned.

    A split column that is filled for some rows but not others is ambiguous (the rest
    could be meant for any split), so it is rejected with the first empty row.
    """
    given = frame["split"] if "split" in frame else pd.Series([None] * len(frame), dtype="object")
    missing = given.isna().to_numpy()
    if not missing.all():
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise DataError(
                f"{frame['ref'].iloc[row]}: split is empty while {int((~missing).sum())} other "
                "rows have one; fill the split column for every row, or drop it to split by "
                "data.splits"
            )
        return given.to_numpy(dtype=object)
    groups = None
    if "group" in frame and frame["group"].notna().any():
        group_col = frame["group"]
        if group_col.isna().any():
            row = int(np.flatnonzero(group_col.isna().to_numpy())[0])
            raise DataError(
                f"{frame['ref'].iloc[row]}: group is empty; every row needs a group value "
                "when data.group_column is set"
            )
        groups = group_col.to_numpy(dtype=object)
    return assign_splits(frame["label"].to_numpy(), groups, ratios, seed)


def check_split_sizes(
    sizes: Mapping[str, int],
    needed: tuple[str, ...],
    stage: object,
    train_counts: Mapping[str, int] | None,
    task: str,
) -> None:
    """DataError when a split the stage reads is empty, or the train split (its samples
    per class, or for segmentation images per class) has fewer than two classes."""
    stage_name = getattr(stage, "value", stage) or "fit"  # Lightning passes a str enum
    summary = ", ".join(f"{k}={v}" for k, v in sizes.items())
    for name in needed:
        if sizes[name] == 0:
            hint = f"set data.splits.{name} > 0 (e.g. 0.1) or give the data '{name}' rows"
            if name == "test":
                hint += ", or test on val (test_split=val) or not at all (test=false)"
            raise DataError(f"split '{name}' is empty ({summary}) for stage '{stage_name}'; {hint}")
    if train_counts is None or sum(1 for v in train_counts.values() if v > 0) >= 2:
        return
    detail = ", ".join(f"{k}={v}" for k, v in train_counts.items())
    if task == "segmentation":
        raise DataError(
            f"split 'train' has labelled pixels of fewer than two classes (images "
            f"containing each class: {detail}); training needs at least two "
            "classes; check the masks and task.ignore_index"
        )
    raise DataError(
        f"split 'train' has a single class ({detail}); training needs samples of every class"
    )
