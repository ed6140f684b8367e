"""Safe loading (issue 11, item 4): every checkpoint read for training, evaluation,
prediction, export or analysis uses `torch.load(weights_only=True)`.

An AST scan of the package source fails on any new call that could read a checkpoint
unsafely; files with pickled code are refused (their code never runs) by every entry
point; and a checkpoint of another task or model fails in one line naming the file and
what would fit, before any data is read.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import pytest
import torch

import ocec_lightning
from ocec_lightning.cli.export import main as export_main
from ocec_lightning.cli.predict import main as predict_main
from ocec_lightning.errors import ConfigError, DataError
from ocec_lightning.evaluation import run_evaluation
from ocec_lightning.training import run_training
from ocec_lightning.validation import build_task, check_ckpt_path

PACKAGE = Path(ocec_lightning.__file__).parent
SOURCES = [PACKAGE, PACKAGE.parent / "hydra_plugins"]
# Trainer entry points that read a checkpoint when given ckpt_path.
TRAINER_METHODS = {"fit", "test", "validate", "predict"}
# Modules whose `load` reads a pickle; `from torch import load` would hide the call.
UNSAFE_IMPORTS = {("torch", "load"), ("lightning.fabric.utilities.cloud_io", "_load")}


def _weights_only(call: ast.Call) -> bool:
    return any(
        kw.arg == "weights_only" and isinstance(kw.value, ast.Constant) and kw.value.value is True
        for kw in call.keywords
    )


def unsafe_calls(source: str, name: str = "<string>") -> list[str]:
    """`file:line: call` for each checkpoint-reading call without weights_only=True."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (node.module, alias.name) in UNSAFE_IMPORTS:
                    found.append(f"{name}:{node.lineno}: from {node.module} import {alias.name}")
            continue
        if not isinstance(node, ast.Call):
            continue
        func = ast.unparse(node.func)
        attr = node.func.attr if isinstance(node.func, ast.Attribute) else func
        receiver = ast.unparse(node.func.value) if isinstance(node.func, ast.Attribute) else ""
        reads = (
            func == "torch.load"
            or attr == "load_from_checkpoint"
            or (attr in TRAINER_METHODS and "trainer" in receiver.lower())
        )
        if reads and not _weights_only(node):
            found.append(f"{name}:{node.lineno}: {func}(...)")
    return found


def test_the_scan_finds_unsafe_calls() -> None:
    source = """
import torch
from torch import load
torch.load(path)
torch.load(path, weights_only=False)
Task.load_from_checkpoint(path)
self.trainer.fit(model, ckpt_path=path)
run.trainer.test(model, weights_only=True)
torch.load(path, map_location="cpu", weights_only=True)
"""
    assert [f.split(": ", 1)[1] for f in unsafe_calls(source)] == [
        "from torch import load",
        "torch.load(...)",
        "torch.load(...)",
        "Task.load_from_checkpoint(...)",
        "self.trainer.fit(...)",
    ]


def test_no_checkpoint_is_read_without_weights_only() -> None:
    files = sorted(p for root in SOURCES for p in root.rglob("*.py"))
    assert len(files) > 50
    found = [
        hit
        for file in files
        for hit in unsafe_calls(
            file.read_text(encoding="utf-8"), str(file.relative_to(PACKAGE.parent))
        )
    ]
    assert found == [], "checkpoint reads without weights_only=True:\n" + "\n".join(found)


# -- a file with pickled code -------------------------------------------------------------
class _Payload:
    """Unpickling this creates `marker`: the proof that a loader ran pickled code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.mkdir, (str(self.marker),))


def _evil_checkpoint(tmp_path: Path) -> tuple[Path, Path]:
    marker, path = tmp_path / "pwned", tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _Payload(marker)}, path)
    return path, marker


@pytest.mark.parametrize("entry", ["export", "predict"])
def test_cli_refuses_pickled_code_in_one_line(entry: str, tmp_path: Path, capsys) -> None:
    path, marker = _evil_checkpoint(tmp_path)
    crops = tmp_path / "crops"
    crops.mkdir()
    if entry == "export":
        code = export_main([f"ckpt={path}"])
    else:
        code = predict_main([f"ckpt={path}", f"input={crops}", f"out={tmp_path / 'p.csv'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ckpt: ") and "\n" not in err
    assert str(path) in err and "holds objects that weights_only loading refuses" in err
    assert not marker.exists()


def test_eval_and_train_refuse_pickled_code(make_cfg, tmp_path: Path) -> None:
    path, marker = _evil_checkpoint(tmp_path)
    eval_cfg = make_cfg([f"ckpt_path={path}"], tiny=False, config_name="eval")
    with pytest.raises(DataError, match=f"ckpt_path: {path} is not a readable PyTorch"):
        run_evaluation(eval_cfg)
    with pytest.raises(DataError, match="holds objects that weights_only loading refuses"):
        run_training(make_cfg([f"ckpt_path={path}"], run_dir=tmp_path / "train"))
    assert not marker.exists()


# -- a checkpoint of another task or model ------------------------------------------------
def _checkpoint_of(make_cfg, path: Path, overrides: list[str], record: dict[str, str]) -> Path:
    """An ocec-train-shaped checkpoint of the task built from `overrides`."""
    task = build_task(make_cfg(overrides))
    torch.save(
        {
            "state_dict": task.state_dict(),
            "hyper_parameters": dict(task.hparams),
            "datamodule_hyper_parameters": {"config": {"task": record}},
        },
        path,
    )
    return path


CLASSIFICATION = {
    "name": "classification",
    "module_target": "ocec_lightning.tasks.classification.ClassificationTask",
}


def test_a_checkpoint_of_another_task_fails_naming_file_and_task(make_cfg, tmp_path) -> None:
    record = {"name": "segmentation", "module_target": "ocec_lightning.tasks.SegmentationTask"}
    path = _checkpoint_of(make_cfg, tmp_path / "seg.ckpt", [], record)
    with pytest.raises(ConfigError) as info:
        run_training(make_cfg([f"ckpt_path={path}"]))
    message = str(info.value)
    assert info.value.key == "ckpt_path" and f"'{path}'" in message and "\n" not in message
    assert "holds a segmentation checkpoint" in message and "run with task=segmentation" in message
    assert not (tmp_path / "run" / "config.yaml").exists()  # before anything is written


def test_a_checkpoint_of_another_backbone_fails_naming_the_option(make_cfg, tmp_path) -> None:
    small = ["model.base_channels=8", "model.num_blocks=4"]
    path = _checkpoint_of(make_cfg, tmp_path / "small.ckpt", small, CLASSIFICATION)
    with pytest.raises(ConfigError) as info:
        run_training(make_cfg([f"ckpt_path={path}", "model.base_channels=16"]))
    message = str(info.value)
    assert f"'{path}'" in message and "\n" not in message
    assert "model.base_channels=8 in the file, 16 here" in message
    assert "model.num_blocks=4 in the file, 6 here" in message
    # The same options fit: the check passes (training itself is tested elsewhere).
    check_ckpt_path(make_cfg([f"ckpt_path={path}", *small]), build_task(make_cfg(small)))
