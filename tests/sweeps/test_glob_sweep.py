"""Glob sweeps over option names, Chinese ones included (`hydra/sweeper: ocec_basic`).

Hydra's basic sweeper expands `preset=glob(*)` into unquoted option names, which its own
grammar rejects when they are Chinese (`preset=保守`); our sweeper quotes them like the
command line. The expansion of the issue's command is checked without running it (11
presets would take minutes); one real sweep runs two Chinese names.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from sweep_cli import TINY, sweep_dirs, train

from hydra_plugins.ocec_optuna_sweeper.ocec_optuna_sweeper import OcecBasicSweeper
from ocec_lightning.config import compose_config, conf_dir
from ocec_lightning.config.argv import quote_overrides


@pytest.fixture()
def parser() -> OverridesParser:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        yield OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
    GlobalHydra.instance().clear()


def expand(parser: OverridesParser, *args: str) -> list[list[str]]:
    overrides = parser.parse_overrides(quote_overrides(list(args)))
    (batch,) = OcecBasicSweeper.split_arguments(overrides, None)
    return batch


def test_glob_over_presets_expands_to_quoted_names_that_compose(parser) -> None:
    jobs = expand(parser, "preset=glob(*,exclude=seg_*)", "debug=fdr")
    names = {p.stem for p in (conf_dir() / "preset").glob("*.yaml")}
    expected = {n for n in names if not n.startswith("seg_")}
    assert len(jobs) == len(expected) and {"保守", "平衡", "激进"} <= expected
    chosen = set()
    for job in jobs:
        preset = job[0].removeprefix("preset=")
        assert preset.isascii() or preset.startswith("'"), job  # Chinese names quoted
        OverridesParser.create().parse_overrides(job)  # Hydra's grammar accepts every job
        chosen.add(preset.strip("'"))
    assert chosen == expected
    cfg = compose_config(["preset='激进'"])  # what the sweeper hands the launcher composes
    assert cfg.aug == compose_config(["preset=aggressive"]).aug


def test_glob_arguments_with_chinese_names_are_quoted_item_by_item() -> None:
    assert quote_overrides(["aug=glob(*,exclude=[a*,激进])"]) == ["aug=glob(*,exclude=[a*,'激进'])"]
    assert quote_overrides(["aug=glob([保*,平*])"]) == ["aug=glob(['保*','平*'])"]
    # A keyword argument is not mistaken for a value holding "=" (quoted as a whole).
    assert quote_overrides(["preset=glob(*,exclude=seg_*)"]) == ["preset=glob(*,exclude=seg_*)"]


@pytest.mark.slow
def test_glob_sweep_runs_two_chinese_options(parser, tmp_path: Path) -> None:
    assert [job[0] for job in expand(parser, "aug=glob([保*,平*])")] == ["aug='保守'", "aug='平衡'"]
    # train=false: every job composes, builds and checks its run, reads its data, no fit.
    proc = train("-m", "aug=glob([保*,平*])", *TINY, "train=false", root=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep_dir,) = sweep_dirs(tmp_path)
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    assert [j.name for j in jobs] == ["0", "1"]
    chosen = [
        yaml.safe_load((j / ".hydra" / "hydra.yaml").read_text(encoding="utf-8"))["hydra"][
            "runtime"
        ]["choices"]["aug"]
        for j in jobs
    ]
    assert chosen == ["保守", "平衡"]
    # Nothing failed; with neither fit nor test the run directory holds only Hydra's record
    # of the composed config (`config.yaml` is written by the RunDirectory callback when a
    # fit or test starts).
    assert all((j / ".hydra" / "config.yaml").is_file() for j in jobs)
    assert not any((j / "failure.json").exists() for j in jobs)


@pytest.mark.slow
def test_the_issue_command_runs_every_non_seg_preset(tmp_path: Path) -> None:
    """`-m 'preset=glob(*,exclude=seg_*)' debug=fdr` as a user types it: every job trains."""
    tiny = ["data.source.num_samples=240", "data.batch_size=32", "logger=csv"]
    # Presets tune early stopping, so the default callbacks stay (minus the slow ones).
    tiny += ["callbacks.progress_bar=null", "callbacks.model_summary=null"]
    tiny += ["callbacks.curve_report=null", "~callbacks.classification_plots"]
    proc = train("-m", "preset=glob(*,exclude=seg_*)", "debug=fdr", *tiny, root=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep_dir,) = sweep_dirs(tmp_path, "classification")
    jobs = sorted((p for p in sweep_dir.iterdir() if p.is_dir()), key=lambda p: int(p.name))
    names = {
        p.stem for p in (conf_dir() / "preset").glob("*.yaml") if not p.stem.startswith("seg_")
    }
    assert len(jobs) == len(names)
    for job in jobs:
        assert not (job / "failure.json").exists(), (job / "failure.json").read_text()
        assert (job / "summary.json").is_file(), job
