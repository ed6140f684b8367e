"""DDP under Hydra: the child ranks of a sweep job re-run that one job, not the sweep.

Lightning's DDP (`strategy=ddp`, processes started by Lightning) re-launches the script
for ranks 1..N-1. When Hydra is initialised it builds that command in
`lightning.pytorch.strategies.launchers.subprocess_script._hydra_subprocess_cmd`:
`sys.argv[1:]` plus `hydra.run.dir=<run dir>`. That is right for a single run, but inside
`-m` the child re-runs the whole sweep (a second multirun directory; under Optuna other
trials with other parameters), and under the joblib/submitit launchers `sys.argv` and
`__main__` are the launcher's, not ours.

`install(module)` replaces that function: inside a multirun the child runs THIS job in
RUN mode — the job's own overrides (`hydra.overrides.task`: the swept values or the
Optuna trial's parameters) with `hydra.run.dir=<this job's directory>` — so every rank
trains with the same parameters and writes into the one job directory. Single runs keep
Lightning's command. Environment variables (e.g. the Optuna trial reference set through
`hydra.job.env_set`) reach the children as they inherit the job's environment.

`job_scope()` wraps one job: Lightning leaves `MASTER_PORT`, `LOCAL_RANK`, `WORLD_SIZE`…
in `os.environ` and, on error, the process group open. The next job of the same sweep
process would then take itself for an externally launched rank and wait on a peer that
never comes; the scope puts the environment back and closes the group after each job.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

_TARGETS = (
    "lightning.pytorch.strategies.launchers.subprocess_script",
    "lightning.fabric.strategies.launchers.subprocess_script",
)


# Set by Lightning's subprocess launcher in the process that starts the ranks.
_DDP_ENV = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


@contextlib.contextmanager
def job_scope() -> Iterator[None]:
    """Run one job; afterwards restore the DDP variables and close the process group."""
    saved = {k: os.environ.get(k) for k in _DDP_ENV}
    try:
        yield
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def job_command(module: str, local_rank: int) -> tuple[list[str], str]:
    """The command (and cwd) that runs this multirun job alone, in RUN mode, for one rank."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_original_cwd

    hydra_cfg = HydraConfig.get()
    job_dir = str(hydra_cfg.runtime.output_dir).replace('"', '\\"')
    command = [sys.executable, "-m", module, *[str(o) for o in hydra_cfg.overrides.task]]
    command += [
        f'hydra.run.dir="{job_dir}"',
        f"hydra.job.name=train_ddp_process_{local_rank}",
        "hydra.output_subdir=null",  # the job's .hydra/ is written by rank 0 only
    ]
    return command, get_original_cwd()


def install(module: str) -> None:
    """Make Lightning's DDP children of a multirun job run `python -m module <job>`."""
    import importlib

    for name in _TARGETS:
        launcher = importlib.import_module(name)
        original = launcher._hydra_subprocess_cmd
        if getattr(original, "_ocec_module", None) == module:
            continue
        launcher._hydra_subprocess_cmd = _wrap(original, module)


def _wrap(
    original: Callable[..., tuple[Sequence[str], str]], module: str
) -> Callable[..., tuple[Sequence[str], str]]:
    inner = getattr(original, "__wrapped__", original)

    def subprocess_cmd(local_rank: int, *args: Any, **kwargs: Any) -> tuple[Sequence[str], str]:
        if _in_multirun():
            return job_command(module, local_rank)
        return inner(local_rank, *args, **kwargs)

    subprocess_cmd.__wrapped__ = inner  # type: ignore[attr-defined]
    subprocess_cmd._ocec_module = module  # type: ignore[attr-defined]
    return subprocess_cmd
