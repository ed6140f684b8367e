"""`ocec-eval ckpt_path=... [split=test|val] [overrides]`: test a trained checkpoint."""

from __future__ import annotations

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ocec_lightning.cli.hydra_app import CONFIG_PATH, prepare_argv, run_guarded


def _eval(cfg: DictConfig) -> float | None:
    from ocec_lightning.evaluation import run_evaluation

    # Sweepers and callers get the task's monitored metric (test/f1, test/fscore, ...).
    return run_evaluation(cfg, list(HydraConfig.get().overrides.task)).score


@hydra.main(config_path=CONFIG_PATH, config_name="eval", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float | None:
    return run_guarded(_eval, cfg)


def main() -> None:
    """Console-script entry point."""
    prepare_argv()
    _hydra_main()


if __name__ == "__main__":
    main()
