"""build_callbacks: the `callbacks` group's entries, in config order, null ones skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    RichModelSummary,
    RichProgressBar,
    StochasticWeightAveraging,
)
from omegaconf import OmegaConf

from ocec_lightning.analysis.curves.callback import CurveReport
from ocec_lightning.callbacks import build_callbacks
from ocec_lightning.callbacks.classification_plots import ClassificationPlots
from ocec_lightning.callbacks.ema import EMA
from ocec_lightning.callbacks.finite_guard import FiniteGuard
from ocec_lightning.config.compose import compose_config
from ocec_lightning.errors import ConfigError

GROUP = [
    ModelCheckpoint,
    EarlyStopping,
    EMA,
    LearningRateMonitor,
    RichProgressBar,
    RichModelSummary,
    CurveReport,
    FiniteGuard,
]
# conf/task/classification.yaml adds its callbacks after the group's, whatever the option.
TASK = [ClassificationPlots]
DEFAULT = [*GROUP, *TASK]


def _types(overrides: list[str], tmp_path: Path) -> list[type]:
    cfg = compose_config(overrides, output_dir=tmp_path)
    callbacks = build_callbacks(cfg.callbacks)
    assert all(isinstance(cb, Callback) for cb in callbacks)
    return [type(cb) for cb in callbacks]


def test_default_group_in_config_order(tmp_path: Path) -> None:
    cfg = compose_config([], output_dir=tmp_path)
    callbacks = build_callbacks(cfg.callbacks)
    assert [type(cb) for cb in callbacks] == DEFAULT
    checkpoint, ema = callbacks[0], callbacks[2]
    assert Path(checkpoint.dirpath) == (tmp_path / "checkpoints").resolve()
    assert checkpoint.save_top_k == 3 and checkpoint.save_last
    assert ema.decay == 0.999 and ema.warmup and ema.update_every_n_steps == 1
    assert ema.update_starting_at_step is None and ema.update_starting_at_epoch is None


@pytest.mark.parametrize("override", ["~callbacks.ema", "callbacks.ema=null"])
def test_null_entries_are_skipped(tmp_path: Path, override: str) -> None:
    assert _types([override], tmp_path) == [t for t in DEFAULT if t is not EMA]


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("minimal", [ModelCheckpoint, FiniteGuard, *TASK]),
        ("swa", [*GROUP, StochasticWeightAveraging, *TASK]),
    ],
)
def test_group_options(tmp_path: Path, option: str, expected: list[type]) -> None:
    assert _types([f"callbacks={option}"], tmp_path) == expected


def test_none_or_empty_config_gives_no_callbacks() -> None:
    assert build_callbacks(None) == []
    assert build_callbacks(OmegaConf.create({})) == []


def test_entry_without_target_names_its_key(tmp_path: Path) -> None:
    cfg = compose_config(["+callbacks.extra={patience:3}"], output_dir=tmp_path)
    with pytest.raises(ConfigError) as info:
        build_callbacks(cfg.callbacks)
    assert info.value.key == "callbacks.extra"
    assert "'callbacks.extra'" in str(info.value) and "\n" not in str(info.value)


def test_bad_ema_decay_is_reported_under_its_config_key(tmp_path: Path) -> None:
    cfg = compose_config(["callbacks.ema.decay=1.0"], output_dir=tmp_path)
    with pytest.raises(ConfigError) as info:
        build_callbacks(cfg.callbacks)
    assert info.value.key == "callbacks.ema.decay"
    assert "\n" not in str(info.value)
