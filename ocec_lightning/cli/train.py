"""`ocec-train [overrides]`: train as composed from conf/train.yaml (Hydra app)."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from ocec_lightning.cli.hydra_app import CONFIG_PATH, prepare_argv, run_guarded


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
