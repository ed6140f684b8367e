"""`ocec-analyze curves` never replaces a report already in its output folder (the one
the callback wrote at the end of fit, or an earlier run of the CLI): it writes the next
free name, `analysis-2.md` + `analysis-2.png`, ..., and says so; `--overwrite` replaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocec_lightning.analysis.curves.report import free_stem
from ocec_lightning.cli.analyze import main


def _log(folder: Path) -> Path:
    """A plain per-epoch CSV log of 8 epochs."""
    rows = ["epoch,train/loss,val/loss,val/f1"]
    rows += [f"{e},{1 / (e + 1):.4f},{1.2 / (e + 1):.4f},{0.5 + 0.05 * e:.4f}" for e in range(8)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "log.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder / "log.csv"


def test_free_stem(tmp_path: Path) -> None:
    assert free_stem(tmp_path) == "analysis"
    (tmp_path / "analysis.png").write_bytes(b"")  # a figure alone also takes the name
    assert free_stem(tmp_path) == "analysis-2"
    (tmp_path / "analysis-2.md").write_text("")
    assert free_stem(tmp_path) == "analysis-3"


def test_rerun_keeps_the_existing_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    log = _log(tmp_path)
    (tmp_path / "analysis.md").write_text("the user's report\n", encoding="utf-8")
    (tmp_path / "analysis.png").write_bytes(b"the user's figure")
    assert main(["curves", str(log)]) == 0
    printed = capsys.readouterr().out
    assert "kept the existing analysis.md" in printed and "analysis-2.md" in printed
    assert f"report: {tmp_path / 'analysis-2.md'}" in printed
    assert (tmp_path / "analysis.md").read_text(encoding="utf-8") == "the user's report\n"
    assert (tmp_path / "analysis.png").read_bytes() == b"the user's figure"
    assert "![analysis](analysis-2.png)" in (tmp_path / "analysis-2.md").read_text("utf-8")
    assert (tmp_path / "analysis-2.png").stat().st_size > 0
    assert main(["curves", str(log), "--no-plot"]) == 0  # and again: the next free name
    assert "report: " + str(tmp_path / "analysis-3.md") in capsys.readouterr().out
    assert not (tmp_path / "analysis-3.png").exists()


def test_overwrite_replaces_the_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    log = _log(tmp_path)
    (tmp_path / "analysis.md").write_text("the user's report\n", encoding="utf-8")
    assert main(["curves", str(log), "--overwrite", "--no-plot"]) == 0
    printed = capsys.readouterr().out
    assert "kept the existing" not in printed and f"report: {tmp_path / 'analysis.md'}" in printed
    assert (tmp_path / "analysis.md").read_text(encoding="utf-8").startswith("# ")
    assert not (tmp_path / "analysis-2.md").exists()


def test_first_report_takes_the_plain_name(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert main(["curves", str(_log(tmp_path)), "--out", str(out)]) == 0
    assert "kept the existing" not in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["analysis.md", "analysis.png"]
