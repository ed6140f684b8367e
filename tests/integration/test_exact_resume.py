"""Kill a run with SIGKILL mid-epoch, resume from last.ckpt: the same run as without the
kill (per-step train losses after the resume point, final val metrics, the tuned
threshold), and two uninterrupted same-seed runs byte-identical (deterministic, CPU)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ocec_lightning.config import compose_config
from ocec_lightning.training import run_training

pytestmark = pytest.mark.slow  # trains, kills and resumes real runs

PLUGINS = Path(__file__).parent / "plugins"
# 5 train steps of 32 per epoch; the kill comes after step 8, in epoch 1 (steps 5-9).
RUN = [
    "seed=7",
    "trainer.max_epochs=3",
    "trainer.deterministic=true",
    "trainer.num_sanity_val_steps=0",
    "trainer.log_every_n_steps=1",
    "aug=aggressive",  # batched transforms, per-sample JPEG/CLAHE and MixUp/CutMix: all random
    "model.dropout=0.3",
    "logger=csv",
    "test=false",
]
KILL_STEP = 8


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def _train_losses(run_dir: Path) -> dict[int, float]:
    return {
        int(row["step"]): float(row["train/loss_step"])
        for row in _rows(run_dir)
        if row.get("train/loss_step")
    }


def _val(run_dir: Path) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for row in _rows(run_dir):
        if row.get("val/f1"):
            out[int(float(row["epoch"]))] = {
                k: float(v) for k, v in row.items() if k.startswith("val/") and v
            }
    return out


TINY = [
    "data.source.num_samples=240",
    "data.batch_size=32",
    "data.num_workers=0",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
]


def _cfg(run_dir: Path, *extra: str):
    return compose_config([*TINY, *RUN, *extra], output_dir=run_dir)


def _kill_during_training(run_dir: Path) -> subprocess.CompletedProcess:
    overrides = [
        *TINY,
        *RUN,
        f"hydra.run.dir={run_dir}",
        "+callbacks.kill._target_=kill_at_step.KillAtStep",
        f"+callbacks.kill.step={KILL_STEP}",
    ]
    path = os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "ocec_lightning.cli.train", *overrides],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exact_resume")
    dirs = {name: root / name for name in ("whole", "again", "killed")}
    run_training(_cfg(dirs["whole"]))
    run_training(_cfg(dirs["again"]))
    killed = _kill_during_training(dirs["killed"])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    last = dirs["killed"] / "checkpoints" / "last.ckpt"
    # The kill came mid-epoch 1: last.ckpt is the end of epoch 0.
    assert torch.load(last, map_location="cpu", weights_only=True)["epoch"] == 0
    run_training(_cfg(dirs["killed"], f"ckpt_path={last}"))
    return dirs


def test_resumed_run_repeats_every_step_after_the_resume_point(runs) -> None:
    whole, resumed = _train_losses(runs["whole"]), _train_losses(runs["killed"])
    assert sorted(resumed) == sorted(whole) and len(whole) == 15  # 3 epochs x 5 steps
    for step, loss in whole.items():
        assert resumed[step] == pytest.approx(loss, abs=1e-6), f"step {step}"


def test_resumed_run_ends_with_the_same_val_metrics_and_threshold(runs) -> None:
    whole, resumed = _val(runs["whole"]), _val(runs["killed"])
    assert sorted(whole) == sorted(resumed) == [0, 1, 2]  # the earlier epochs kept, too
    for epoch, metrics in whole.items():
        assert resumed[epoch] == pytest.approx(metrics, abs=1e-6), f"epoch {epoch}"
    ckpts = [
        torch.load(d / "checkpoints" / "last.ckpt", weights_only=True)
        for d in (runs["whole"], runs["killed"])
    ]
    assert ckpts[0]["hyper_parameters"]["threshold"] == pytest.approx(
        ckpts[1]["hyper_parameters"]["threshold"], abs=1e-6
    )
    for key, value in ckpts[0]["state_dict"].items():
        assert torch.allclose(value.float(), ckpts[1]["state_dict"][key].float(), atol=1e-6), key


def test_same_seed_runs_are_byte_identical(runs) -> None:
    for name in ("csv/metrics.csv",):
        a, b = (runs[k] / name for k in ("whole", "again"))
        assert a.read_bytes() == b.read_bytes()
    weights = [
        torch.load(runs[k] / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        for k in ("whole", "again")
    ]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
