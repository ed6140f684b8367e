"""The Optuna sweeper behind `hydra/sweeper: ocec_optuna`: ask -> launch -> tell on
Optuna 5, through whatever Hydra launcher is configured.

- The study lives in `storage` under `study_name`; `n_trials` counts over the whole study,
  so re-running the same command continues it and several processes share it.
- Each job runs in `<sweep dir>/<trial number>` and finds its trial through environment
  variables (see `study.py`); its `SweepTrial` callback reports for pruning and records
  the objective. A job that raises, returns NaN or nothing is told FAIL with the error
  text stored on the trial (user attr `error`); a pruned job ends cleanly and is told
  PRUNED.
- While jobs run, the sweeper records their heartbeats: a trial whose process was killed
  goes stale, is failed and re-queued with its parameters, and runs again.
- After every batch `optimization_results.yaml` is rewritten; plots at the end.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.trial import TrialState

from ocec_lightning.errors import ConfigError
from ocec_lightning.run_dir import FAILURE_FILE
from ocec_lightning.sweeps import results
from ocec_lightning.sweeps.search_space import (
    SearchSpace,
    parse_search_space,
    quote,
    trial_overrides,
)
from ocec_lightning.sweeps.study import (
    TrialRef,
    build_pruner,
    directions,
    heartbeats,
    make_storage,
    quiet,
    storage_url,
    trial_id,
)

log = logging.getLogger(__name__)
ERROR_ATTR = "error"  # user attr: why a trial failed
OBJECTIVE_ATTR = "objective"  # user attr written by the job: the objective values
PRUNED_ATTR = "pruned"  # user attr written by the job: why it stopped early
JOB_DIR_ATTR = "job_dir"


class SweepAborted(RuntimeError):
    """Too many trials of the study failed (`max_failure_rate`)."""


def retried_numbers(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """Numbers of failed trials that were re-queued (their process died)."""
    out: set[int] = set()
    for trial in trials:
        out.update(trial.system_attrs.get("retry_history", []))
    return out


class OptunaSweeperImpl:
    """Configured by `OcecOptunaSweeperConf` (see `config.py` for each key)."""

    def __init__(
        self,
        sampler: DictConfig | None,
        pruner: DictConfig | None,
        direction: Any,
        storage: Any,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        params: DictConfig | None,
        custom_search_space: str | None,
        heartbeat_interval: int | None = 60,
        grace_period: int | None = None,
        max_retry: int | None = 3,
        top_k: int = 5,
        plots: bool = True,
    ) -> None:
        if int(n_trials) < 1:
            raise ConfigError("hydra.sweeper.n_trials", n_trials, "an integer >= 1")
        if int(n_jobs) < 1:
            raise ConfigError("hydra.sweeper.n_jobs", n_jobs, "an integer >= 1")
        if not 0.0 <= float(max_failure_rate) <= 1.0:
            raise ConfigError("hydra.sweeper.max_failure_rate", max_failure_rate, "in [0, 1]")
        self.sampler_cfg, self.pruner_cfg = sampler, pruner
        self.directions = directions(direction)
        self.storage, self.study_name = storage, study_name
        self.n_trials, self.n_jobs = int(n_trials), int(n_jobs)
        self.max_failure_rate = float(max_failure_rate)
        self.params = {str(k): str(v) for k, v in (params or {}).items()}
        self.custom_search_space = get_method(custom_search_space) if custom_search_space else None
        self.heartbeat = (heartbeat_interval, grace_period, max_retry)
        self.top_k, self.plots = int(top_k), bool(plots)
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Any = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    # -- the loop -----------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> list[list[JobReturn]]:
        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space = parse_search_space(self.params, arguments, parser)
        url = storage_url(self.storage, sweep_dir)
        self.rdb = make_storage(url, *self.heartbeat)
        study = optuna.create_study(
            study_name=self.study_name,
            storage=self.rdb,
            sampler=self._sampler(space, _trials_so_far(self.rdb, self.study_name)),
            pruner=build_pruner(self.pruner_cfg),
            directions=self.directions,
            load_if_exists=True,
        )
        if [d.name.lower() for d in study.directions] != self.directions:
            raise ConfigError(
                "hydra.sweeper.direction",
                self.directions,
                f"the directions of the existing study '{study.study_name}' "
                f"({[d.name.lower() for d in study.directions]}); use another study_name",
            )
        self.url = url
        log.info(
            f"Optuna study '{study.study_name}' in {url}: {len(study.trials)} trials so far, "
            f"n_trials={self.n_trials}; jobs in {sweep_dir}/<trial number>"
        )
        returns: list[list[JobReturn]] = []
        try:
            while True:
                quiet(optuna.storages.fail_stale_trials)(study)
                budget = self._remaining(study)
                if budget <= 0 and not self._wait_for_stale(study):
                    break
                if budget <= 0:
                    continue
                if self._grid_exhausted(study):
                    log.info("the grid sampler has visited every point")
                    break
                ask = quiet(study.ask)
                batch = [ask(space.distributions) for _ in range(min(self.n_jobs, budget))]
                if self.custom_search_space is not None:
                    for trial in batch:
                        self.custom_search_space(self.config, trial)
                returns.append(self._run_batch(study, batch, space, sweep_dir))
                results.write_summary(study, sweep_dir, self.n_trials, self.top_k)
                if self._remaining(study) > 0:
                    self._check_failure_rate(study)
        finally:
            results.write_summary(study, sweep_dir, self.n_trials, self.top_k)
            if self.plots:
                results.write_plots(study, sweep_dir)
        return returns

    def _remaining(self, study: optuna.Study) -> int:
        """Trials still to start: n_trials minus every trial started so far (finished or
        running), not counting the failures that were re-queued."""
        trials = study.get_trials(deepcopy=False)
        retried = retried_numbers(trials)
        started = [
            t
            for t in trials
            if t.state != TrialState.WAITING
            and not (t.state == TrialState.FAIL and t.number in retried)
        ]
        return self.n_trials - len(started)

    def _wait_for_stale(self, study: optuna.Study) -> bool:
        """With the budget spent but trials of other processes still running: wait up to a
        grace period for any of them to go stale (its process died). True when one was
        failed and re-queued, so that this process runs it."""
        interval = self.rdb.get_heartbeat_interval()
        running = {t.number for t in study.get_trials(False, states=(TrialState.RUNNING,))}
        if not interval or not running:
            return False
        grace = self.heartbeat[1] or 2 * interval
        log.info(f"waiting up to {grace + interval}s for running trials {sorted(running)}")
        deadline = time.monotonic() + grace + interval
        while time.monotonic() < deadline:
            time.sleep(min(interval, 2))
            quiet(optuna.storages.fail_stale_trials)(study)
            if self._remaining(study) > 0:
                return True
            still = {t.number for t in study.get_trials(False, states=(TrialState.RUNNING,))}
            if not still & running:
                return False
        return False

    def _grid_exhausted(self, study: optuna.Study) -> bool:
        """Every grid point has a trial, and none is queued (a retry keeps its point)."""
        sampler = study.sampler
        if not isinstance(sampler, optuna.samplers.GridSampler):
            return False
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        return not waiting and sampler.is_exhausted(study)

    def _sampler(self, space: SearchSpace, offset: int) -> optuna.samplers.BaseSampler | None:
        """The configured sampler. A seed is offset by the trials the study already has:
        a resumed or joining process must not replay the suggestions of the first one."""
        cfg = self.sampler_cfg
        if cfg is None:
            return None
        kwargs: dict[str, Any] = {}
        if cfg.get("seed") is not None:
            kwargs["seed"] = int(cfg.seed) + offset
        if str(cfg.get("_target_", "")).endswith("GridSampler") and not cfg.get("search_space"):
            kwargs["search_space"] = space.grid()
        return quiet(instantiate)(cfg, **kwargs)  # QMC and others are "experimental"

    # -- one batch ----------------------------------------------------------------------
    def _job_overrides(self, trial: optuna.trial.Trial, space: SearchSpace) -> list[str]:
        ref = TrialRef(self.url, trial.study.study_name, trial.number)
        env = [f"++hydra.job.env_set.{k}={quote(v)}" for k, v in ref.env().items()]
        return [
            *space.fixed.values(),
            *trial_overrides(trial.params),
            f"hydra.sweep.subdir={trial.number}",
            *env,
        ]

    def _run_batch(
        self,
        study: optuna.Study,
        batch: list[optuna.trial.Trial],
        space: SearchSpace,
        sweep_dir: Path,
    ) -> list[JobReturn]:
        assert self.hydra_context is not None and self.config is not None
        jobs: list[tuple[optuna.trial.Trial, list[str]]] = []
        for trial in batch:
            trial.set_user_attr(JOB_DIR_ATTR, str(sweep_dir / str(trial.number)))
            overrides = self._job_overrides(trial, space)
            try:  # a composition error fails this trial only, before anything runs
                self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
            except Exception as err:
                self._fail(study, trial, f"{type(err).__name__}: {err}")
                continue
            log.info(f"trial {trial.number}: {' '.join(trial_overrides(trial.params))}")
            jobs.append((trial, overrides))
        if not jobs:
            return []
        ids = [trial_id(self.rdb, study, trial.number) for trial, _ in jobs]
        with heartbeats(self.rdb, ids):
            try:
                returns = list(
                    self.launcher.launch([o for _, o in jobs], initial_job_idx=jobs[0][0].number)
                )
            except Exception as err:
                for trial, _ in jobs:
                    self._fail(study, trial, f"launcher: {type(err).__name__}: {err}")
                return []
        for (trial, _), ret in zip(jobs, returns, strict=True):
            self._tell(study, trial, ret)
        return returns

    def _tell(self, study: optuna.Study, trial: optuna.trial.Trial, ret: JobReturn) -> None:
        """Turn what the job left (return value, failure.json, the attrs it wrote on its
        trial) into COMPLETE, PRUNED or FAIL."""
        frozen = self.rdb.get_trial(trial_id(self.rdb, study, trial.number))
        if frozen.state.is_finished():
            return
        attrs = dict(frozen.user_attrs)
        failure = _read_failure(ret)
        if ret.status == JobStatus.FAILED:
            err = ret._return_value
            failure = f"{type(err).__name__}: {err}"
        if failure and failure.startswith("TrialPruned"):  # Optuna's own callback raised it
            attrs[PRUNED_ATTR], failure = failure, None
        if attrs.get(PRUNED_ATTR):  # stopped by the pruner; a later error is kept as a note
            if failure:
                trial.set_user_attr(ERROR_ATTR, failure[:2000])
            _told(study, trial, state=TrialState.PRUNED)
            log.info(f"trial {trial.number} pruned: {attrs[PRUNED_ATTR]}")
            return None
        if failure:
            return self._fail(study, trial, failure)
        values = attrs.get(OBJECTIVE_ATTR, ret._return_value)
        checked = self._check_values(values)
        if isinstance(checked, str):
            return self._fail(study, trial, checked)
        _told(study, trial, values=checked)
        log.info(f"trial {trial.number} finished: {checked}")
        return None

    def _check_values(self, values: Any) -> list[float] | str:
        """The objective as a list of finite floats, or why it is not one."""
        seq = list(values) if isinstance(values, (list, tuple)) else [values]
        try:
            floats = [float(v) for v in seq]
        except (TypeError, ValueError):
            return f"objective is missing or not a number: {values!r}"
        if len(floats) != len(self.directions):
            return f"objective has {len(floats)} values for {len(self.directions)} directions"
        if not all(math.isfinite(v) for v in floats):
            return f"objective is NaN or infinite: {floats}"
        return floats

    def _fail(self, study: optuna.Study, trial: optuna.trial.Trial, error: str) -> None:
        log.warning(f"trial {trial.number} failed: {error}")
        trial.set_user_attr(ERROR_ATTR, error[:2000])
        _told(study, trial, state=TrialState.FAIL)

    def _check_failure_rate(self, study: optuna.Study) -> None:
        trials = study.get_trials(deepcopy=False)
        retried = retried_numbers(trials)
        failed = [t for t in trials if t.state == TrialState.FAIL and t.number not in retried]
        if len(failed) > self.max_failure_rate * self.n_trials:
            raise SweepAborted(
                f"{len(failed)} trials of study '{study.study_name}' failed, more than "
                f"max_failure_rate={self.max_failure_rate} x n_trials={self.n_trials}; "
                f"last error: {failed[-1].user_attrs.get(ERROR_ATTR)}"
            )


def _trials_so_far(storage: optuna.storages.BaseStorage, study_name: str | None) -> int:
    if study_name is None:
        return 0
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:  # a new study
        return 0
    return len(storage.get_all_trials(study_id, deepcopy=False))


def _told(study: optuna.Study, trial: optuna.trial.Trial, **kwargs: Any) -> None:
    """`study.tell`, outside `Study.optimize`: the grid sampler calls `study.stop()` once
    its grid is used up, which raises here after the state was stored; the loop sees
    the exhausted grid itself."""
    try:
        study.tell(trial, **kwargs)
    except RuntimeError as err:
        if "Study.stop" not in str(err):
            raise


def _read_failure(ret: JobReturn) -> str | None:
    """The error a guarded job recorded in its failure.json (see cli/hydra_app.py)."""
    try:
        path = Path(str(ret.hydra_cfg.hydra.runtime.output_dir)) / FAILURE_FILE  # type: ignore[union-attr]
    except AttributeError:
        return None
    if not path.is_file():
        return None
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("error") or "failed")
    except (OSError, ValueError):
        return "failed (unreadable failure.json)"
