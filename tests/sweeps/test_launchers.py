"""Hydra launchers (`hydra/launcher=joblib | submitit_local`) run a two-job sweep into one
sweep directory; under joblib DataLoader workers start (Hydra #964); a DDP job inside a
sweep keeps one job directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sweeps.sweep_cli import TINY, sweep_dirs, train

pytestmark = pytest.mark.slow  # runs sweeps with real trials through launchers

pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
pytest.importorskip("hydra_plugins.hydra_submitit_launcher")


def _assert_two_jobs(root: Path, proc) -> Path:  # noqa: ANN001
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweeps = sweep_dirs(root)
    assert len(sweeps) == 1, sweeps
    jobs = sorted(p.name for p in sweeps[0].iterdir() if p.is_dir() and p.name.isdigit())
    assert jobs == ["0", "1"]
    for job in jobs:
        assert not (sweeps[0] / job / "failure.json").exists(), (
            sweeps[0] / job / "failure.json"
        ).read_text()
        assert (sweeps[0] / job / "checkpoints" / "last.ckpt").exists()
    return sweeps[0]


def test_joblib_two_jobs_with_dataloader_workers(tmp_path: Path) -> None:
    proc = train(
        "-m",
        "hydra/launcher=joblib",
        *TINY,
        "data.num_workers=1",  # after TINY's 0: workers inside loky jobs
        "optimizer.lr=0.01,0.02",
        root=tmp_path,
    )
    _assert_two_jobs(tmp_path, proc)
    assert "Process' object has no attribute 'env'" not in proc.stderr


def test_submitit_local_two_ddp_jobs(tmp_path: Path) -> None:
    # Also DDP inside -m: each job's child rank re-runs that job only (ocec_lightning/ddp.py),
    # so there is one sweep dir with one job dir per job, and no second multirun dir.
    proc = train(
        "-m",
        "hydra/launcher=submitit_local",
        "trainer=ddp_cpu",
        *TINY,
        "optimizer.lr=0.01,0.02",
        root=tmp_path,
    )
    sweep = _assert_two_jobs(tmp_path, proc)
    assert not (tmp_path / "outputs" / "classification" / "runs").exists()
    logs = [p.read_text() for p in (sweep / ".submitit").glob("*/*_log.err")]
    assert len(logs) == 2 and all("MEMBER: 2/2" in log for log in logs), logs


def test_plain_multirun_of_ddp_jobs_makes_one_dir_per_job(tmp_path: Path) -> None:
    """`-m trainer=ddp_cpu` with Hydra's own launcher: the DDP children of each job run that
    one job (not the sweep again), and the next job starts from a clean environment."""
    proc = train("-m", "trainer=ddp_cpu", "optimizer.lr=0.01,0.02", *TINY, root=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep_dir,) = sweep_dirs(tmp_path)
    jobs = sorted(p.name for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert jobs == ["0", "1"]
    for job in jobs:
        assert not (sweep_dir / job / "failure.json").exists()
        assert list((sweep_dir / job / "checkpoints").glob("*.ckpt")), job
    assert not (tmp_path / "outputs" / "classification" / "runs").exists()
