"""Every `conf/logger` option keeps the CSV log the analysis reads (`csv/metrics.csv`,
read by the end-of-fit curve report and `ocec-analyze`), in training and evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate

from ocec_lightning.config import conf_dir
from ocec_lightning.config.compose import compose_config
from ocec_lightning.utils.csv_logger import ResumableCSVLogger

LOGGERS = sorted(p.stem for p in (conf_dir() / "logger").glob("*.yaml"))


def test_the_logger_group_is_found() -> None:
    assert {"csv", "tensorboard", "wandb", "mlflow", "many"} <= set(LOGGERS)


@pytest.mark.parametrize("config_name", ["train", "eval"])
@pytest.mark.parametrize("option", LOGGERS)
def test_every_logger_option_writes_csv_metrics(
    option: str, config_name: str, tmp_path: Path
) -> None:
    overrides = [f"logger={option}"] + (["ckpt_path=x.ckpt"] if config_name == "eval" else [])
    cfg = compose_config(overrides, config_name=config_name, output_dir=tmp_path / "run")
    assert "csv" in cfg.logger, f"logger={option} composes {list(cfg.logger)}, no csv logger"
    csv_logger = instantiate(cfg.logger.csv)
    assert isinstance(csv_logger, ResumableCSVLogger)
    assert Path(csv_logger.log_dir) == (tmp_path / "run" / "csv").resolve()
