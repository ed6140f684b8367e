"""Show the composed config as a rich tree and save it in the run directory."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.syntax import Syntax
from rich.tree import Tree

# Groups shown first, in the order a reader scans a training recipe.
_ORDER = (
    "task",
    "data",
    "model",
    "loss",
    "optimizer",
    "scheduler",
    "aug",
    "callbacks",
    "trainer",
    "logger",
    "paths",
)


def config_tree(cfg: DictConfig, resolve: bool = True) -> Tree:
    """A rich Tree with one branch per top-level key, each holding its YAML."""
    tree = Tree("config", style="bold", guide_style="dim")
    keys = [k for k in _ORDER if k in cfg] + [k for k in cfg if k not in _ORDER]
    for key in keys:
        branch = tree.add(f"[bold cyan]{key}[/]")
        value = cfg[key]
        text = (
            OmegaConf.to_yaml(value, resolve=resolve)
            if isinstance(value, DictConfig)
            else str(value)
        )
        branch.add(Syntax(text.rstrip(), "yaml", theme="ansi_dark", background_color="default"))
    return tree


def print_and_save_config(
    cfg: DictConfig, run_dir: str | Path, console: Console | None = None
) -> Path:
    """Print the config tree and write the fully resolved YAML to run_dir/config.yaml."""
    console = console or Console()
    console.print(config_tree(cfg))
    path = Path(run_dir) / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True), encoding="utf-8")
    return path
