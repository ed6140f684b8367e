"""task=segmentation end to end: shared stack, fscore, overlays, per-class table, resume, eval."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ocec_lightning.evaluation import run_evaluation
from ocec_lightning.tasks import SegmentationTask
from ocec_lightning.training import build_run, run_training

SEG = [
    "task=segmentation",
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.num_sanity_val_steps=0",
    "callbacks.prediction_overlays.every_n_epochs=1",
    "callbacks.prediction_overlays.num_samples=3",
]


def test_task_segmentation_switches_data_model_and_loss(make_cfg) -> None:
    cfg = make_cfg(["task=segmentation"])
    assert cfg.data.source._target_.endswith("SyntheticFacesSource")
    assert cfg.model._target_.endswith("MicroSegFormer") and cfg.model.num_classes == 11
    assert cfg.loss._target_.endswith("CEDiceLoss") and cfg.task.monitor == "val/fscore"
    # Explicit choices on the command line still win.
    assert make_cfg(["task=segmentation", "model=timm_unet"]).model._target_.endswith("TimmUNet")


def test_segmentation_trains_writes_overlays_table_and_resumes(make_cfg, tmp_path: Path) -> None:
    result = run_training(make_cfg(SEG, run_dir=tmp_path / "first"))
    run_dir = Path(result.run_dir)
    assert result.monitor == "val/fscore" and 0.0 <= result.best_score <= 1.0
    assert {"test/fscore", "test/miou", "test/macro_f1"} <= set(result.test_metrics)
    overlays = sorted((run_dir / "overlays").glob("epoch_*.png"))
    assert [p.name for p in overlays] == ["epoch_000.png", "epoch_001.png"]
    grid = np.asarray(Image.open(overlays[-1]))
    assert grid.shape == (3 * 64 + 2 * 2, 3 * 64 + 2 * 2, 3)  # 3 rows of image | truth | prediction
    rows = list(csv.DictReader(open(run_dir / "per_class_metrics.csv", encoding="utf-8")))
    assert [r["class"] for r in rows][:3] == ["background", "skin", "left_brow"] and len(rows) == 11
    ckpt = torch.load(result.last_checkpoint, map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["num_classes"] == 11
    assert len(ckpt["hyper_parameters"]["palette"]) == 11
    reloaded = SegmentationTask.load_from_checkpoint(result.last_checkpoint, weights_only=True)
    assert reloaded.class_names[:2] == ["background", "skin"]
    resumed = run_training(
        make_cfg(
            [*SEG, "trainer.max_epochs=3", f"ckpt_path={result.last_checkpoint}", "test=false"],
            run_dir=tmp_path / "second",
        )
    )
    final = torch.load(resumed.last_checkpoint, map_location="cpu", weights_only=True)
    assert final["epoch"] == 2 and final["global_step"] == 9


def test_eval_reproduces_segmentation_test_metrics(make_cfg, tmp_path: Path) -> None:
    result = run_training(make_cfg(SEG, run_dir=tmp_path / "train"))
    cfg = make_cfg(
        [f"ckpt_path={result.best_checkpoint}"],
        tiny=False,
        config_name="eval",
        run_dir=tmp_path / "eval",
    )
    evaluated = run_evaluation(cfg)
    assert evaluated.monitor == "test/fscore"
    assert evaluated.score == pytest.approx(result.test_metrics["test/fscore"], abs=1e-5)
    for key in ("test/fscore", "test/miou", "test/loss"):
        assert evaluated.metrics[key] == pytest.approx(result.test_metrics[key], abs=1e-5)


def test_class_weights_from_the_train_split(make_cfg) -> None:

    cfg = make_cfg(["task=segmentation", "loss.class_weights=median_frequency", "debug=fdr"])
    run = build_run(cfg)
    assert isinstance(run.task, SegmentationTask) and run.task.loss_fn.needs_class_frequencies
    run.trainer.fit(run.task, datamodule=run.datamodule)  # setup() binds the train split
    frequencies = np.asarray(run.datamodule.class_pixel_frequencies())
    assert len(frequencies) == 11 and frequencies.sum() == pytest.approx(1.0, abs=1e-6)
    assert frequencies[0] > frequencies[4]  # background outweighs an eye
    weights = run.task.loss_fn.ce.class_weight.numpy()
    present = frequencies > 0
    expected = np.median(frequencies[present]) / frequencies[present]
    assert weights[present] == pytest.approx(expected, rel=1e-4)
    assert cfg.loss.class_frequencies is None  # the config is never rewritten


@pytest.mark.parametrize("aug", ["none", "conservative", "balanced", "aggressive", "激进"])
def test_every_aug_preset_runs_a_segmentation_step(aug: str, make_cfg) -> None:
    result = run_training(make_cfg(["task=segmentation", f"aug={aug}", "debug=fdr"]))
    assert 0.0 <= result.test_metrics["test/fscore"] <= 1.0
