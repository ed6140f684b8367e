"""Every notebook in notebooks/ executes without error at its small size, and every
committed notebook is stored without outputs.

The notebooks run through nbclient in a `python3` kernel whose spec this test writes
itself (pointing at this interpreter, first on JUPYTER_PATH), so they always run in the
venv under test whatever kernels the user has installed. Each reads OCEC_NOTEBOOK_SMALL=1
(tiny data, 1-2 epochs) and writes under OCEC_NOTEBOOK_OUT (a temporary directory).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the dev extra (nbformat) is not installed")
nbclient = pytest.importorskip("nbclient", reason="the dev extra (nbclient) is not installed")
pytest.importorskip("ipykernel", reason="the dev extra (ipykernel) is not installed")

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
TIMEOUT_S = 120  # per cell; each notebook takes < 40 s small on 2 cores


def test_the_notebooks_exist() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {"01_classification.ipynb", "02_segmentation.ipynb", "03_export.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} hold outputs; run "
        "`python notebooks/_build_notebooks.py --strip` before committing"
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path: Path, kernel_env: Path) -> None:
    nb = execute(path, kernel_env)  # raises CellExecutionError naming the failing cell
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    if not path.name.startswith("03"):  # 03 prints tables only
        assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was shown"
