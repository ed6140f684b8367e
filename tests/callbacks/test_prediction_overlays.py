"""PredictionOverlays: palette validation and the image | truth | prediction grid."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

from ocec_lightning.callbacks.prediction_overlays import PredictionOverlays
from ocec_lightning.data.table import task_defaults
from ocec_lightning.errors import ConfigError
from ocec_lightning.viz.overlays import default_palette, overlay_grid

PALETTE = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)
ALPHA = 0.55  # overlay()'s default blend weight of the class colour


def _assert_blended(panel: np.ndarray, grey: int, colour: np.ndarray) -> None:
    """Every pixel of `panel` is the grey image blended with `colour` (to rounding)."""
    expected = (1 - ALPHA) * grey + ALPHA * colour.astype(np.float64)
    np.testing.assert_allclose(panel, np.broadcast_to(expected, panel.shape), atol=1)


def test_configured_palette_is_used_as_given() -> None:
    # Hydra hands the callback a ListConfig.
    callback = PredictionOverlays(palette=OmegaConf.create([[0, 0, 0], [10, 20, 30], [1, 2, 3]]))
    colours = callback.class_colours(2)
    assert colours.dtype == np.uint8
    np.testing.assert_array_equal(colours, [[0, 0, 0], [10, 20, 30]])


def test_segmentation_task_palette_is_valid() -> None:
    task = task_defaults("segmentation")
    colours = PredictionOverlays(palette=task["palette"]).class_colours(task["num_classes"])
    assert colours.shape == (task["num_classes"], 3)


@pytest.mark.parametrize(
    "palette",
    [
        [[0, 0]],  # not a triple
        [[0, 0, 0, 0]],
        [[0, 0, 256]],  # out of range
        [[-1, 0, 0]],
        [[0.5, 0, 0]],  # not an int
        [[True, 0, 0]],
        [["r", "g", "b"]],
        [],  # no colours
        5,  # not a list
    ],
)
def test_bad_palette_is_a_config_error(palette: object) -> None:
    # The bare argument name; the instantiate wrapper scopes it under the config node.
    with pytest.raises(ConfigError) as err:
        PredictionOverlays(palette=palette)
    assert err.value.key == "palette"
    assert "[R, G, B]" in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"every_n_epochs": 0}, "every_n_epochs"),
        ({"every_n_epochs": 2.5}, "every_n_epochs"),
        ({"num_samples": 0}, "num_samples"),
        ({"num_samples": "8"}, "num_samples"),
    ],
)
def test_bad_counts_name_their_key(kwargs: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        PredictionOverlays(**kwargs)
    assert err.value.key == key
    assert ">= 1" in str(err.value)


def test_palette_needs_a_colour_per_class() -> None:
    callback = PredictionOverlays(palette=PALETTE.tolist())
    # Checked at setup, outside the instantiate wrapper: the key is the full config path.
    with pytest.raises(ConfigError, match=r"task\.num_classes=4") as err:
        callback.class_colours(4)
    assert err.value.key == "callbacks.prediction_overlays.palette"


def test_no_palette_falls_back_to_tab20() -> None:
    colours = PredictionOverlays().class_colours(5)
    assert colours.shape == (5, 3) and colours.dtype == np.uint8
    np.testing.assert_array_equal(colours, default_palette(5))
    assert len({tuple(c) for c in colours.tolist()}) == 5


def test_overlay_grid_shape_and_colours() -> None:
    n, h, w = 2, 4, 6
    images = np.full((n, h, w, 3), 100, dtype=np.uint8)
    targets = np.zeros((n, h, w), dtype=np.uint8)
    targets[:, :, w // 2 :] = 2
    targets[1, 0, 0] = 255  # ignore_index
    preds = np.ones((n, h, w), dtype=np.int64)
    grid = overlay_grid(images, targets, preds, PALETTE)
    # Rows of [image | 2 px | truth | 2 px | prediction], 2 px between rows.
    assert grid.shape == (n * h + 2, 3 * w + 4, 3) and grid.dtype == np.uint8
    assert (grid[h : h + 2] == 255).all()
    assert (grid[:, w : w + 2] == 255).all() and (grid[:, 2 * w + 2 : 2 * w + 4] == 255).all()
    first, second = grid[:h], grid[h + 2 :]
    np.testing.assert_array_equal(first[:, :w], images[0])  # the input, untouched
    truth, pred = first[:, w + 2 : 2 * w + 2], first[:, 2 * w + 4 :]
    _assert_blended(truth[:, : w // 2], 100, PALETTE[0])
    _assert_blended(truth[:, w // 2 :], 100, PALETTE[2])
    _assert_blended(pred, 100, PALETTE[1])
    # Ignored pixels keep the image colour.
    np.testing.assert_array_equal(second[0, w + 2], [100, 100, 100])
