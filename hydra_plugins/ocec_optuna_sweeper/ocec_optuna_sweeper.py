"""Hydra finds plugins by walking the `hydra_plugins` namespace package and accepts only
classes defined under it, so the two sweepers are declared here and do their work in
`ocec_lightning.sweeps`:

- `hydra/sweeper: ocec_optuna` (OcecOptunaSweeper): Optuna 5 sweeps with resume, pruning
  and failure handling; its own name, so it never clashes with `hydra-optuna-sweeper`.
- `hydra/sweeper: ocec_basic` (OcecBasicSweeper, the default of conf/hydra/default.yaml):
  Hydra's basic sweeper with every expanded override quoted, so a glob over Chinese
  option names (`preset=glob(*)`) composes, and `hydra.sweeper.alternatives` (label ->
  one line of overrides) runs every job once per alternative.

Importing this module (Hydra does so on every start) registers the configs and imports
neither optuna nor torch.
"""

from __future__ import annotations

from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.types import Override
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from ocec_lightning.sweeps.config import register_configs

register_configs()


class OcecOptunaSweeper(Sweeper):
    """Delegates to `ocec_lightning.sweeps.sweeper.OptunaSweeperImpl` (imported lazily)."""

    def __init__(self, **kwargs: Any) -> None:
        try:
            from ocec_lightning.sweeps.sweeper import OptunaSweeperImpl
        except ImportError as err:
            raise ImportError(
                f"hydra/sweeper=ocec_optuna needs the sweep extra ({err}): "
                "pip install 'ocec_lightning[sweep]' (make install does)"
            ) from err

        self.sweeper = OptunaSweeperImpl(**kwargs)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> Any:
        return self.sweeper.sweep(arguments)


class OcecBasicSweeper(BasicSweeper):
    """Hydra's basic sweeper; the overrides it expands are quoted like the command line's,
    and each job runs once per entry of `alternatives` (label -> one override line)."""

    def __init__(
        self,
        max_batch_size: int | None = None,
        params: dict[str, str] | None = None,
        alternatives: dict[str, str] | None = None,
    ) -> None:
        super().__init__(max_batch_size, params)
        self.alternatives = {str(k): str(v or "") for k, v in (alternatives or {}).items()}
        self.jobs_given = 0

    def get_job_batch(self) -> list[list[str]]:
        batch = [list(job) for job in super().get_job_batch()]
        if not self.alternatives:
            return batch
        from ocec_lightning.sweeps.basic import with_alternatives

        jobs = with_alternatives(batch, self.alternatives, self.jobs_given)
        self.jobs_given += len(jobs)
        return jobs

    @staticmethod
    def split_arguments(
        overrides: list[Override], max_batch_size: int | None
    ) -> list[list[list[str]]]:
        from ocec_lightning.sweeps.basic import quote_batches, unquote_globs

        unquote_globs(overrides)
        return quote_batches(BasicSweeper.split_arguments(overrides, max_batch_size))
