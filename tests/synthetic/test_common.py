"""What the synthetic generators share: argument checks, chunked rendering, subject splits."""

from __future__ import annotations

import numpy as np
import pytest

from ocec_lightning.errors import ConfigError
from ocec_lightning.synthetic.common import (
    assign_subject_splits,
    check_render_args,
    largest_remainder,
    split_counts,
)
from ocec_lightning.synthetic.eyes import generate_eyes
from ocec_lightning.synthetic.faces import generate_faces


@pytest.mark.parametrize("generate", [generate_eyes, generate_faces])
def test_generate_rejects_bad_arguments(generate) -> None:
    with pytest.raises(ConfigError, match="workers"):
        generate(4, seed=0, workers=0)
    with pytest.raises(ConfigError, match="'n'"):
        generate(-1, seed=0)
    with pytest.raises(ConfigError, match="start"):
        generate(2, seed=0, start=-5)


@pytest.mark.parametrize(
    ("args", "key"),
    [
        ((-1, 32, 32, 1, 8), "'seed'"),
        ((0, 4, 32, 1, 8), r"'height' = 4 .*>= 8"),
        ((0, 32, 4, 1, 16), r"'width' = 4 .*>= 16"),
        ((0, 32, 32, 0, 8), "'samples_per_subject'"),
        ((0, 32, 32, 1, 8, 0), "'workers'"),
    ],
)
def test_render_args_are_checked_by_name(args: tuple, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        check_render_args(*args)


def test_largest_remainder_and_non_empty_splits() -> None:
    np.testing.assert_array_equal(largest_remainder(10, [0.8, 0.1, 0.1]), [8, 1, 1])
    np.testing.assert_array_equal(largest_remainder(7, [0.5, 0.25, 0.25]), [3, 2, 2])
    np.testing.assert_array_equal(largest_remainder(2, [0.5, 0.25, 0.25]), [1, 1, 0])  # tie: first
    np.testing.assert_array_equal(largest_remainder(4, [0.8, 0.1, 0.1]), [3, 1, 0])
    # Subject splits give each split with a positive ratio at least one subject.
    np.testing.assert_array_equal(split_counts(4, [0.8, 0.1, 0.1]), [2, 1, 1])
    np.testing.assert_array_equal(split_counts(4, [1.0, 0.0, 0.0]), [4, 0, 0])


def test_subject_splits_check_and_accept_either_ratio_form() -> None:
    by_name = assign_subject_splits(30, 1, {"train": 0.6, "val": 0.4}, salt=5)
    np.testing.assert_array_equal(by_name, assign_subject_splits(30, 1, (0.6, 0.4, 0.0), salt=5))
    with pytest.raises(ConfigError, match=r"'ratios' = \('a', 0.5, 0.5\)"):
        assign_subject_splits(30, 1, ("a", 0.5, 0.5), salt=5)
