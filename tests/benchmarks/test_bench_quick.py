"""Smoke test of `make bench`: every benchmark script in `--quick` mode (tiny sizes, only
the quick path; the real figures come from `make bench`), run in this process, writes a
result file with the shared fields, and the summary table lists its figures."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))

run_all = importlib.import_module("run_all")

FIGURE_KEYS = {"figure", "measured", "unit", "target", "comparison", "status", "note"}


@pytest.fixture(autouse=True)
def _bench_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Data sets and caches of the quick runs stay out of benchmarks/results.
    monkeypatch.setenv("OCEC_BENCH_CACHE_DIR", str(tmp_path_factory.mktemp("bench_cache")))


@pytest.mark.parametrize("name", run_all.SCRIPTS)
def test_quick_run_writes_result(name: str, tmp_path: Path) -> None:
    script = importlib.import_module(name)
    assert script.main(["--quick", "--out", str(tmp_path)]) == 0

    result = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
    assert result["name"] == name and result["quick"] is True
    assert result["method"] and result["machine"]["cores"] >= 1 and result["machine"]["torch"]
    assert result["figures"], "a benchmark reports at least one figure"
    for figure in result["figures"]:
        assert FIGURE_KEYS <= set(figure)
        assert figure["status"] in {"pass", "miss", "info"}
        assert figure["status"] != "info" or figure["target"] is None
        assert figure["measured"] is None or isinstance(figure["measured"], (int, float))
    targets = [f for f in result["figures"] if f["target"] is not None]
    if name in {"trainer_overhead", "data_path", "scale"}:  # the figures the issue sets
        assert targets and all(f["measured"] is not None for f in targets)

    table = run_all.summary_table(tmp_path, [name])
    assert "Quick smoke run" in table
    assert all(f["figure"] in table for f in result["figures"])


def test_summary_marks_a_crashed_script(tmp_path: Path) -> None:
    table = run_all.summary_table(tmp_path, ["scale"], failed=["scale"])
    assert "| scale | — | — | **crashed** |" in table
