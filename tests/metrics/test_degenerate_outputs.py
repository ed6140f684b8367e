"""Degenerate validation outputs give metrics, not a crash: a collapsed model (every
probability equal), a diverged one (every probability NaN), single-class targets, and a
checkpoint whose tuned threshold is NaN."""

from __future__ import annotations

import math
import warnings
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
from torch import Tensor, nn
from torchmetrics.classification import BinaryPrecisionRecallCurve

from ocec_lightning.config import compose_config
from ocec_lightning.data import build_datamodule
from ocec_lightning.tasks.classification import best_f1_threshold, usable_threshold
from ocec_lightning.validation import build_task

NAN = float("nan")
TINY_DATA = ["data.source.num_samples=240", "data.batch_size=32", "data.num_workers=0"]


def _curve(probs: list[float], labels: list[int]) -> BinaryPrecisionRecallCurve:
    curve = BinaryPrecisionRecallCurve()
    curve.update(torch.tensor(probs), torch.tensor(labels))
    return curve


@pytest.mark.filterwarnings("ignore:No positive samples found in target")
@pytest.mark.parametrize(
    ("probs", "labels", "threshold", "f1"),
    [
        ([0.3] * 4, [0, 1, 1, 0], 0.3, 2 / 3),  # collapsed: one threshold, 0-d in torchmetrics
        ([0.3] * 4, [1, 1, 1, 1], 0.3, 1.0),  # collapsed, one class
        ([0.3] * 4, [0, 0, 0, 0], 0.3, 0.0),
        ([0.8], [1], 0.8, 1.0),  # one sample
        ([1.0, 1.0, 0.0], [1, 0, 0], 1.0, 2 / 3),  # saturated sigmoid
    ],
)
def test_degenerate_scores_give_a_threshold_in_range(
    probs: list[float], labels: list[int], threshold: float, f1: float
) -> None:
    got_threshold, got_f1 = best_f1_threshold(_curve(probs, labels))
    assert got_threshold == pytest.approx(threshold) and got_f1 == pytest.approx(f1)


def test_nan_scores_are_never_picked_as_the_threshold() -> None:
    assert all(math.isnan(v) for v in best_f1_threshold(_curve([NAN] * 4, [0, 1, 0, 1])))
    # Some NaN: the best finite threshold. (torchmetrics sees a score outside [0, 1] and
    # applies a sigmoid to all of them: the threshold is sigmoid(0.6).)
    threshold, f1 = best_f1_threshold(_curve([0.2, NAN, 0.6, 0.9], [0, 1, 1, 1]))
    assert threshold == pytest.approx(torch.sigmoid(torch.tensor(0.6)).item())
    assert 0.0 < f1 <= 1.0


def test_usable_threshold_falls_back_to_one_half() -> None:
    assert usable_threshold(0.3) == 0.3 and usable_threshold(1.0) == 1.0
    for bad in (NAN, float("inf"), -0.1, 1.5):
        with pytest.warns(UserWarning, match="testing at 0.5 instead"):
            assert usable_threshold(bad) == 0.5


class _Constant(nn.Module):
    """A collapsed (`value` finite) or diverged (`value` NaN) classifier."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, images: Tensor) -> Tensor:
        return torch.full((len(images),), self.value) + self.bias


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, _isolated_cache: None) -> Any:
    cfg = compose_config(
        [*TINY_DATA, "model.base_channels=8", "model.num_blocks=4"],
        output_dir=tmp_path_factory.mktemp("run"),
    )
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    return cfg, datamodule


@pytest.fixture()
def task_and_data(data: Any) -> tuple[Any, Any]:
    cfg, datamodule = data
    return build_task(cfg), datamodule


def _trainer() -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=2,
        limit_test_batches=2,
    )


@pytest.mark.parametrize("logit", [0.7, NAN], ids=["collapsed", "diverged"])
def test_validation_of_a_degenerate_model_gives_metrics(task_and_data, logit: float) -> None:
    task, datamodule = task_and_data
    task.model = _Constant(logit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchmetrics: undefined precision etc.
        metrics = _trainer().validate(task, datamodule=datamodule)[0]
    assert {"val/f1", "val/auroc", "val/f1_best", "val/threshold"} <= set(metrics)
    if math.isnan(logit):  # no usable threshold: the one in use is kept
        assert metrics["val/threshold"] == 0.5 and math.isnan(metrics["val/f1_best"])
    else:
        assert metrics["val/threshold"] == pytest.approx(torch.sigmoid(torch.tensor(0.7)))
    assert task.threshold == pytest.approx(metrics["val/threshold"])


def test_testing_with_a_nan_threshold_tests_at_one_half(task_and_data) -> None:
    task, datamodule = task_and_data
    task.threshold = NAN  # as a diverged run's checkpoint carries it
    datamodule.setup("test")
    with pytest.warns(UserWarning, match="threshold nan is not a number in"):
        metrics = _trainer().test(task, datamodule=datamodule, weights_only=True)[0]
    assert metrics["test/threshold"] == 0.5
    assert 0.0 <= metrics["test/f1_tuned"] <= 1.0
