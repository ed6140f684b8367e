"""RunDirectory: rank zero refuses an earlier run's directory and every rank stops with
it; otherwise config.yaml (and skipped_samples.csv) are written once. The hook is called
directly with a stand-in trainer, so ranks other than zero can be played too."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from ocec_lightning.callbacks.run_directory import RunDirectory, RunDirectoryRefused


def _trainer(rank_zero: bool = True, answer: Any = "unset", skipped: Any = ()) -> Any:
    """A trainer as the hook sees it; `answer` is what rank zero broadcast (if not us)."""
    broadcast = (lambda value: value) if answer == "unset" else (lambda value: answer)
    return SimpleNamespace(
        is_global_zero=rank_zero,
        strategy=SimpleNamespace(broadcast=broadcast),
        datamodule=SimpleNamespace(skipped_samples=list(skipped)),
    )


def _earlier_run(run: Path) -> Path:
    (run / "checkpoints").mkdir(parents=True)
    ckpt = run / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(b"an earlier run's weights")
    return ckpt


def test_writes_the_config_and_skipped_samples_once(make_cfg, tmp_path: Path) -> None:
    callback = RunDirectory(make_cfg(["seed=7"]))
    rows = [{"row": 3, "ref": "img_003.png", "reason": "empty file"}]
    callback.setup(_trainer(skipped=rows), None, "fit")  # type: ignore[arg-type]
    run = tmp_path / "run"
    assert yaml.safe_load((run / "config.yaml").read_text())["seed"] == 7
    lines = (run / "skipped_samples.csv").read_text().splitlines()
    assert lines == ["row,ref,reason", "3,img_003.png,empty file"]
    (run / "config.yaml").unlink()
    callback.setup(_trainer(), None, "test")  # type: ignore[arg-type]  # the test stage
    assert not (run / "config.yaml").exists()


def test_no_skipped_samples_no_file(make_cfg, tmp_path: Path) -> None:
    RunDirectory(make_cfg()).setup(_trainer(), None, "fit")  # type: ignore[arg-type]
    assert (tmp_path / "run" / "config.yaml").is_file()
    assert not (tmp_path / "run" / "skipped_samples.csv").exists()


def test_an_earlier_runs_directory_is_refused_and_left_as_it_was(make_cfg, tmp_path: Path) -> None:
    ckpt = _earlier_run(tmp_path / "run")
    with pytest.raises(RunDirectoryRefused) as info:
        RunDirectory(make_cfg()).setup(_trainer(), None, "fit")  # type: ignore[arg-type]
    assert info.value.key == "paths.output_dir" and "\n" not in str(info.value)
    assert f"ckpt_path={ckpt}" in str(info.value)
    assert sorted(p.name for p in (tmp_path / "run").rglob("*")) == ["checkpoints", "last.ckpt"]


def test_the_refusal_reaches_every_rank(make_cfg, tmp_path: Path) -> None:
    # Rank 1 does not look at the directory; it stops because rank zero said so.
    callback = RunDirectory(make_cfg())
    with pytest.raises(RunDirectoryRefused, match="already holds 2 checkpoint"):
        callback.setup(_trainer(False, "already holds 2 checkpoint(s)"), None, "fit")  # type: ignore[arg-type]
    callback.setup(_trainer(False, None), None, "fit")  # type: ignore[arg-type]
    assert not (tmp_path / "run" / "config.yaml").exists()  # only rank zero writes


def test_resuming_the_run_in_its_directory_is_allowed(make_cfg, tmp_path: Path) -> None:
    ckpt = _earlier_run(tmp_path / "run")
    for resume in (str(ckpt), "last"):
        RunDirectory(make_cfg([f"ckpt_path={resume}"])).setup(_trainer(), None, "fit")  # type: ignore[arg-type]
    assert (tmp_path / "run" / "config.yaml").is_file()
