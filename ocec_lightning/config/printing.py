"""Show the composed config as a rich tree."""

from __future__ import annotations

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


def print_config(cfg: DictConfig, console: Console | None = None) -> None:
    """Print the config tree (the run directory's copy is written by `run_dir`)."""
    (console or Console()).print(config_tree(cfg))
