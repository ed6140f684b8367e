"""Shared fixtures: compose configs as the CLI does, on tiny synthetic data, with every
output (run dir, caches) under pytest's temporary directories."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from ocec_lightning.config import compose_config

# Small enough for a fast step, large enough that every split holds both classes.
TINY_DATA = ["data.source.num_samples=240", "data.batch_size=32", "data.num_workers=0"]
# Segmentation: fewer, smaller scenes (64×64 is the smallest size MicroSegFormer accepts).
TINY_SEG_DATA = [
    "data.source.num_samples=48",
    "data.batch_size=8",
    "data.num_workers=0",
    "data.image_size=[64,64]",
]
QUIET = ["callbacks.progress_bar=null", "callbacks.model_summary=null"]


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One intra-op torch thread for tiny tensors: on a shared 2-core box more threads
    only contend. Restored afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["OCEC_CACHE_DIR"] = str(tmp_path_factory.mktemp("ocec_cache"))
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture()
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """compose(overrides) -> config whose run dir is tmp_path/run (tiny synthetic data)."""

    def _make(
        overrides: Sequence[str] = (),
        tiny: bool = True,
        config_name: str = "train",
        run_dir: Path | None = None,
    ) -> DictConfig:
        segmentation = "task=segmentation" in overrides
        extra = list(TINY_SEG_DATA if segmentation else TINY_DATA) if tiny else []
        extra += QUIET if config_name == "train" else []
        return compose_config(
            [*extra, *overrides], config_name=config_name, output_dir=run_dir or tmp_path / "run"
        )

    return _make
