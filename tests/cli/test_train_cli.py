"""The `ocec-train` / `ocec-eval` command lines, run as a user runs them (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ocec_lightning.config import conf_dir

TINY = [
    "data.source.num_samples=240",
    "data.batch_size=32",
    "data.num_workers=0",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
]


def run_cli(module: str, *args: str, cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OCEC_ROOT": str(cwd), "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", f"ocec_lightning.cli.{module}", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_lists_every_group_and_option(tmp_path: Path) -> None:
    proc = run_cli("train", "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for group_dir in sorted(p for p in conf_dir().iterdir() if p.is_dir()):
        options = [f.stem for f in group_dir.glob("*.yaml") if not f.stem.startswith("_")]
        if group_dir.name == "hydra" or not options:
            continue
        line = next(
            (ln for ln in proc.stdout.splitlines() if ln.startswith(f"{group_dir.name}:")), ""
        )
        assert line, f"group {group_dir.name} missing from --help"
        for option in options:
            assert option in line, f"{group_dir.name}={option} missing from --help"


def test_chinese_aug_name_prints_the_same_config(tmp_path: Path) -> None:
    chinese = run_cli("train", "aug=激进", "--cfg", "job", cwd=tmp_path)
    english = run_cli("train", "aug=aggressive", "--cfg", "job", cwd=tmp_path)
    assert chinese.returncode == 0, chinese.stderr
    assert chinese.stdout == english.stdout and "GaussNoise" in chinese.stdout


def test_bad_input_fails_with_one_line(tmp_path: Path) -> None:
    proc = run_cli(
        "train", "data=parquet", f"data.path={tmp_path / 'missing.parquet'}", cwd=tmp_path
    )
    assert proc.returncode == 2
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "missing.parquet" in errors[0] and "data.path" in errors[0], (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_bad_config_value_names_key_and_alternative(tmp_path: Path) -> None:
    proc = run_cli("train", "scheduler.factor=1.5", cwd=tmp_path)
    assert proc.returncode == 2
    assert "scheduler.factor" in proc.stderr and "1.5" in proc.stderr and "(0, 1)" in proc.stderr


@pytest.mark.slow
def test_train_then_eval_from_the_command_line(tmp_path: Path) -> None:
    proc = run_cli("train", *TINY, "trainer.max_epochs=1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "run summary" in proc.stdout
    best = sorted((tmp_path / "outputs").rglob("epoch*.ckpt"))
    assert best, "no checkpoint written"
    proc = run_cli("eval", f"ckpt_path={best[0]}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test/f1=" in proc.stdout


def test_an_earlier_runs_directory_is_refused_and_keeps_its_files(tmp_path: Path) -> None:
    run = tmp_path / "earlier"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"an earlier run's weights")
    proc = run_cli("train", *TINY, "debug=fdr", f"hydra.run.dir={run}", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "paths.output_dir" in errors[0], proc.stderr[-3000:]
    assert "already holds 1 checkpoint(s)" in errors[0]
    kept = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.suffix != ".log")
    assert kept == ["checkpoints", "checkpoints/last.ckpt"]  # no .hydra/, config, summary


@pytest.mark.slow
def test_multirun_sweeps_and_survives_a_failing_trial(tmp_path: Path) -> None:
    proc = run_cli("train", "-m", *TINY, "debug=fdr", "optimizer.lr=1e-3,-1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = sorted((tmp_path / "outputs" / "classification" / "multiruns").glob("*/*"))
    trial_dirs = [t for t in trials if t.is_dir() and t.name.isdigit()]
    assert len(trial_dirs) == 2
    assert (trial_dirs[1] / "failure.json").is_file() and not (
        trial_dirs[0] / "failure.json"
    ).exists()
    assert "optimizer.lr" in (trial_dirs[1] / "failure.json").read_text()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="gloo DDP smoke test runs on Linux")
def test_ddp_cpu_two_processes_one_run_dir_metrics_once_and_resume(tmp_path: Path) -> None:
    ddp = [
        "trainer=ddp_cpu",
        *TINY,
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=2",
        "trainer.num_sanity_val_steps=0",
        "test=false",
        "callbacks.curve_report=null",
        "~callbacks.classification_plots",
    ]
    proc = run_cli("train", *ddp, "trainer.max_epochs=1", cwd=tmp_path, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "run summary" in proc.stdout
    run_dirs = list((tmp_path / "outputs" / "classification" / "runs").iterdir())
    assert len(run_dirs) == 1, "DDP must not create one run directory per process"
    last = run_dirs[0] / "checkpoints" / "last.ckpt"
    assert last.is_file()
    resumed = run_cli(
        "train", *ddp, "trainer.max_epochs=2", f"ckpt_path={last}", cwd=tmp_path, timeout=400
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    runs = sorted((tmp_path / "outputs" / "classification" / "runs").iterdir())
    assert len(runs) == 2, "the resumed DDP run makes one more run directory, not two"
    ckpt = torch.load(runs[1] / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["global_step"] == 4  # 2 epochs × 2 steps, no restart
    rows = (runs[1] / "csv" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    f1_rows = [r.split(",") for r in rows[1:] if r.split(",")[header.index("val/f1")]]
    # Rank zero alone logs: the resumed epoch's val/f1 appears exactly once.
    assert [r[header.index("epoch")] for r in f1_rows] == ["1"]
