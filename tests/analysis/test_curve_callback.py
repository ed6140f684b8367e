"""CurveReport: a real short training writes analysis.md / analysis.png into its run dir
from the run dir's own files; bad arguments fail at construction; no log = a warning."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from omegaconf import DictConfig

from ocec_lightning import training
from ocec_lightning.analysis.curves.callback import CurveReport
from ocec_lightning.errors import ConfigError

SHORT = [
    "trainer.max_epochs=3",
    "trainer.limit_train_batches=3",
    "trainer.limit_val_batches=2",
    "trainer.num_sanity_val_steps=0",
    "test=false",
]


def test_short_training_writes_the_report(
    make_cfg: Callable[..., DictConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []

    def build_and_keep(cfg: Any) -> list[Any]:
        built.extend(build(cfg))
        return built

    build = training.build_callbacks
    monkeypatch.setattr(training, "build_callbacks", build_and_keep)
    cfg = make_cfg([*SHORT, "callbacks.curve_report.lang=zh"])
    result = training.run_training(cfg)
    run = Path(result.run_dir)
    report = next(cb for cb in built if isinstance(cb, CurveReport))
    text = (run / "analysis.md").read_text(encoding="utf-8")
    assert (run / "analysis.png").stat().st_size > 10_000
    assert "# 训练曲线分析" in text and "`val/f1`" in text and "（0–2）" in text
    assert report.top_diagnosis is not None and report.top_diagnosis.startswith("info: ")
    assert "轮数太少" in report.top_diagnosis  # 3 epochs: too little to judge
    assert report.written == [run / "analysis.md", run / "analysis.png"]
    # The run summary (and summary.json) carry the top finding.
    assert result.diagnosis == report.top_diagnosis
    assert json.loads((run / "summary.json").read_text())["diagnosis"] == report.top_diagnosis


def test_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="lang"):
        CurveReport(lang="fr")
    with pytest.raises(ConfigError, match="last_n"):
        CurveReport(last_n=0)


def _trainer(root: Path, **extra: Any) -> Any:
    fields = dict(fast_dev_run=False, is_global_zero=True, loggers=[], checkpoint_callback=None)
    return SimpleNamespace(default_root_dir=str(root), **{**fields, **extra})


def test_disabled_or_not_rank_zero_writes_nothing(tmp_path: Path) -> None:
    for callback, trainer in (
        (CurveReport(enabled=False), _trainer(tmp_path)),
        (CurveReport(), _trainer(tmp_path, is_global_zero=False)),
    ):
        callback.on_fit_end(trainer, None)  # type: ignore[arg-type]
        assert callback.top_diagnosis is None and not list(tmp_path.iterdir())


def test_missing_log_is_a_warning(tmp_path: Path) -> None:
    callback = CurveReport()
    with pytest.warns(UserWarning, match="curve report skipped"):
        callback.on_fit_end(_trainer(tmp_path), None)  # type: ignore[arg-type]
    assert callback.top_diagnosis is None and callback.written == []
