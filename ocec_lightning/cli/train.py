"""`ocec-train [overrides]`: train as composed from conf/train.yaml (Hydra app).

`KeepEarlierRunDir` is a Hydra callback (conf/train.yaml `hydra.callbacks`): Hydra writes
`.hydra/` into the run directory before the run starts, so a directory that the run will
refuse (it holds an earlier run's checkpoints, `run_dir.refusal`) would lose the earlier
run's `.hydra/` files. The callback switches that write off for such a directory; the run
itself then stops with the one-line refusal (`callbacks/run_directory.py`).
"""

from __future__ import annotations

from typing import Any

import hydra
from hydra.experimental.callback import Callback as HydraCallback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from ocec_lightning.cli.hydra_app import CONFIG_PATH, prepare_argv, run_guarded
from ocec_lightning.run_dir import refusal


class KeepEarlierRunDir(HydraCallback):
    """No `.hydra/` written into a run directory that holds an earlier run (single runs;
    a sweep's trial directories are new ones)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = OmegaConf.select(config, "hydra.run.dir")
        if run_dir is None or not refusal(run_dir, [], config.get("ckpt_path")):
            return
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.output_subdir = None


def _train(cfg: DictConfig) -> float | None:
    from ocec_lightning import ddp
    from ocec_lightning.training import run_training  # heavy imports after --help/--cfg

    ddp.install("ocec_lightning.cli.train")  # DDP children of a -m job re-run that job
    with ddp.job_scope():  # the next job of a sweep starts from a clean DDP environment
        result = run_training(cfg)
    # Sweepers optimise the returned value: the best monitored score of this trial.
    return result.best_score


@hydra.main(config_path=CONFIG_PATH, config_name="train", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float | None:
    return run_guarded(_train, cfg)


def main() -> None:
    """Console-script entry point."""
    prepare_argv()
    _hydra_main()


if __name__ == "__main__":
    main()
