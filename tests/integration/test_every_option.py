"""Every option of every config group composes, validates and runs a fast_dev_run step.

Options that need hardware this machine may lack (GPU trainers) are composed and
validated; running them is skipped without CUDA. Data sources that need files on disk
are covered in test_data_formats.py; DDP on CPU runs through the CLI in
tests/cli/test_train_cli.py (Lightning relaunches the command per process).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ocec_lightning.config import conf_dir
from ocec_lightning.errors import ConfigError
from ocec_lightning.training import run_training

NEEDS_FILES = {("data", "parquet"), ("data", "folder"), ("data", "csv")}
NEEDS_CUDA = {("trainer", "gpu"), ("trainer", "ddp"), ("trainer", "multinode")}
VIA_CLI = {("trainer", "ddp_cpu")}  # multinode on CPU: tests/cli/test_ddp_scale.py
# Loggers write nothing under fast_dev_run, so they run two short epochs instead.
SHORT_RUN = {"logger"}
# Every config group folder; `hydra` only configures Hydra itself (run dirs, help).
GROUPS = tuple(sorted(p.name for p in conf_dir().iterdir() if p.is_dir() and p.name != "hydra"))


def option_task(group: str, option: str) -> str | None:
    """The task an option is written for: a `# task: <name>` line at the top of its YAML."""
    for line in (
        (conf_dir() / group / f"{option}.yaml").read_text(encoding="utf-8").splitlines()[:5]
    ):
        if line.startswith("# task:"):
            return line.split(":", 1)[1].strip()
    return None


def group_options() -> list[tuple[str, str]]:
    pairs = []
    for group in GROUPS:
        for file in sorted((conf_dir() / group).glob("*.yaml")):
            if not file.stem.startswith("_"):
                pairs.append((group, file.stem))
    return pairs


OPTIONS = group_options()


def test_the_option_list_is_complete() -> None:
    listed = {g for g, _ in OPTIONS}
    assert listed == set(GROUPS), "a config group folder has no option"
    assert {"task", "data", "model", "loss", "optimizer", "scheduler", "aug", "preset"} <= listed
    assert (
        ("aug", "激进") in OPTIONS
        and ("scheduler", "cosine") in OPTIONS
        and ("model", "timm") in OPTIONS
    )


@pytest.mark.parametrize(
    ("group", "option"),
    [p for p in OPTIONS if p not in NEEDS_FILES | VIA_CLI],
    ids=lambda v: str(v),
)
def test_option_runs_a_step(group: str, option: str, make_cfg, tmp_path: Path) -> None:
    debug = (
        []
        if group == "debug"
        else (["debug=limit", "trainer.max_epochs=1"] if group in SHORT_RUN else ["debug=fdr"])
    )
    overrides = [f"{group}={option}", *debug]
    task = option_task(group, option)
    if task and group != "task":
        overrides.insert(0, f"task={task}")
    if (group, option) == ("debug", "overfit"):
        overrides.append("trainer.max_epochs=2")
    if (group, option) in NEEDS_CUDA and not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="trainer.accelerator"):
            run_training(make_cfg(overrides))
        return
    cfg = make_cfg(overrides)
    result = run_training(cfg)
    if not cfg.test:  # e.g. preset=ocec_batch4096: the reviewed setup has no test split
        assert result.epochs == 1 and not result.test_metrics
        return
    assert result.test_metrics, "the test step produced no metrics"
    assert all(value == value for value in result.test_metrics.values())  # no NaN
    if group == "logger":
        run_dir = Path(result.run_dir)
        expected = {
            "csv": ["csv/metrics.csv"],
            "tensorboard": ["tensorboard"],
            "wandb": ["wandb"],
            "mlflow": ["mlruns"],
            "many": ["csv/metrics.csv", "tensorboard"],
        }[option]
        for name in expected:
            assert (run_dir / name).exists(), (
                f"logger={option} wrote no {name} in {sorted(p.name for p in run_dir.iterdir())}"
            )
