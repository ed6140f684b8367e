"""Evaluate a checkpoint: rebuild the run's task from the config stored in the
checkpoint, load its (EMA) weights and tuned threshold, and test on a split.

Data settings come from the checkpoint too, so `ocec-eval ckpt_path=...` reproduces the
training run's test metrics; any `data=...` / `data.*` override on the command line
switches to the composed data config instead (evaluate on other data).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from ocec_lightning.config.instantiate import instantiate
from ocec_lightning.errors import ConfigError, DataError
from ocec_lightning.training import build_loggers, build_task
from ocec_lightning.utils.console import console


def load_checkpoint_meta(path: str | Path) -> dict[str, Any]:
    """The `ocec` block of a checkpoint written by this package (config, threshold, ...)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"ckpt_path: no checkpoint file at {file}")
    checkpoint = torch.load(file, map_location="cpu", weights_only=False)
    meta = checkpoint.get("ocec")
    if not meta or not meta.get("config"):
        raise DataError(
            f"ckpt_path: {file} was not written by ocec-train (no 'ocec' block with the run config)"
        )
    return meta


def eval_config(cfg: DictConfig, meta: dict[str, Any], user_overrides: list[str]) -> DictConfig:
    """The training config of the checkpoint with this run's trainer/logger/paths and,
    when the user overrode data, the composed data section."""
    run_cfg = OmegaConf.create(meta["config"])
    with open_dict(run_cfg):
        for key in ("trainer", "logger", "paths", "seed"):
            run_cfg[key] = cfg[key]
        if any(o.lstrip("+~").startswith(("data=", "data.", "data/")) for o in user_overrides):
            run_cfg.data = cfg.data
        run_cfg.callbacks = None
        # Evaluation never augments: an empty transform list for the run's task.
        run_cfg.aug = OmegaConf.create({"name": "none", str(run_cfg.task.name): [], "batch": None})
        if cfg.get("split") not in ("test", "val"):
            raise ConfigError("split", cfg.get("split"), "'test' or 'val'")
    return run_cfg


def run_evaluation(cfg: DictConfig, user_overrides: list[str] | None = None) -> dict[str, float]:
    """Test (or validate) `cfg.ckpt_path`; returns the metrics and writes eval_metrics.json."""
    meta = load_checkpoint_meta(cfg.ckpt_path)
    run_cfg = eval_config(cfg, meta, list(user_overrides or []))
    from ocec_lightning.data import build_datamodule  # after config checks: heavy import

    pl.seed_everything(int(run_cfg.seed), workers=True)
    datamodule = build_datamodule(run_cfg)
    stage = "test" if cfg.split == "test" else "validate"
    datamodule.setup(stage if stage == "test" else "fit")
    task = build_task(run_cfg, datamodule)
    trainer: pl.Trainer = instantiate(
        run_cfg.trainer, "trainer", logger=build_loggers(run_cfg) or False, callbacks=[]
    )
    try:
        run = trainer.test if stage == "test" else trainer.validate
        results = run(task, datamodule=datamodule, ckpt_path=str(cfg.ckpt_path), weights_only=False)
    except RuntimeError as err:
        if "state_dict" in str(err):
            raise ConfigError(
                "ckpt_path",
                str(cfg.ckpt_path),
                f"a checkpoint of model {run_cfg.model.get('_target_')}; loading failed: "
                f"{str(err).splitlines()[0]}",
            ) from None
        raise
    metrics = {k: float(v) for k, v in (results[0] if results else {}).items()}
    out = Path(run_cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval_metrics.json").write_text(
        json.dumps(
            {
                "ckpt_path": str(cfg.ckpt_path),
                "split": cfg.split,
                "threshold": meta.get("threshold"),
                "metrics": metrics,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    console.print(
        f"[bold green]eval[/] {cfg.ckpt_path} on {cfg.split}: "
        + ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items()))
    )
    return metrics
