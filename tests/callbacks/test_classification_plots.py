"""ClassificationPlots: the plotted numbers are torchmetrics' (and the task's best-F1
threshold), the PNGs are readable images, plots/latest|best|epoch_### follow the monitor,
and a short real training writes them into the run directory."""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torchmetrics.classification import (
    BinaryAUROC,
    BinaryAveragePrecision,
    BinaryConfusionMatrix,
    BinaryF1Score,
    BinaryPrecisionRecallCurve,
)

from ocec_lightning.callbacks.classification_plots import (
    FILE_NAMES,
    ClassificationPlots,
    curve_data,
    write_plots,
)
from ocec_lightning.errors import ConfigError
from ocec_lightning.tasks.classification import best_f1_threshold


def _scores(n: int = 400, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Overlapping class scores: about 60 % open, AUROC around 0.9."""
    gen = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, generator=gen) < 0.6).long()
    logits = 1.8 * (2 * labels.float() - 1) + 1.2 * torch.randn(n, generator=gen)
    return torch.sigmoid(logits), labels


def test_curve_data_matches_torchmetrics_and_the_tasks_threshold() -> None:
    probs, labels = _scores()
    curve = BinaryPrecisionRecallCurve()
    curve.update(probs, labels)
    tuned, tuned_f1 = best_f1_threshold(curve)
    data = curve_data(probs, labels, tuned)

    assert data.num_samples == 400 and data.num_positive == int(labels.sum())
    assert data.auroc == pytest.approx(float(BinaryAUROC()(probs, labels)), abs=1e-6)
    assert data.ap == pytest.approx(float(BinaryAveragePrecision()(probs, labels)), abs=1e-6)
    assert 0.8 < data.auroc < 0.99
    assert data.best_threshold == pytest.approx(tuned) and data.best_f1 == pytest.approx(tuned_f1)
    for t in (tuned, 0.5):
        expected = BinaryConfusionMatrix(threshold=t)(probs, labels).numpy()
        np.testing.assert_array_equal(data.confusion[t], expected)
        assert data.rates(t)["f1"] == pytest.approx(
            float(BinaryF1Score(threshold=t)(probs, labels))
        )
    assert len(data.thresholds) == len(data.f1) == len(data.precision) - 1
    assert data.roc_fpr[0] == 0 and data.roc_tpr[-1] == 1


def test_one_class_labels_give_no_auroc_but_still_plot(tmp_path: Path) -> None:
    probs = torch.linspace(0.05, 0.95, 50)
    data = curve_data(probs, torch.ones(50, dtype=torch.long), 0.5)
    assert data.auroc is None and data.ap == pytest.approx(1.0)
    data = curve_data(probs, torch.zeros(50, dtype=torch.long), 0.5)
    assert data.auroc is None and data.ap is None
    assert len(write_plots(data, tmp_path, ["closed", "open"], "one class")) == 4
    with pytest.raises(ValueError, match="non-empty"):
        curve_data(torch.empty(0), torch.empty(0), 0.5)


def test_write_plots_gives_four_readable_pngs(tmp_path: Path) -> None:
    probs, labels = _scores()
    paths = write_plots(curve_data(probs, labels, 0.42), tmp_path / "p", ["closed", "open"], "t")
    assert [p.name for p in paths] == list(FILE_NAMES)
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG"
            width, height = image.size
            assert 450 <= width <= 1600 and 400 <= height <= 1000
            assert np.asarray(image.convert("L")).std() > 10  # not a blank canvas


class _FakeTask:
    """What the callback reads of a ClassificationTask."""

    def __init__(self) -> None:
        self.threshold = 0.5
        self.hparams = SimpleNamespace(class_names=["closed", "open"])
        self.calls = 0

    def val_scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls += 1
        return _scores(200, seed=self.calls)


def _epoch(callback, task, trainer, epoch: int, score: float, sanity: bool = False) -> None:
    trainer.current_epoch, trainer.sanity_checking = epoch, sanity
    trainer.callback_metrics = {"val/loss": torch.tensor(score)}
    callback.on_validation_epoch_end(trainer, task)
    callback.on_validation_end(trainer, task)


def test_latest_best_and_every_n_epochs_follow_the_monitor(tmp_path: Path) -> None:
    callback = ClassificationPlots(monitor="val/loss", mode="min", every_n_epochs=2)
    task = _FakeTask()
    trainer = SimpleNamespace(
        is_global_zero=True, default_root_dir=str(tmp_path), checkpoint_callback=None
    )
    callback.setup(trainer, task, "fit")
    plots = tmp_path / "plots"

    _epoch(callback, task, trainer, 0, 1.0, sanity=True)
    assert task.calls == 0 and not plots.exists()  # the sanity check draws nothing

    def snapshot(folder: str) -> dict[str, bytes]:
        return {name: (plots / folder / name).read_bytes() for name in FILE_NAMES}

    _epoch(callback, task, trainer, 0, 0.8)
    assert snapshot("best") == snapshot("latest") and callback.best_epoch == 0
    _epoch(callback, task, trainer, 1, 0.9)  # worse: best stays epoch 0's
    assert snapshot("best") != snapshot("latest") and callback.best_epoch == 0
    assert snapshot("epoch_001") == snapshot("latest")
    _epoch(callback, task, trainer, 2, 0.7)  # better
    assert snapshot("best") == snapshot("latest") and callback.best_score == pytest.approx(0.7)
    assert sorted(p.name for p in plots.iterdir()) == ["best", "epoch_001", "latest"]

    resumed = ClassificationPlots(monitor="val/loss", mode="min")
    resumed.load_state_dict(callback.state_dict())
    assert (resumed.best_score, resumed.best_epoch) == (pytest.approx(0.7), 2)


def test_without_a_monitor_it_follows_the_checkpoint_callback() -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    checkpoint = ModelCheckpoint(monitor="val/loss", mode="min")
    trainer = SimpleNamespace(checkpoint_callback=checkpoint, current_epoch=0)
    callback = ClassificationPlots()
    for score, improved in [(0.5, True), (0.6, False), (float("nan"), False), (0.4, True)]:
        trainer.callback_metrics = {"val/loss": torch.tensor(score)}
        assert callback._improved(trainer) is improved
    assert ClassificationPlots()._improved(SimpleNamespace(checkpoint_callback=None)) is False


def test_other_tasks_and_bad_options_are_rejected() -> None:
    with pytest.raises(ConfigError, match="every_n_epochs"):
        ClassificationPlots(every_n_epochs=-1)
    with pytest.raises(ConfigError, match="mode"):
        ClassificationPlots(mode="best")
    with pytest.raises(ConfigError, match="task=classification"):
        ClassificationPlots().setup(SimpleNamespace(), object(), "fit")


def test_a_short_training_writes_latest_and_best_plots(make_cfg) -> None:
    from ocec_lightning.training import run_training

    cfg = make_cfg(
        [
            "trainer.max_epochs=2",
            "trainer.limit_train_batches=3",
            "trainer.num_sanity_val_steps=0",
            "test=false",
            "callbacks.classification_plots.every_n_epochs=1",
        ]
    )
    result = run_training(cfg)
    plots = Path(result.run_dir) / "plots"
    for folder in ("latest", "best", "epoch_000", "epoch_001"):
        assert sorted(p.name for p in (plots / folder).glob("*.png")) == sorted(FILE_NAMES)
    # plots/best is the set of the checkpoint callback's best epoch (same monitor, val/f1).
    best = int(re.search(r"epoch(\d{3})", Path(result.best_checkpoint).name).group(1))
    for name in FILE_NAMES:
        assert (plots / "best" / name).read_bytes() == (
            plots / f"epoch_{best:03d}" / name
        ).read_bytes()
    assert math.isfinite(result.best_score)
