"""`ocec-analyze lr`: the LR of the real optimizer + schedule over whole runs (seed 002's
"80% at epoch 92", seed 004's four plans), plateau worst case, steps-per-epoch rules, and
Lightning's LR finder on tiny synthetic data."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import pytest

from ocec_lightning.analysis import lr_preview
from ocec_lightning.analysis.lr_preview import batches_to_steps, plan_labels, preview, simulate
from ocec_lightning.errors import ConfigError

COSINE_5 = ["scheduler=cosine", "scheduler.interval=epoch", "scheduler.warmup.epochs=5"]
SEG = "task=segmentation"
SEED_004 = ["seg_warm_restart", "seg_slow_decay", "seg_higher_lr", "seg_ultimate"]


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    lr_preview.add_arguments(parser)
    return lr_preview.run(parser.parse_args(argv))


def test_cosine_after_5_warmup_epochs_is_58_percent_at_92_of_200_and_80_of_300(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seed 002's "80% at epoch 92" (and 91.7% at 60, 70.9% at 112) is a 300-epoch run;
    over 200 epochs the same warmup + cosine is at 58.4%."""
    out = tmp_path / "cos.png"
    runs = [[*COSINE_5, "trainer.max_epochs=200"], [*COSINE_5, "trainer.max_epochs=300"]]
    short, long = preview(runs, out, epochs_at="60,92,112", steps_per_epoch=3)
    assert short.percent_at(92) == pytest.approx(58.4, abs=0.05)
    assert [long.percent_at(e) for e in (60, 92, 112)] == pytest.approx(
        [91.7, 80.0, 70.9], abs=0.05
    )
    assert short.percent_at(0) == pytest.approx(10.0) and short.percent_at(5) == 100.0
    assert len(short.step_lrs) == 600 and short.percent_at(200) is None
    text = capsys.readouterr().out
    assert "58.4%" in text and "80.0%" in text and "given (--steps-per-epoch)" in text
    assert out.stat().st_size > 20_000


def test_seed_004_plans_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "seed004.png"
    plans = preview(
        [[SEG, f"preset={name}"] for name in SEED_004], out, epochs_at="29,30,60,92,155,199"
    )
    restart, slow, higher, ultimate = plans
    assert [p.label for p in plans] == [f"preset={name}" for name in SEED_004]
    # Steps per epoch from the synthetic faces' split (nothing drawn): 960 train / 32.
    assert all(p.steps_per_epoch == 30 and p.epochs == 200 for p in plans)
    assert "960 of 1200 samples in train (no decoding)" in restart.steps_source
    # Plan 1: cycles of 25, 50, 100 epochs after the 5 warmup epochs, as the seed says.
    assert [restart.percent_at(e) for e in (30, 80, 180)] == pytest.approx([100.0] * 3)
    assert restart.percent_at(29) < 1 and restart.percent_at(79) < 1
    # Plan 2: the seed promises ~90% at epoch 92; T_max 150 gives 37.6%, then eta_min
    # is held (torch's cosine would climb back after epoch 155).
    assert slow.percent_at(92) == pytest.approx(37.6, abs=0.05)
    assert slow.percent_at(60) == pytest.approx(70.4, abs=0.05)
    assert list(slow.epoch_lrs[155:]) == pytest.approx([1e-6] * 45)
    # Plan 3: lr 1e-3 (+25% over 8e-4), reached after its 10 warmup epochs.
    assert higher.base_lr == pytest.approx(1.25 * restart.base_lr)
    assert higher.warmup_epochs == 10 and higher.percent_at(10) == pytest.approx(100.0)
    assert higher.percent_at(92) == pytest.approx(42.8, abs=0.05)
    # Plan 4: T_0 30, T_mult 2 behind 8 warmup epochs: restarts at 38 and 98.
    assert ultimate.percent_at(38) == pytest.approx(100.0) == ultimate.percent_at(98)
    assert ultimate.percent_at(92) == pytest.approx(2.6, abs=0.05)
    text = capsys.readouterr().out
    assert "37.6%" in text and "▁" in text and "█" in text
    assert out.stat().st_size > 30_000


def test_plateau_is_fed_a_metric_that_never_improves(tmp_path: Path) -> None:
    plan = simulate(["trainer.max_epochs=12"], steps_per_epoch=2)  # plateau: patience 2, × 0.5
    expected = [100.0] * 4 + [50.0] * 3 + [25.0] * 3 + [12.5] * 2
    assert [plan.percent_at(e) for e in range(12)] == pytest.approx(expected)
    assert "never improves" in plan.notes[0] and "×0.5 after epoch 3" in plan.notes[1]


def test_steps_per_epoch_follow_lightning() -> None:
    def trainer(**kw: object) -> SimpleNamespace:
        base = {"world_size": 1, "limit_train_batches": 1.0, "overfit_batches": 0.0}
        return SimpleNamespace(**{**base, "accumulate_grad_batches": 1, **kw})

    assert batches_to_steps(960, 32, trainer()) == 30
    assert batches_to_steps(970, 32, trainer()) == 30  # partial last batch dropped
    assert batches_to_steps(20, 32, trainer()) == 1  # ... unless it is the only one
    assert batches_to_steps(960, 32, trainer(limit_train_batches=7)) == 7
    assert batches_to_steps(960, 32, trainer(limit_train_batches=0.5)) == 15
    assert batches_to_steps(960, 32, trainer(accumulate_grad_batches=4)) == 8
    assert batches_to_steps(960, 32, trainer(accumulate_grad_batches=4, world_size=2)) == 4
    assert batches_to_steps(960, 32, trainer(overfit_batches=3)) == 3


def test_labels_and_bad_epochs() -> None:
    assert plan_labels([["a=1", "b=2"], ["a=1", "b=3"]]) == ["b=2", "b=3"]
    assert plan_labels([["a=1"], ["a=1"]]) == ["defaults", "defaults"]
    with pytest.raises(ConfigError, match="--epochs-at"):
        _cli(["--epochs-at", "a,b", "--steps-per-epoch", "1"])


def test_find_suggests_an_lr_and_writes_its_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "find.png"
    tiny = ["data.source.num_samples=240", "data.batch_size=32", "data.num_workers=0"]
    small = ["model.base_channels=8", "model.num_blocks=2", "callbacks.progress_bar=null"]
    argv = [*tiny, *small, "--find", "--find-steps", "16", "--out", str(out)]
    assert _cli(argv) == 0
    text = capsys.readouterr().out
    assert "suggested: optimizer.lr=" in text and "LR finder: " in text
    lr = float(text.split("optimizer.lr=")[1].split()[0])
    assert 1e-8 <= lr <= 1.0
    assert out.stat().st_size > 10_000


def test_steps_read_from_a_parquet_and_max_steps_ending_mid_epoch(tmp_path: Path) -> None:
    from ocec_lightning.cli.data import main as ocec_data

    data = tmp_path / "eyes.parquet"
    assert ocec_data(["synth", "eyes", "--out", str(data), "--n", "120", "--seed", "1"]) == 0
    overrides = ["data=parquet", f"data.path={data}", "data.batch_size=16", "trainer.max_steps=25"]
    plan = simulate([*overrides, "scheduler=cosine", "trainer.max_epochs=10"])
    assert "datamodule setup" in plan.steps_source
    n_train = int(plan.steps_source.split(": ")[1].split()[0])
    assert plan.steps_per_epoch == n_train // 16
    assert len(plan.step_lrs) == 25 and plan.epochs == -(-25 // plan.steps_per_epoch)
