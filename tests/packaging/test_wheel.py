"""The wheel carries the Hydra configs, so an installed (non-editable) package finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds and installs a wheel

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return next(out.glob("ocec_lightning-*.whl"))


def test_wheel_contains_conf_and_entry_points(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    conf = {n for n in names if n.startswith("ocec_lightning/conf/")}
    expected = {p.relative_to(ROOT / "conf").as_posix() for p in (ROOT / "conf").rglob("*.yaml")}
    assert {f"ocec_lightning/conf/{e}" for e in expected} == conf
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ("ocec-train", "ocec-eval", "ocec-data"):
        assert script in text


def test_wheel_ships_the_sweeper_plugin_as_a_namespace_package(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "hydra_plugins/ocec_optuna_sweeper/ocec_optuna_sweeper.py" in names
    # Hydra walks hydra_plugins as a namespace package shared with other plugins.
    assert "hydra_plugins/__init__.py" not in names


def test_installed_layout_finds_its_own_conf(wheel: Path, tmp_path: Path) -> None:
    # Unpack the wheel (what pip install does) and import from there, not from the repo.
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = "from ocec_lightning.config import conf_dir; print(conf_dir())"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == tmp_path / "ocec_lightning" / "conf"
