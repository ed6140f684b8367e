"""`ocec-analyze compare`: a multirun dir of fake runs (one failed), config differences
only, sorting by best, compare.md / compare.png, foreign logs and bad input; a next
sweep (`curves --next`) ranked against its original run with the symptoms re-diagnosed."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pytest
import yaml

from ocec_lightning.analysis.runs import compare
from ocec_lightning.analysis.runs.next_sweep import read_sweep
from ocec_lightning.cli.analyze import build_parser
from ocec_lightning.cli.analyze import main as analyze_main
from ocec_lightning.errors import DataError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    compare.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture()
def multirun(tmp_path, write_run) -> Path:
    """multiruns/<time>/{0..3}: an LR sweep, job 3 failed before its first epoch."""
    root = tmp_path / "outputs" / "classification" / "multiruns" / "2026-01-01_00-00-00"
    curves = {
        0: (1e-3, [0.50, 0.60, 0.62, 0.63]),
        1: (3e-3, [0.55, 0.70, 0.68, 0.66]),
        2: (1e-2, [0.30, 0.20, 0.10, 0.10]),
    }
    for job, (lr, f1) in curves.items():
        losses = [1.0 - v for v in f1]
        write_run(
            root / str(job),
            val_f1=f1,
            val_loss=losses,
            train_loss=losses,
            lr=[lr] * 4,
            config={"optimizer": {"lr": lr}},
            seconds=60.0 * (job + 1),
        )
    write_run(root / "3", val_f1=None, config={"optimizer": {"lr": 3e-2}}, failed=True)
    (root / "multirun.yaml").write_text("hydra: {}\n")
    return root


def test_multirun_table_markdown_and_plot(multirun, capsys):
    assert compare.run(_args(str(multirun), "--last", "2")) == 0
    md = (multirun / "compare.md").read_text()
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == [
        "run",
        "optimizer.lr",
        "best",
        "best epoch",
        "mean last 2",
        "last",
        "epochs",
        "time",
        "status",
    ]  # only the differing key: not paths, checkpoint dirs or the task.module mirror
    runs = [line.split("|")[1].strip() for line in lines[1:]]
    assert runs == ["1", "0", "2", "3"]  # sorted by best, the failed run last
    assert "| 1 | 0.003 | 0.7000 | 1 | 0.6700 | 0.6600 | 4 | 2.0 min | finished |" in md
    assert "| 3 | 0.03 | — | — | — | — | 0 | — | failed ⚠ |" in md
    assert "- 3: RuntimeError: boom" in md  # the failed run's error, from failure.json
    png = multirun / "compare.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20_000
    out = capsys.readouterr().out
    assert "lr=0.003" in out and "compare.md" in out


def test_expand_runs_and_statuses(multirun, tmp_path, write_run):
    assert [p.name for p in compare.expand_runs([multirun.parent.parent])] == ["0", "1", "2", "3"]
    running = write_run(tmp_path / "running", seconds=None)
    stopped = write_run(tmp_path / "stopped", seconds=None)
    old = time.time() - 3600
    for path in stopped.rglob("*"):
        os.utime(path, (old, old))
    rows = compare.compare_runs([running, stopped, multirun / "0"])
    assert {r.name: r.status for r in rows} == {
        "running": "running",
        "stopped": "incomplete",
        "outputs/classification/multiruns/2026-01-01_00-00-00/0": "finished",
    }


def test_config_differences_merge_mirrors_and_show_components(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    configs = [
        {
            "optimizer": {"lr": 1e-3},
            "task": {"module": {"optimizer": {"lr": 1e-3}}},
            "callbacks": {"ema": {"_target_": "pkg.EMA", "decay": 0.9}},
            "trainer": {"default_root_dir": str(a)},
            "ckpt": f"{a}/last.ckpt",
            "aug": [{"_target_": "albumentations.HorizontalFlip"}],
        },
        {
            "optimizer": {"lr": 2e-3},
            "task": {"module": {"optimizer": {"lr": 2e-3}}},
            "callbacks": {"ema": None},
            "trainer": {"default_root_dir": str(b)},
            "ckpt": f"{b}/last.ckpt",
            "aug": [{"_target_": "albumentations.CLAHE"}],
        },
    ]
    normalised = [compare._normalized(c, p) for c, p in zip(configs, (a, b), strict=True)]
    assert compare.config_differences(normalised) == {
        "optimizer.lr": ["0.001", "0.002"],
        "callbacks.ema": ["EMA", "None"],
        "aug": ["[HorizontalFlip]", "[CLAHE]"],
    }


def test_runs_and_foreign_logs_with_given_monitor(tmp_path, write_run, capsys):
    good = write_run(tmp_path / "good", val_loss=[0.9, 0.5, 0.6])
    bad = write_run(tmp_path / "bad", val_loss=[0.9, 0.8, 0.7])
    log = tmp_path / "other.csv"
    log.write_text("epoch,val/loss\n0,0.95\n1,0.85\n")
    out = tmp_path / "report"
    code = compare.run(
        _args(str(bad), str(log), str(good), "--monitor", "val/loss", "--out", str(out))
    )
    assert code == 0
    rows = [line for line in (out / "compare.md").read_text().splitlines() if line.startswith("| ")]
    assert [r.split("|")[1].strip() for r in rows[1:]] == ["good", "bad", "other.csv"]  # min
    assert "| log |" in rows[-1] and "val/loss (min)" in capsys.readouterr().out


def test_the_cli_entry_point(multirun, tmp_path):
    build_parser()  # every tool of the dispatcher imports and declares its arguments
    assert analyze_main(["compare", str(multirun), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "compare.md").is_file()
    assert analyze_main(["compare", str(tmp_path / "missing")]) == 2


def test_bad_input(tmp_path, write_run):
    with pytest.raises(DataError, match="no such run directory"):
        compare.expand_runs([tmp_path / "missing"])
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(DataError, match="no run directories"):
        compare.expand_runs([tmp_path / "empty"])
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="not a log"):
        compare.expand_runs([tmp_path / "notes.txt"])
    failed = write_run(tmp_path / "failed", val_f1=None, failed=True)
    with pytest.raises(DataError, match="no metrics found"):  # nothing to compare at all
        compare.compare_runs([failed])
    with pytest.raises(SystemExit):
        _args(str(failed), "--last", "0")


def _next_sweep(tmp_path: Path, write_run, inside: bool = True) -> tuple[Path, Path]:
    """A diagnosed run (constant LR, 12 epochs) and its next sweep: the baseline rerun
    and a cosine alternative, laid out as `curves --next` + `ocec-train -m` leave them."""
    f1 = [0.50, 0.60, 0.66, 0.70, 0.72, 0.74, 0.73, 0.75, 0.74, 0.75, 0.74, 0.745]
    cosine = [0.50, 0.62, 0.68, 0.72, 0.75, 0.77, 0.78, 0.79, 0.795, 0.80, 0.80, 0.80]
    constant, decaying = [1e-3] * 12, [1e-3 * (1 - i / 12) for i in range(12)]
    origin = write_run(tmp_path / "run", val_f1=f1, val_loss=None, train_loss=None, lr=constant)
    sweep = (origin if inside else tmp_path) / "next_sweep"
    write_run(sweep / "0_baseline", val_f1=f1, val_loss=None, train_loss=None, lr=constant)
    write_run(
        sweep / "1_lr_never_decayed-1", val_f1=cosine, val_loss=None, train_loss=None, lr=decaying
    )
    alternatives = {"baseline": "", "lr_never_decayed-1": "scheduler=cosine"}
    multirun = {"hydra": {"sweep": {"dir": str(sweep)}, "sweeper": {"alternatives": alternatives}}}
    (sweep / "multirun.yaml").write_text(yaml.safe_dump(multirun), encoding="utf-8")
    return origin, sweep


def test_a_next_sweep_is_ranked_against_the_original_run(tmp_path, write_run, capsys):
    origin, sweep = _next_sweep(tmp_path, write_run)
    assert compare.run(_args(str(sweep))) == 0
    md = (sweep / "compare.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header[:2] == ["run", "change"] and header[-5:] == [
        "still",
        "gone",
        "new",
        "time",
        "status",
    ]
    cells = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[1:-1]] for r in rows[1:]}
    assert list(cells) == ["1_lr_never_decayed-1", "**original run**", "**0_baseline**"]
    column = {name: i for i, name in enumerate(header)}
    alt, original, baseline = cells.values()
    assert alt[column["change"]] == "scheduler=cosine"
    assert "lr_never_decayed" in alt[column["gone"]]
    assert "lr_never_decayed" not in alt[column["still"]]
    assert "lr_never_decayed" in original[column["still"]]
    assert "lr_never_decayed" in baseline[column["still"]]
    assert original[column["LR at best"]] == "100%" and alt[column["LR at best"]] != "100%"
    assert f"Next sweep of `{origin}`" in md
    assert "Diagnoses of the original run: " in md and "lr_never_decayed" in md
    assert "The baseline reruns the original unchanged: best 0.7500, the same." in md
    out = capsys.readouterr().out
    assert "next sweep" in out and "original run" in out


def test_a_next_sweep_elsewhere_takes_the_original_run_given_beside_it(tmp_path, write_run):
    origin, sweep = _next_sweep(tmp_path, write_run, inside=False)
    rows = compare.compare_runs([sweep / "0_baseline", sweep / "1_lr_never_decayed-1", origin])
    info = read_sweep(sweep)
    assert info is not None and info.origin is None  # tmp_path is no run
    compare.mark_sweep(rows, info)
    assert {r.name: r.role for r in rows} == {
        "original run": "original",
        "0_baseline": "baseline",
        "1_lr_never_decayed-1": "",
    }
    assert {r.name: r.label for r in rows} == {
        "original run": "original run",
        "0_baseline": "0_baseline (rerun)",
        "1_lr_never_decayed-1": "1_lr_never_decayed-1: scheduler=cosine",
    }
    assert "lr_never_decayed" in rows[0].gone and rows[0].name == "1_lr_never_decayed-1"
