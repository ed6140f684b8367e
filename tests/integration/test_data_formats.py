"""The on-disk data formats train end to end, and data-derived values are right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ocec_lightning.data import build_datamodule
from ocec_lightning.synthetic.eyes import generate_eyes
from ocec_lightning.synthetic.eyes_writer import write_synthetic_eyes
from ocec_lightning.training import run_training

FAST = ["debug=fdr", "data.batch_size=16", "data.num_workers=0"]


@pytest.mark.parametrize("with_bytes", [True, False], ids=["image_bytes", "image_path"])
def test_ocec_parquet_from_ocec_data_synth_trains(
    with_bytes: bool, make_cfg, tmp_path: Path
) -> None:
    path = tmp_path / "eyes" / "eyes.parquet"
    write_synthetic_eyes(path, n=300, seed=3, with_bytes=with_bytes)
    columns = set(pd.read_parquet(path).columns)
    assert {"split", "label", "class_id", "image_path", "source"} <= columns
    assert ("image_bytes" in columns) is with_bytes
    result = run_training(make_cfg(["data=parquet", f"data.path={path}", *FAST], tiny=False))
    assert result.test_metrics["test/loss"] > 0


def _write_images(root: Path, n: int) -> list[tuple[Path, int]]:
    eyes = generate_eyes(n, seed=5)
    rows = []
    for i, (image, label) in enumerate(zip(eyes.images, eyes.labels, strict=True)):
        file = root / ("open" if label else "closed") / f"{i:04d}.png"
        file.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(file)
        rows.append((file, int(label)))
    return rows


def test_folder_source_trains(make_cfg, tmp_path: Path) -> None:
    _write_images(tmp_path / "eyes", 120)
    result = run_training(
        make_cfg(["data=folder", f"data.root={tmp_path / 'eyes'}", *FAST], tiny=False)
    )
    assert result.test_metrics


def test_csv_source_trains(make_cfg, tmp_path: Path) -> None:
    rows = _write_images(tmp_path / "img", 120)
    manifest = tmp_path / "eyes.csv"
    pd.DataFrame(
        {
            "path": [str(f.relative_to(tmp_path)) for f, _ in rows],
            "label": ["open" if y else "closed" for _, y in rows],
        }
    ).to_csv(manifest, index=False)
    result = run_training(make_cfg(["data=csv", f"data.path={manifest}", *FAST], tiny=False))
    assert result.test_metrics


def test_pos_weight_auto_is_negatives_over_positives_of_train(make_cfg) -> None:
    cfg = make_cfg(["data.source.num_samples=400"])
    datamodule = build_datamodule(cfg)
    datamodule.setup("fit")
    counts = datamodule.split_counts["train"]
    assert datamodule.pos_weight() == pytest.approx(counts["closed"] / counts["open"])
    from ocec_lightning.training import build_run

    run = build_run(make_cfg(["data.source.num_samples=400", "debug=fdr"]))
    assert run.task.loss_fn.pos_weight is None  # unknown until the data is bound
    run.trainer.fit(run.task, datamodule=run.datamodule)  # setup() binds the train split
    assert run.task.loss_fn.pos_weight.item() == pytest.approx(counts["closed"] / counts["open"])
    assert run.cfg.loss.pos_weight == "auto"  # the config is never rewritten


def test_default_split_is_stratified_and_keeps_subjects_together(make_cfg) -> None:
    datamodule = build_datamodule(make_cfg(["data.source.num_samples=2000"]))
    datamodule.setup("fit")
    counts = datamodule.split_counts
    ratios = {s: c["open"] / (c["open"] + c["closed"]) for s, c in counts.items()}
    overall = sum(c["open"] for c in counts.values()) / sum(
        sum(c.values()) for c in counts.values()
    )
    for split, ratio in ratios.items():
        assert abs(ratio - overall) < 0.06, (split, ratio, overall)
    frame = datamodule.table.frame
    groups_per_split = frame.groupby("group")["split"].nunique()
    assert int(groups_per_split.max()) == 1, "a synthetic subject crosses splits"
    sizes = frame["split"].value_counts(normalize=True)
    assert sizes["train"] == pytest.approx(0.8, abs=0.05) and sizes["val"] == pytest.approx(
        0.1, abs=0.04
    )
    assert np.isclose(sum(sizes), 1.0)
