"""Override preparation: what users type must reach Hydra in its grammar (non-ASCII values
quoted), and the renamed options of the deprecation table still compose under their old
names, with one warning."""

import warnings
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from ocec_lightning.config import argv, conf_dir
from ocec_lightning.config.argv import RENAMED_OPTIONS as RENAMED
from ocec_lightning.config.argv import quote_overrides
from ocec_lightning.config.compose import compose_config


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["aug=激进"], ["aug='激进'"]),
        (["preset=保守,平衡"], ["preset='保守','平衡'"]),
        (["aug='激进'"], ["aug='激进'"]),
        (['aug="激进"'], ['aug="激进"']),
        (["+preset=平衡"], ["+preset='平衡'"]),
        (["aug=choice(保守,激进)"], ["aug=choice('保守','激进')"]),
        (["optimizer.lr=1e-4,2e-4"], ["optimizer.lr=1e-4,2e-4"]),
        (["-m", "--cfg", "job", "aug=none"], ["-m", "--cfg", "job", "aug=none"]),
        (["run_name=实验"], ["run_name='实验'"]),
        (["ckpt_path=out/epoch=3-val_f1=0.9.ckpt"], ["ckpt_path='out/epoch=3-val_f1=0.9.ckpt'"]),
    ],
)
def test_quote_overrides(given: list[str], expected: list[str]) -> None:
    assert quote_overrides(given) == expected


@pytest.mark.parametrize(("group", "old", "new"), [(*key, new) for key, new in RENAMED.items()])
def test_renamed_options_compose_as_their_new_names_and_warn_once(
    group: str, old: str, new: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(argv, "_warned", set())  # a fresh process: nothing warned yet
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old_cfg = compose_config([f"{group}={old}"], output_dir=tmp_path)
        quote_overrides([f"{group}={old}"])  # a second use of the old name: no second line
        new_cfg = compose_config([f"{group}={new}"], output_dir=tmp_path)
    renamed = [str(w.message) for w in caught if issubclass(w.category, FutureWarning)]
    assert renamed == [f"{group}={old} is now {group}={new}; the old name goes in the next release"]
    assert OmegaConf.to_yaml(old_cfg) == OmegaConf.to_yaml(new_cfg)


def test_renamed_options_are_mapped_inside_sweeps_and_only_as_whole_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(argv, "_warned", set())
    with pytest.warns(FutureWarning, match="preset=ocec_seed000 is now preset=ocec_batch4096"):
        assert quote_overrides(["preset=ocec_seed000,平衡", "run_name=ocec_seed000"]) == [
            "preset=ocec_batch4096,'平衡'",
            "run_name=ocec_seed000",  # another key: a free-form value, left alone
        ]


def test_renamed_options_left_no_file_under_the_old_name() -> None:
    for (group, old), new in RENAMED.items():
        assert (conf_dir() / group / f"{new}.yaml").is_file(), new
        assert not (conf_dir() / group / f"{old}.yaml").exists(), old
