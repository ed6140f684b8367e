"""The sweeper's config schema (`hydra/sweeper: ocec_optuna`) and its sampler / pruner
options, registered in Hydra's ConfigStore by the plugin shim.

The keys of the published `hydra-optuna-sweeper` are kept (`sampler`, `direction`,
`study_name`, `storage`, `n_trials`, `n_jobs`, `max_failure_rate`, `params`,
`custom_search_space`) so its users' configs carry over after replacing `_target_` /
`override hydra/sweeper: optuna` by `ocec_optuna`. Added: `pruner`, the heartbeat that
fails and retries trials whose process died, and the summary settings. Sampler and
pruner options carry only `_target_` and `seed`, so a user's `sampler:` mapping can name
another class without inheriting keys it does not accept. No optuna import here: Hydra
imports this module while scanning plugins on every start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

SWEEPER_TARGET = "hydra_plugins.ocec_optuna_sweeper.ocec_optuna_sweeper.OcecOptunaSweeper"
BASIC_TARGET = "hydra_plugins.ocec_optuna_sweeper.ocec_optuna_sweeper.OcecBasicSweeper"
PROVIDER = "ocec_lightning"

# name -> optuna class; every option also takes `seed` (null = random).
SAMPLERS = {
    "tpe": "optuna.samplers.TPESampler",
    "random": "optuna.samplers.RandomSampler",
    "cmaes": "optuna.samplers.CmaEsSampler",
    "grid": "optuna.samplers.GridSampler",  # search space built from choice/range params
    "nsgaii": "optuna.samplers.NSGAIISampler",  # multi-objective
    "qmc": "optuna.samplers.QMCSampler",
}
PRUNERS = {
    "none": "optuna.pruners.NopPruner",
    "median": "optuna.pruners.MedianPruner",
    "hyperband": "optuna.pruners.HyperbandPruner",
    "successive_halving": "optuna.pruners.SuccessiveHalvingPruner",
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
    """Hydra's basic sweeper, with expanded values quoted (Chinese option names by glob)."""

    _target_: str = BASIC_TARGET
    max_batch_size: int | None = None
    params: dict[str, str] | None = None


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
    for name, target in PRUNERS.items():
        store.store(
            group="hydra/sweeper/pruner", name=name, node={"_target_": target}, provider=PROVIDER
        )
