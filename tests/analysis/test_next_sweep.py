"""Diagnosis -> next experiment -> ranked comparison (`curves --next`, `compare`).

Unit tests write `next_sweep.yaml` for a run directory laid out as Hydra writes it and
check what the sweeper will run. The end-to-end test trains a tiny run with a constant
LR (`scheduler=none`, 10 epochs: `lr_never_decayed` fires), writes its next sweep, runs
the printed command (the `ocec-train` entry point, in this process: one import of torch
and Lightning for all runs) and ranks the sweep with `ocec-analyze compare`.
"""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import pytest
import yaml
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from ocec_lightning.analysis.curves.analysis import analyze
from ocec_lightning.analysis.curves.diagnoses import Diagnosis, diagnose
from ocec_lightning.analysis.history import load_history
from ocec_lightning.analysis.runs.next_sweep import (
    alternatives_from,
    read_sweep,
    run_overrides,
    write_next_sweep,
)
from ocec_lightning.cli import train as train_cli
from ocec_lightning.cli.analyze import main as analyze_main
from ocec_lightning.config import compose_config
from ocec_lightning.errors import DataError
from ocec_lightning.sweeps.basic import with_alternatives

EMA = "'callbacks.ema={_target_:ocec_lightning.callbacks.ema.EMA,decay:0.999}'"
RUN_OVERRIDES = [
    "scheduler=none",
    "trainer.max_epochs=10",
    "callbacks.ema=null",
    "~callbacks.classification_plots",
    "aug='激进'",
    "+extra.monitor=${task.monitor}",
    "hydra.run.dir=outputs/old",
    "ckpt_path=outputs/old/checkpoints/last.ckpt",
    "hparams_search=ocec_optuna",
    "paths.output_dir=outputs/old",
]
FOUND = [
    Diagnosis(
        "noisy_validation",
        "warning",
        "Noisy validation",
        {},
        [EMA, "callbacks.early_stopping.patience=20"],
    ),
    Diagnosis(
        "early_stop_eager",
        "warning",
        "Early stopping was eager",
        {},
        ["callbacks.early_stopping.patience=20"],  # the same line as above: kept once
    ),
    Diagnosis(
        "lr_never_decayed",
        "info",
        "LR never decayed",
        {},
        ["scheduler=cosine", "scheduler=plateau  scheduler.monitor=val/f1 scheduler.mode=max"],
    ),
    Diagnosis("still_improving", "info", "Still improving", {}, []),
]


@pytest.fixture()
def hydra_run(tmp_path: Path) -> Path:
    """A run dir as Hydra writes it: .hydra/overrides.yaml (a YAML list) and hydra.yaml."""
    run = tmp_path / "outputs" / "classification" / "runs" / "2026-01-01_00-00-00"
    (run / ".hydra").mkdir(parents=True)
    OmegaConf.save(OmegaConf.create(RUN_OVERRIDES), run / ".hydra" / "overrides.yaml")  # as Hydra
    hydra = {"hydra": {"runtime": {"cwd": str(Path.cwd())}}}
    (run / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump(hydra), encoding="utf-8")
    (run / "config.yaml").write_text("seed: 42\n", encoding="utf-8")
    return run


def test_yaml_holds_the_run_overrides_the_baseline_and_each_distinct_line(hydra_run, capsys):
    assert run_overrides(hydra_run)[1] == RUN_OVERRIDES[-4:]  # outputs, resume, Optuna
    sweep = write_next_sweep(hydra_run / "csv" / "metrics.csv", FOUND, hydra_run)
    text = sweep.path.read_text(encoding="utf-8")
    spec = yaml.safe_load(text)
    assert spec["defaults"] == ["train", "_self_"]
    assert spec["hydra"]["sweep"]["dir"] == str((hydra_run / "next_sweep").resolve())
    assert spec["hydra"]["sweeper"]["params"] == {
        "scheduler": "none",
        "trainer.max_epochs": "10",
        "callbacks.ema": "null",
        "~callbacks.classification_plots": "null",  # Hydra: `~key=null` deletes any value
        "aug": "'激进'",
        "+extra.monitor": "\\${task.monitor}",  # OmegaConf reads back `${task.monitor}`
    }
    assert spec["hydra"]["sweeper"]["alternatives"] == {
        "baseline": "",
        "noisy_validation-1": EMA,  # braces: the shell quotes kept, as a user types it
        "noisy_validation-2": "callbacks.early_stopping.patience=20",
        "lr_never_decayed-1": "scheduler=cosine",
        "lr_never_decayed-2": "scheduler=plateau  scheduler.monitor=val/f1 scheduler.mode=max",
    }
    assert "# noisy_validation (warning): Noisy validation" in text
    assert "# (also suggested by: early_stop_eager)" in text
    assert "Not repeated: hydra.run.dir=outputs/old ckpt_path=" in text
    loaded = OmegaConf.load(sweep.path)  # as Hydra reads it: interpolations stay text
    assert loaded.hydra.sweeper.params["+extra.monitor"] == "${task.monitor}"
    assert sweep.command == f"ocec-train -m --config-dir {hydra_run} --config-name next_sweep"


def test_what_the_sweeper_runs_composes(hydra_run):
    sweep = write_next_sweep(hydra_run, FOUND, hydra_run)
    spec = OmegaConf.load(sweep.path).hydra.sweeper
    common = [f"{k}={v}" for k, v in spec.params.items()]  # what Hydra's sweeper makes
    jobs = with_alternatives([common], dict(spec.alternatives), first_num=0)
    assert [job[-1].rsplit("=", 1)[1] for job in jobs] == [
        "0_baseline",
        "1_noisy_validation-1",
        "2_noisy_validation-2",
        "3_lr_never_decayed-1",
        "4_lr_never_decayed-2",
    ]
    configs = [compose_config(job[:-1]) for job in jobs]
    assert configs[0].scheduler.name == "none" and configs[0].callbacks.ema is None
    assert configs[0].extra.monitor == "val/f1"  # the run's interpolation, still one
    assert "classification_plots" not in configs[0].callbacks
    assert configs[1].callbacks.ema.decay == 0.999 and configs[1].scheduler.name == "none"
    assert configs[2].callbacks.early_stopping.patience == 20
    assert configs[3].scheduler.name == "cosine"
    assert (configs[4].scheduler.name, configs[4].scheduler.mode) == ("plateau", "max")


def test_dedupe_labels_and_an_earlier_sweep_is_kept(hydra_run, capsys):
    alts = alternatives_from([*FOUND, FOUND[0]])  # a diagnosis repeated adds nothing
    assert [a.label for a in alts] == [
        "baseline",
        "noisy_validation-1",
        "noisy_validation-2",
        "lr_never_decayed-1",
        "lr_never_decayed-2",
    ]
    assert alts[2].also == ["early_stop_eager"]
    only = alternatives_from([FOUND[1], FOUND[0]])  # ranked first, it owns the shared line
    assert [a.label for a in only] == ["baseline", "early_stop_eager", "noisy_validation"]
    first = write_next_sweep(hydra_run, FOUND, hydra_run)
    second = write_next_sweep(hydra_run, FOUND[2:], hydra_run)
    assert (first.path.name, second.path.name) == ("next_sweep.yaml", "next_sweep-2.yaml")
    assert (
        second.sweep_dir.name == "next_sweep-2" and "--config-name next_sweep-2" in second.command
    )
    again = write_next_sweep(hydra_run, FOUND[2:], hydra_run, overwrite=True)
    assert again.path == first.path


def test_next_needs_a_hydra_run_dir(tmp_path, write_run):
    run = write_run(tmp_path / "run")  # config.yaml and metrics, no .hydra/
    with pytest.raises(DataError, match=r"--next needs a run directory .*overrides.yaml"):
        write_next_sweep(run, FOUND, run)
    assert analyze_main(["curves", str(run), "--next", "--no-plot"]) == 2


# --- end to end: a real training, its next sweep, the comparison --------------------

BASE = [
    "scheduler=none",  # a constant LR for 10 epochs: lr_never_decayed
    "trainer.max_epochs=10",
    "optimizer.lr=0.003",
    "data.source.num_samples=480",  # 16×32 crops: learns in a few epochs, fast
    "data.image_size=[16,32]",
    "data.batch_size=32",
    "data.num_workers=0",
    "callbacks.early_stopping=null",
    "callbacks.ema=null",
    "callbacks.curve_report=null",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "~callbacks.classification_plots",  # matplotlib figures at every validation: slow
    "test=false",
]


def ocec_train(monkeypatch: pytest.MonkeyPatch, *argv: str) -> None:
    """`ocec-train ARGV` through its console-script entry point, in this process (the
    logging Hydra sets up for the job is undone afterwards)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["ocec-train", *argv])
    try:
        train_cli.main()
    finally:
        GlobalHydra.instance().clear()
        for handler in set(root.handlers) - set(handlers):
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def _table(md: str) -> dict[str, dict[str, str]]:
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("| ").split(" | ")] for line in lines[1:]]
    return {r[0].strip("*"): dict(zip(header, r, strict=True)) for r in rows}


@pytest.mark.slow  # a real training and a 3-job sweep: ~1 min on 2 free cores
def test_diagnosis_to_next_sweep_to_ranked_comparison(tmp_path, monkeypatch, capsys, one_thread):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OCEC_ROOT", str(tmp_path))
    ocec_train(monkeypatch, *BASE)
    (run,) = (tmp_path / "outputs" / "classification" / "runs").iterdir()
    capsys.readouterr()

    assert analyze_main(["curves", str(run.relative_to(tmp_path)), "--next"]) == 0
    printed = capsys.readouterr().out
    found = diagnose(analyze(load_history(run)))
    assert "lr_never_decayed" in [d.id for d in found]
    spec = yaml.safe_load((run / "next_sweep.yaml").read_text(encoding="utf-8"))
    alternatives = spec["hydra"]["sweeper"]["alternatives"]
    lines = [line for d in found for line in d.overrides]
    assert list(alternatives)[0] == "baseline" and alternatives["baseline"] == ""
    assert sorted(alternatives.values())[1:] == sorted(set(lines))  # each line once
    assert spec["hydra"]["sweeper"]["params"]["scheduler"] == "none"  # the run's own

    (command,) = [
        ln.split(":", 1)[1].strip() for ln in printed.splitlines() if ln.startswith("run it:")
    ]
    argv = shlex.split(command)
    assert argv[:2] == ["ocec-train", "-m"], command  # one command, started from here
    ocec_train(monkeypatch, *argv[1:])
    sweep_dir = run / "next_sweep"
    jobs = sorted(
        (p for p in sweep_dir.iterdir() if p.is_dir()), key=lambda p: int(p.name.split("_")[0])
    )
    assert [j.name for j in jobs] == [f"{i}_{label}" for i, label in enumerate(alternatives)]
    for job, line in zip(jobs, alternatives.values(), strict=True):
        assert (job / "summary.json").is_file(), job
        ran = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text(encoding="utf-8"))
        words = shlex.split(line)  # the alternative's overrides come last (they win)
        assert ran[len(ran) - len(words) :] == words and ("scheduler=none" in ran) == (
            "scheduler=" not in line
        )
    info = read_sweep(sweep_dir)
    assert info is not None and info.origin == run.resolve()
    capsys.readouterr()

    assert analyze_main(["compare", str(sweep_dir.relative_to(tmp_path))]) == 0
    terminal = capsys.readouterr().out
    md = (sweep_dir / "compare.md").read_text(encoding="utf-8")
    rows = _table(md)
    assert set(rows) == {"original run", *(j.name for j in jobs)}
    best = [float(r["best"]) for r in rows.values()]  # ranked: highest first
    assert best == sorted(best, reverse=True)
    original, baseline = rows["original run"], rows["0_baseline"]
    assert "lr_never_decayed" in original["still"]  # what was diagnosed
    assert original["change"] == "(the diagnosed run)"
    assert baseline["change"] == "(none: baseline)"
    assert "lr_never_decayed" in baseline["still"]  # same code, same constant LR
    assert original["LR at best"] == baseline["LR at best"] == "100%"
    (cosine,) = [r for r in rows.values() if r["change"] == "scheduler=cosine"]
    assert "lr_never_decayed" in cosine["gone"] and cosine["LR at best"] != "100%"
    assert f"Next sweep of `{run.relative_to(tmp_path)}`" in md
    assert "**original run**" in md and "**0_baseline**" in md
    assert "next sweep — val/f1" in terminal and "gone:" in terminal  # (cells wrap)
    png = sweep_dir / "compare.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 20_000
