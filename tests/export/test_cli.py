"""The `ocec-export` / `ocec-predict` command lines as Hydra apps: `--help` and `--cfg job`
show every option of conf/export.yaml / conf/predict.yaml, a missing required value is one
`error:` line (exit 2), an unknown key is Hydra's error without a traceback, paths are
taken as typed and resolved against the caller's directory, and Hydra writes nothing of
its own there."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf
from PIL import Image

from ocec_lightning.cli.export import main as export_main
from ocec_lightning.cli.hydra_app import literal_values
from ocec_lightning.cli.predict import main as predict_main
from ocec_lightning.config import conf_dir

TOOLS: dict[str, Callable[..., int]] = {"export": export_main, "predict": predict_main}


def _options(tool: str) -> dict:
    """The options a tool's YAML declares (its keys without `defaults` and `hydra`)."""
    yaml = OmegaConf.to_container(OmegaConf.load(conf_dir() / f"{tool}.yaml"))
    return {k: v for k, v in yaml.items() if k not in ("defaults", "hydra")}


@pytest.fixture(autouse=True)
def _short_hydra_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)  # set: Hydra re-raises instead


@pytest.mark.parametrize("tool", TOOLS)
def test_help_describes_every_option(tool, capsys) -> None:
    assert TOOLS[tool](["--help"]) == 0
    described, _, config = capsys.readouterr().out.partition("== Config")
    assert described.startswith(f"ocec-{tool}: ")
    for key, default in _options(tool).items():
        assert f"  {key}=" in described, f"{key} is not described in ocec-{tool} --help"
        shown = "???" if default == "???" else OmegaConf.to_yaml({key: default}).strip()
        assert shown.split(": ")[-1] in config.split(f"{key}: ")[1].splitlines()[0]


@pytest.mark.parametrize("tool", TOOLS)
def test_cfg_job_prints_the_options_with_overrides(tool, monkeypatch, capsys) -> None:
    # As a console script: the arguments come from sys.argv.
    monkeypatch.setattr(sys, "argv", [f"ocec-{tool}", "--cfg", "job", "out=x y/m.out"])
    assert TOOLS[tool]() == 0
    printed = OmegaConf.create(capsys.readouterr().out)
    assert set(printed) == set(_options(tool)) and printed.out == "x y/m.out"


@pytest.mark.parametrize(
    "tool,args,key,example",
    [
        ("export", [], "'ckpt'", "e.g. ocec-export ckpt="),
        ("export", ["ckpt="], "'ckpt'", "e.g. ocec-export ckpt="),
        ("predict", ["onnx=m.onnx"], "'input'", "e.g. ocec-predict onnx="),
        ("predict", ["input=crops"], "'ckpt/onnx'", "e.g. ocec-predict onnx="),
    ],
)
def test_missing_required_value_is_one_line(tool, args, key, example, capsys) -> None:
    assert TOOLS[tool](args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: config key {key}") and "\n" not in err and example in err


@pytest.mark.parametrize("tool", TOOLS)
def test_unknown_key_is_hydras_error_without_traceback(tool, capsys) -> None:
    assert TOOLS[tool](["bogus=1"]) == 1
    err = capsys.readouterr().err
    assert "Could not override 'bogus'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "tool,args,key,expected",
    [
        ("export", ["ckpt=m.ckpt", "opset=abc"], "opset", "an integer >= 7"),
        ("export", ["ckpt=m.ckpt", "fold_bn=maybe"], "fold_bn", "true or false"),
        ("export", ["ckpt=m.ckpt", "tolerance=0"], "tolerance", "a number in (0.0"),
        ("predict", ["onnx=m.onnx", "input=crops", "batch_size=0"], "batch_size", ">= 1"),
        ("predict", ["onnx=m.onnx", "input=crops", "progress=2"], "progress", "true or false"),
    ],
)
def test_badly_typed_value_is_one_line(tool, args, key, expected, capsys) -> None:
    assert TOOLS[tool](args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: config key '{key}'") and "\n" not in err and expected in err


@pytest.mark.parametrize(
    "path", ["run (1)/last,best.ckpt", "x [old]/#2 it's.ckpt", "007", "C:\\runs\\", "a${b}.ckpt"]
)
def test_paths_are_taken_as_typed(path, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert export_main([f"ckpt={path}"]) == 2
    assert f"no checkpoint file at {tmp_path / path}" in capsys.readouterr().err


def test_paths_keep_null_quotes_and_sweeps() -> None:
    args = ["ckpt=null", "out='a b.onnx'", "opset=17"]
    assert literal_values(args, ["ckpt", "out"]) == args
    sweep = ["-m", "ckpt=a.ckpt,b.ckpt"]
    assert literal_values(sweep, ["ckpt"]) == sweep


def test_relative_paths_resolve_against_the_callers_directory(
    ema_checkpoint, tmp_path, monkeypatch, capsys
) -> None:
    work = tmp_path / "work"
    (work / "run").mkdir(parents=True)
    (work / "run" / "last.ckpt").write_bytes(ema_checkpoint.read_bytes())
    monkeypatch.chdir(work)
    export = ["ckpt=run/last.ckpt", "exporter=legacy", "real_crops=0"]
    assert export_main([*export, "out=eyes.onnx"]) == 0
    assert f"exported {work / 'eyes.onnx'}" in capsys.readouterr().out
    # Also when the job's working directory moves elsewhere (hydra.job.chdir).
    moved = ["hydra.job.chdir=true", f"hydra.run.dir={tmp_path / 'elsewhere'}"]
    assert export_main([*export, "out=moved.onnx", *moved]) == 0
    assert Path.cwd() == work and (work / "moved.onnx").is_file()

    (work / "crops").mkdir()
    for k in range(3):
        pixels = np.random.default_rng(k).integers(0, 255, (40, 70, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(work / "crops" / f"eye{k}.png")
    assert predict_main(["onnx=eyes.onnx", "input=crops", "out=preds/p.csv", "progress=false"]) == 0
    assert len(pd.read_csv(work / "preds" / "p.csv")) == 3
    # The tools wrote their files and nothing of Hydra's (no outputs/, .hydra/ or *.log).
    assert sorted(p.name for p in work.iterdir()) == [
        "crops",
        "eyes.onnx",
        "moved.onnx",
        "preds",
        "run",
    ]
