"""Where a study lives and how both sides find it: the sweeper creates or loads the study
in an RDB storage (a SQLite file or any database URL) with Optuna's heartbeat; each job
rebuilds its own trial from storage + study name + trial number, which the sweeper hands
to the job as environment variables (`hydra.job.env_set`, so any launcher carries them).

Several processes or machines given the same storage and study name share one study.
Optuna advises a server database (PostgreSQL, MySQL) rather than SQLite for processes on
several machines; SQLite suits one machine.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from hydra.utils import instantiate
from omegaconf import DictConfig
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from ocec_lightning.errors import ConfigError

ENV_STORAGE = "OCEC_OPTUNA_STORAGE"
ENV_STUDY = "OCEC_OPTUNA_STUDY"
ENV_TRIAL = "OCEC_OPTUNA_TRIAL"
DIRECTIONS = {"minimize": "minimize", "min": "minimize", "maximize": "maximize", "max": "maximize"}


def storage_url(storage: Any, sweep_dir: str | Path) -> str:
    """`storage` as an RDB URL: null -> <sweep dir>/optuna.db; a plain path -> SQLite."""
    if storage is None or str(storage) == "":
        return f"sqlite:///{(Path(sweep_dir) / 'optuna.db').resolve()}"
    text = str(storage)
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def make_storage(
    url: str,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int | None = None,
) -> RDBStorage:
    """An RDB storage; with a heartbeat interval, trials whose process stopped sending
    heartbeats for `grace_period` seconds are failed and re-queued with their parameters."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {}
    if heartbeat_interval:
        kwargs = {
            "heartbeat_interval": int(heartbeat_interval),
            "grace_period": int(grace_period or 2 * heartbeat_interval),
            "heartbeat_stale_trial_callback": quiet(RetryHeartbeatStaleTrialCallback)(
                max_retry=max_retry
            ),
        }
    return quiet(RDBStorage)(url, engine_kwargs=_engine_kwargs(url), **kwargs)


def directions(direction: Any) -> list[str]:
    """`direction` (one value or a list) as Optuna's direction names."""
    values = [direction] if isinstance(direction, str) else list(direction or [])
    out = []
    for value in values:
        if str(value).lower() not in DIRECTIONS:
            raise ConfigError(
                "hydra.sweeper.direction", value, "minimize | maximize, or a list of them"
            )
        out.append(DIRECTIONS[str(value).lower()])
    if not out:
        raise ConfigError("hydra.sweeper.direction", direction, "minimize | maximize")
    return out


def build_pruner(pruner_cfg: DictConfig | None) -> optuna.pruners.BasePruner:
    """The pruner of `hydra.sweeper.pruner` (None: no pruning)."""
    if pruner_cfg is None:
        return optuna.pruners.NopPruner()
    return instantiate(pruner_cfg)


def quiet(fn: Any) -> Any:
    """`fn` with Optuna's notices about its experimental API silenced (heartbeat, retry
    callback, matplotlib plots) and its hint that heartbeats are meant for
    Study.optimize (this sweeper records them itself)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
            return fn(*args, **kwargs)

    return call


@dataclass(frozen=True)
class TrialRef:
    """How a job finds its trial: storage URL, study name, trial number."""

    storage: str
    study_name: str
    number: int

    def env(self) -> dict[str, str]:
        return {ENV_STORAGE: self.storage, ENV_STUDY: self.study_name, ENV_TRIAL: str(self.number)}

    @classmethod
    def from_env(cls) -> TrialRef | None:
        if not all(os.environ.get(k) for k in (ENV_STORAGE, ENV_STUDY, ENV_TRIAL)):
            return None
        return cls(os.environ[ENV_STORAGE], os.environ[ENV_STUDY], int(os.environ[ENV_TRIAL]))


def load_trial(ref: TrialRef, pruner: optuna.pruners.BasePruner) -> optuna.trial.Trial:
    """The running trial `ref` points at, with the study's pruner, for the job to report to."""
    storage = RDBStorage(ref.storage, engine_kwargs=_engine_kwargs(ref.storage))
    study_id = storage.get_study_id_from_name(ref.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, ref.number)
    study = optuna.load_study(study_name=ref.study_name, storage=storage, pruner=pruner)
    return optuna.trial.Trial(study, trial_id)


def _engine_kwargs(url: str) -> dict[str, Any]:
    # SQLite: wait for a lock held by another connection (sweeper and job write in turn).
    return {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}


def trial_id(storage: RDBStorage, study: optuna.Study, number: int) -> int:
    study_id = storage.get_study_id_from_name(study.study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)


@contextmanager
def heartbeats(storage: RDBStorage, trial_ids: Sequence[int]) -> Iterator[None]:
    """Record a heartbeat for each trial every `heartbeat_interval` seconds while the block
    runs (the jobs); a process that dies stops them and its trials become stale."""
    interval = storage.get_heartbeat_interval()
    if not interval or not trial_ids:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            for tid in trial_ids:
                try:
                    storage.record_heartbeat(tid)
                except Exception:  # a finished trial or a busy database: try again later
                    pass
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name="optuna-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
