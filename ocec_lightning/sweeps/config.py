"""The sweeper's config schema (`hydra/sweeper: ocec_optuna`) and its sampler / pruner
options, registered in Hydra's ConfigStore by the plugin shim.

The keys of the published `hydra-optuna-sweeper` are kept (`sampler`, `direction`,
`study_name`, `storage`, `n_trials`, `n_jobs`, `max_failure_rate`, `params`,
`custom_search_space`) so its users' configs carry over after replacing `_target_` /
`override hydra/sweeper: optuna` by `ocec_optuna`. Added: `pruner`, the heartbeat that
fails and retries trials whose process died, and the summary settings. Sampler and
pruner options are swapped whole when another is chosen; samplers carry only `_target_`
and `seed` (accepted by all), so a `sampler:` mapping may name another class. No optuna
import here: Hydra imports this module while scanning plugins on every start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

SWEEPER_TARGET = "hydra_plugins.ocec_optuna_sweeper.ocec_optuna_sweeper.OcecOptunaSweeper"
BASIC_TARGET = "hydra_plugins.ocec_optuna_sweeper.ocec_optuna_sweeper.OcecBasicSweeper"
PROVIDER = "ocec_lightning"

# name -> optuna class; every option also takes `seed` (null = random; a seed is offset by
# the number of trials the study already has, so a resumed or joining process does not
# replay the first process's suggestions).
SAMPLERS = {
    "tpe": "optuna.samplers.TPESampler",
    "random": "optuna.samplers.RandomSampler",
    "cmaes": "optuna.samplers.CmaEsSampler",
    "grid": "optuna.samplers.GridSampler",  # search space built from choice/range params
    "nsgaii": "optuna.samplers.NSGAIISampler",  # multi-objective
    "qmc": "optuna.samplers.QMCSampler",
}
# name -> the pruner's settings; switching option swaps them whole (`hydra/sweeper/pruner=
# hyperband` drops the median's keys). Steps are validation epochs.
PRUNERS: dict[str, dict[str, Any]] = {
    "none": {"_target_": "optuna.pruners.NopPruner"},
    "median": {  # prune below the median of earlier trials at the same epoch
        "_target_": "optuna.pruners.MedianPruner",
        "n_startup_trials": 5,  # trials that run in full before any pruning
        "n_warmup_steps": 2,  # epochs of a trial before it can be pruned
    },
    "hyperband": {
        "_target_": "optuna.pruners.HyperbandPruner",
        "min_resource": 1,  # epochs every trial gets
        "max_resource": "auto",  # the longest trial's epochs
        "reduction_factor": 3,
    },
    "successive_halving": {
        "_target_": "optuna.pruners.SuccessiveHalvingPruner",
        "min_resource": "auto",
        "reduction_factor": 4,
        "min_early_stopping_rate": 0,
    },
}


@dataclass
class OcecOptunaSweeperConf:
    """`hydra.sweeper` when `hydra/sweeper=ocec_optuna` (see conf/hparams_search/)."""

    _target_: str = SWEEPER_TARGET
    _recursive_: bool = False  # the sweeper builds sampler and pruner itself
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])
    sampler: Any = MISSING  # mapping with _target_ (an optuna sampler)
    pruner: Any = MISSING  # mapping with _target_ (an optuna pruner)
    # minimize | maximize (min | max accepted), or a list of them (multi-objective)
    direction: Any = "minimize"
    storage: Any = None  # SQLite file path or RDB URL; null = <sweep dir>/optuna.db
    study_name: str | None = None  # null = a generated name (give one to resume)
    n_trials: int = 20  # trials of the whole study, over every run and process
    n_jobs: int = 1  # trials asked and launched together (parallel with a parallel launcher)
    # Stop when the failed trials of the study exceed this fraction of n_trials.
    max_failure_rate: float = 0.5
    params: dict[str, str] | None = None  # search space: key -> interval(..)/choice(..)/...
    custom_search_space: str | None = None  # dotted path of fn(cfg, trial) adding suggestions
    heartbeat_interval: int = 60  # seconds between heartbeats of a running trial (RDB storages)
    grace_period: int | None = None  # seconds without heartbeat before FAIL (null = 2x interval)
    max_retry: int = 3  # times a trial whose process died is run again with its parameters
    top_k: int = 5  # trials listed in optimization_results.yaml
    plots: bool = True  # optimization history, parameter importances, slice (PNG)


@dataclass
class OcecBasicSweeperConf:
    """Hydra's basic sweeper, with expanded values quoted (Chinese option names by glob)
    and named alternatives (several overrides per job)."""

    _target_: str = BASIC_TARGET
    max_batch_size: int | None = None
    params: dict[str, str] | None = None
    # label -> one line of overrides: each swept job runs once per alternative, in
    # <sweep dir>/<job number>_<label> (sweeps/basic.py, `ocec-analyze curves --next`)
    alternatives: dict[str, str] | None = None


def register_configs() -> None:
    """Store the sweeper, sampler and pruner options (idempotent)."""
    store = ConfigStore.instance()
    store.store(
        group="hydra/sweeper", name="ocec_optuna", node=OcecOptunaSweeperConf, provider=PROVIDER
    )
    store.store(
        group="hydra/sweeper", name="ocec_basic", node=OcecBasicSweeperConf, provider=PROVIDER
    )
    for name, target in SAMPLERS.items():
        store.store(
            group="hydra/sweeper/sampler",
            name=name,
            node={"_target_": target, "seed": None},
            provider=PROVIDER,
        )
    for name, node in PRUNERS.items():
        store.store(group="hydra/sweeper/pruner", name=name, node=node, provider=PROVIDER)
