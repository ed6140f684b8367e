"""DDP at scale: the environment between the jobs of a sweep, the multiprocessing context,
and a two-node torchrun run on localhost. (`-m trainer=ddp_cpu`: tests/sweeps/test_launchers.py.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ocec_lightning import ddp
from ocec_lightning.data.mp_context import worker_context
from tests.sweeps.sweep_cli import TINY, env

pytestmark = [
    pytest.mark.slow,  # starts torchrun / DDP processes
    pytest.mark.skipif(sys.platform != "linux", reason="gloo DDP runs on Linux"),
]


def test_worker_context_defaults() -> None:
    assert worker_context(None, 0) is None
    assert worker_context("spawn", 2) == "spawn"
    assert worker_context(None, 2) is None  # the standard start method: torch's default


def test_bad_multiprocessing_context_names_key() -> None:
    from ocec_lightning.data.datamodule import OCECDataModule
    from ocec_lightning.errors import ConfigError

    with pytest.raises(ConfigError, match="data.multiprocessing_context"):
        OCECDataModule(source=None, multiprocessing_context="threads")  # type: ignore[arg-type]


def test_job_scope_restores_ddp_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Lightning leaves LOCAL_RANK etc. set: the next job of a sweep must not see them.
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setenv("MASTER_ADDR", "10.0.0.1")
    with ddp.job_scope():
        os.environ["LOCAL_RANK"] = "0"
        os.environ["MASTER_ADDR"] = "127.0.0.1"
    assert "LOCAL_RANK" not in os.environ
    assert os.environ["MASTER_ADDR"] == "10.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_nodes_torchrun_on_localhost(tmp_path: Path) -> None:
    port, run_dir = _free_port(), tmp_path / "run"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes=2",
                "--nproc_per_node=1",
                f"--node_rank={rank}",
                "--master_addr=127.0.0.1",
                f"--master_port={port}",
                "-m",
                "ocec_lightning.cli.train",
                "trainer=multinode",
                "trainer.num_nodes=2",
                "trainer.accelerator=cpu",
                f"hydra.run.dir={run_dir}",
                *TINY,
            ],
            cwd=tmp_path,
            env=env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outs = []
    try:
        outs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-2000:] for o in outs)
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in outs[1]
    assert (run_dir / "checkpoints" / "last.ckpt").exists()
    assert not (tmp_path / "outputs").exists()  # no second run directory
