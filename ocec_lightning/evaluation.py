"""Evaluate a checkpoint: rebuild the task with `load_from_checkpoint` (its EMA weights,
tuned threshold and hyper-parameters) and the data from the checkpoint's
`datamodule_hyper_parameters`, then test (or validate) on a split.

`ocec-eval ckpt_path=...` therefore reproduces the training run's test metrics; any
`data=...` / `data.*` override on the command line switches to the composed data config
instead (evaluate on other data). Returns the metrics and the task's monitored metric
for the split (`test/f1` for classification, `test/fscore` for segmentation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf, open_dict

from ocec_lightning import run_dir
from ocec_lightning.callbacks import build_loggers
from ocec_lightning.checkpoints import read_checkpoint_file
from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.errors import ConfigError
from ocec_lightning.utils.console import console


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by `ocec-train`, read with `weights_only=True`; a missing,
    corrupt or foreign file is a one-line DataError naming it."""
    return read_checkpoint_file(path, "ckpt_path")


def eval_config(cfg: DictConfig, record: dict[str, Any], user_overrides: list[str]) -> DictConfig:
    """The checkpoint's data config with this run's trainer/logger/paths and, when the
    user overrode data, the composed data section."""
    if cfg.get("split") not in ("test", "val"):
        raise ConfigError("split", cfg.get("split"), "'test' or 'val'")
    run_cfg = OmegaConf.create(record)
    with open_dict(run_cfg):
        for key in ("trainer", "logger", "paths"):
            run_cfg[key] = cfg[key]
        if any(o.lstrip("+~").startswith(("data=", "data.", "data/")) for o in user_overrides):
            run_cfg.data = cfg.data  # its links now read the checkpoint's task and seed
        # Evaluation never augments: an empty transform list for the run's task.
        run_cfg.aug = OmegaConf.create({"name": "none", str(run_cfg.task.name): [], "batch": None})
    return run_cfg


@dataclass
class EvalResult:
    """The metrics of one evaluation and the task's monitored metric among them."""

    metrics: dict[str, float]
    monitor: str  # e.g. test/f1, val/fscore

    @property
    def score(self) -> float | None:
        return self.metrics.get(self.monitor)


def run_evaluation(cfg: DictConfig, user_overrides: list[str] | None = None) -> EvalResult:
    """Test (or validate) `cfg.ckpt_path`; writes eval_metrics.json."""
    checkpoint = read_checkpoint(cfg.ckpt_path)
    record = checkpoint["datamodule_hyper_parameters"]["config"]
    run_cfg = eval_config(cfg, record, list(user_overrides or []))
    from ocec_lightning.data import build_datamodule  # after config checks: heavy import

    pl.seed_everything(int(run_cfg.seed), workers=True)
    datamodule = build_datamodule(run_cfg)
    task_class = get_class(str(run_cfg.task.module_target))
    try:
        task = task_class.load_from_checkpoint(cfg.ckpt_path, map_location="cpu", weights_only=True)
    except RuntimeError as err:
        raise ConfigError(
            "ckpt_path",
            str(cfg.ckpt_path),
            f"a checkpoint whose weights fit its model; loading failed: {str(err).splitlines()[0]}",
        ) from None
    trainer: pl.Trainer = instantiate(
        run_cfg.trainer, "trainer", logger=build_loggers(run_cfg.logger) or False, callbacks=[]
    )
    # The task already holds the checkpoint's weights (no ckpt_path); weights_only=True
    # all the same, so a later ckpt_path here cannot load unsafely (tests/packaging).
    if cfg.split == "test":
        results = trainer.test(task, datamodule=datamodule, weights_only=True)
    else:
        results = trainer.validate(task, datamodule=datamodule, weights_only=True)
    metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
    monitor = str(run_cfg.task.monitor).replace("val/", f"{cfg.split}/", 1)
    run_dir.write_eval_metrics(
        run_cfg.paths.output_dir,
        {
            "ckpt_path": str(cfg.ckpt_path),
            "split": cfg.split,
            "monitor": monitor,
            "threshold": task.hparams.get("threshold"),
            "metrics": metrics,
        },
    )
    console.print(
        f"[bold green]eval[/] {cfg.ckpt_path} on {cfg.split}: "
        + ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())),
        soft_wrap=True,
    )
    return EvalResult(metrics=metrics, monitor=monitor)
