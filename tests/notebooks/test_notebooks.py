"""The notebooks in notebooks/: each one's `.py` (jupytext percent format, the source) and
`.ipynb` (what GitHub and Jupyter open) hold the same cells, the `.ipynb` is committed
without outputs, and every notebook executes without error at its small size.

The notebooks run through nbclient in a `python3` kernel whose spec this test writes
itself (pointing at this interpreter, first on JUPYTER_PATH), so they always run in the
venv under test whatever kernels the user has installed. Each reads OCEC_NOTEBOOK_SMALL=1
(tiny data, 1-2 epochs) and writes under OCEC_NOTEBOOK_OUT (a temporary directory).
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the dev extra (nbformat) is not installed")
nbclient = pytest.importorskip("nbclient", reason="the dev extra (nbclient) is not installed")
jupytext = pytest.importorskip("jupytext", reason="the dev extra (jupytext) is not installed")
pytest.importorskip("ipykernel", reason="the dev extra (ipykernel) is not installed")

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SOURCES = sorted(NOTEBOOK_DIR.glob("*.py"))
PAIRING = "ipynb,py:percent"  # the `formats` both files of a pair declare
TIMEOUT_S = 120  # per cell; each notebook takes < 40 s small on 2 cores


def test_the_notebooks_exist() -> None:
    stems = {"01_classification", "02_segmentation", "03_export"}
    assert stems <= {p.stem for p in NOTEBOOKS}
    assert stems <= {p.stem for p in SOURCES}


def test_every_notebook_has_its_source_and_every_source_its_notebook() -> None:
    notebooks, sources = {p.stem for p in NOTEBOOKS}, {p.stem for p in SOURCES}
    assert not notebooks - sources, (
        f"notebooks/: {sorted(notebooks - sources)} have a .ipynb but no .py source; create "
        "it with `jupytext --set-formats ipynb,py:percent notebooks/<name>.ipynb`"
    )
    assert not sources - notebooks, (
        f"notebooks/: {sorted(sources - notebooks)} have a .py but no .ipynb; create it with "
        "`jupytext --to ipynb notebooks/<name>.py`"
    )


def cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """What a reader sees of a notebook: each cell's type and source (no metadata, ids or
    outputs, which differ between the two files of a pair without meaning anything)."""
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def as_lines(notebook_cells: list[tuple[str, str]]) -> list[str]:
    """The cells as text lines for a diff, each cell opened by a line naming its type."""
    lines = []
    for i, (kind, text) in enumerate(notebook_cells):
        lines += [f"----- cell {i} ({kind})", *text.splitlines()]
    return lines


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_matches_its_source(source: Path) -> None:
    expected = jupytext.read(source, fmt="py:percent")  # what `jupytext --to ipynb` writes
    ipynb = source.with_suffix(".ipynb")
    stored = nbformat.read(ipynb, as_version=4)
    for name, nb in ((source.name, expected), (ipynb.name, stored)):
        formats = nb.metadata.get("jupytext", {}).get("formats")
        assert formats == PAIRING, (
            f"{name}: jupytext formats {formats!r}, expected {PAIRING!r} so that Jupyter and "
            f"`jupytext --sync` update both files; run `jupytext --set-formats {PAIRING} "
            f"notebooks/{name}`"
        )
    if cells(stored) != cells(expected):
        diff = difflib.unified_diff(
            as_lines(cells(expected)),
            as_lines(cells(stored)),
            source.name,
            ipynb.name,
            lineterm="",
            n=1,
        )
        pytest.fail(
            f"{ipynb.name} and {source.name} hold different cells; run `jupytext --sync "
            f"notebooks/{source.name}` (the file edited last wins):\n" + "\n".join(diff),
            pytrace=False,
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} hold outputs; clear them (Jupyter: Edit > Clear Outputs "
        f"of All Cells, then save) or rewrite the notebook from its source with "
        f"`jupytext --to ipynb notebooks/{path.with_suffix('.py').name}`"
    )


@pytest.fixture()
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (test venv)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("OCEC_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("OCEC_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return tmp_path


def execute(path: Path, workdir: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=TIMEOUT_S,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute(env=dict(os.environ))
    return nb


@pytest.mark.slow  # about a minute per notebook on 2 cores; the pair checks above stay fast
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path: Path, kernel_env: Path) -> None:
    nb = execute(path, kernel_env)  # raises CellExecutionError naming the failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    if not path.name.startswith("03"):  # 03 prints tables only
        assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was shown"
