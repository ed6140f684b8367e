"""The job side of a sweep trial, as a Lightning callback (`callbacks.sweep_trial`, added
by the `hparams_search` configs).

After the first validation it checks that every `optimized_metric` is logged and fails
with the names of the metrics that are. Inside an `ocec_optuna` sweep it rebuilds its
trial from storage + trial number (environment, see `study.py`) and, at every
validation:
- reports the first metric to the trial through Optuna's
  `PyTorchLightningPruningCallback`; when the pruner says so, the trial is marked
  pruned on the trial (user attr `pruned`) and training stops at the end of the epoch,
  so the run ends cleanly (checkpoints, summary) and the sweeper tells it PRUNED;
- records the objective (user attr `objective`): the best value of the first metric
  over validations, and the other metrics at that same validation.
Outside a sweep (a single run) only the check runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch import Callback

from ocec_lightning.errors import ConfigError


class SweepTrial(Callback):
    """Report to / record on the Optuna trial of this job (if any)."""

    def __init__(self, metrics: str | Sequence[str]) -> None:
        names = [metrics] if isinstance(metrics, str) else [str(m) for m in metrics]
        if not names:
            raise ConfigError("metrics", metrics, "a metric name or a list of them")
        self.metrics = names
        self.trial: Any = None  # optuna.trial.Trial inside a sweep
        self._pruning: Any = None
        self._checked = False
        self._best: float | None = None
        self._maximize = False

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or self.trial is not None:
            return
        from ocec_lightning.sweeps.study import TrialRef

        ref = TrialRef.from_env()
        if ref is None:
            return
        self.attach(_load_trial(ref))

    def attach(self, trial: Any) -> None:
        """Use `trial` (an optuna Trial): report, prune and record the objective on it."""
        from optuna_integration import PyTorchLightningPruningCallback

        self.trial = trial
        directions = trial.study.directions
        self._maximize = directions[0].name.lower() == "maximize"
        # Pruning works on one objective only (Optuna's rule).
        if len(directions) == 1:
            self._pruning = PyTorchLightningPruningCallback(trial, monitor=self.metrics[0])

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._pruning is not None:
            self._pruning.on_fit_start(trainer, pl_module)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        logged = trainer.callback_metrics
        if not self._checked:
            missing = [m for m in self.metrics if m not in logged]
            if missing:
                raise ConfigError(
                    "optimized_metric",
                    missing[0] if len(self.metrics) == 1 else self.metrics,
                    "metrics logged at validation: " + ", ".join(sorted(logged)),
                )
            self._checked = True
        if self.trial is None or not trainer.is_global_zero:
            return
        values = [float(logged[m]) for m in self.metrics]
        if math.isfinite(values[0]) and self._better(values[0]):
            self._best = values[0]
            self.trial.set_user_attr("objective", values)
        if self._pruning is not None:
            self._prune_if_asked(trainer, pl_module)

    def _better(self, value: float) -> bool:
        if self._best is None:
            return True
        return value > self._best if self._maximize else value < self._best

    def _prune_if_asked(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        import optuna

        try:
            self._pruning.on_validation_end(trainer, pl_module)
        except optuna.TrialPruned as pruned:
            self.trial.set_user_attr("pruned", str(pruned))
            trainer.should_stop = True


def _load_trial(ref: Any) -> Any:
    from hydra.core.hydra_config import HydraConfig

    from ocec_lightning.sweeps.study import build_pruner, load_trial

    try:
        pruner_cfg = HydraConfig.get().sweeper.get("pruner")
    except ValueError:  # no Hydra runtime (a notebook): no pruning
        pruner_cfg = None
    return load_trial(ref, build_pruner(pruner_cfg))
