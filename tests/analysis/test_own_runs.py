"""Our own finished runs, read by our own analysis: per task, a tiny real run through
`run_training` (what `ocec-train` runs: fit, then the post-fit test stage), then
`ocec-analyze curves <run dir>`.

The report must see the epochs that were trained and nothing else: no finding the run
does not have (the test stage's row in `csv/metrics.csv` carries `epoch = max_epochs`
and no training series, once read as a diverged epoch), the best epoch and value that
`csv/metrics.csv` and the checkpoint callback hold, and the report the callback wrote
at the end of fit left as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from omegaconf import DictConfig

from ocec_lightning.analysis.curves import cli as curves_cli
from ocec_lightning.cli.analyze import main as analyze_main
from ocec_lightning.training import run_training

EPOCHS = 3
# Tiny data comes from `make_cfg` (tests/conftest.py); `debug=limit`: a few batches per
# epoch, every step logged (LR rows too), as a real run's CSV is laid out.
TASKS: dict[str, tuple[str, list[str]]] = {  # task -> (monitor, overrides)
    "classification": ("val/f1", []),
    "segmentation": ("val/fscore", ["task=segmentation"]),
}
BEST = re.compile(r"^\| Best \| \*\*(?P<value>[-0-9.]+)\*\* at epoch (?P<epoch>\d+) ", re.M)
LOGGED = re.compile(r"\*\*epochs logged\*\*: (?P<n>\d+) \((?P<first>\d+)–(?P<last>\d+)\)")


def expected_best(metrics: pd.DataFrame, monitor: str) -> tuple[int, float]:
    """The best epoch (first of equals, as ModelCheckpoint keeps it) and its value."""
    rows = metrics[metrics[monitor].notna()]
    best = rows.loc[rows[monitor].idxmax()]
    return int(best["epoch"]), float(best[monitor])


@pytest.mark.parametrize("task", list(TASKS))
def test_finished_run_is_read_right(
    task: str,
    make_cfg: Callable[..., DictConfig],
    one_thread: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monitor, overrides = TASKS[task]
    result = run_training(make_cfg([*overrides, "debug=limit", f"trainer.max_epochs={EPOCHS}"]))
    run_dir = Path(result.run_dir)
    assert result.status == "completed" and result.test_metrics
    metrics = pd.read_csv(run_dir / "csv" / "metrics.csv")
    tested = [c for c in metrics.columns if c.startswith("test/")]
    assert tested and metrics[tested].notna().any(axis=None), "no post-fit test row"
    assert metrics["epoch"].max() == EPOCHS  # the test row: one epoch past the last trained
    callback_md = (run_dir / "analysis.md").read_bytes()
    callback_png = (run_dir / "analysis.png").read_bytes()

    found: list[Any] = []
    write = curves_cli.analyze_and_write

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = write(*args, **kwargs)
        found.extend(result[0])
        return result

    monkeypatch.setattr(curves_cli, "analyze_and_write", spy)
    capsys.readouterr()  # the training's own output
    assert analyze_main(["curves", str(run_dir)]) == 0
    printed = capsys.readouterr().out

    ids = [d.id for d in found]
    assert "divergence" not in ids, printed
    report = (run_dir / "analysis-2.md").read_text(encoding="utf-8")
    logged = LOGGED.search(report)
    assert logged, report
    assert (int(logged["n"]), int(logged["first"]), int(logged["last"])) == (EPOCHS, 0, EPOCHS - 1)
    epoch, value = expected_best(metrics, monitor)
    best = BEST.search(report)
    assert best, report
    assert int(best["epoch"]) == epoch
    assert float(best["value"]) == pytest.approx(value, abs=5e-5)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["best_score"] == pytest.approx(value, abs=1e-6)  # the checkpoint's best
    assert Path(summary["best_checkpoint"]).name.startswith(f"epoch{epoch:03d}-")
    # The callback's own report is kept, byte for byte.
    assert (run_dir / "analysis.md").read_bytes() == callback_md
    assert (run_dir / "analysis.png").read_bytes() == callback_png
    assert "kept the existing analysis.md" in printed
