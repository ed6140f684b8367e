"""The published Optuna sweeper's search-space syntax, and the shipped search spaces."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from ocec_lightning.config import conf_dir
from ocec_lightning.errors import ConfigError
from ocec_lightning.sweeps.config import PRUNERS, SAMPLERS, register_configs
from ocec_lightning.sweeps.search_space import format_value, parse_search_space, trial_overrides
from ocec_lightning.sweeps.study import build_pruner, directions, storage_url
from ocec_lightning.sweeps.sweeper import OptunaSweeperImpl
from ocec_lightning.training import build_run

PARSER = OverridesParser.create()


def test_published_syntax_maps_to_optuna_distributions() -> None:
    space = parse_search_space(
        {
            "optimizer.lr": "tag(log, interval(1e-4, 1e-1))",
            "model.dropout": "interval(0.0, 0.5)",
            "scheduler.T_0": "interval(5, 30)",
            "data.batch_size": "choice(32, 64)",
            "model.num_blocks": "range(2, 9, 2)",
            "aug": "choice(保守, 激进)",
            "loss": "bce",
        },
        ["optimizer=adamw,sgd", "model.dropout=interval(0.1, 0.3)", "seed=7"],
        PARSER,
    )
    d = space.distributions
    assert d["optimizer.lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert d["model.dropout"] == FloatDistribution(0.1, 0.3)  # the command line wins
    assert d["scheduler.T_0"] == IntDistribution(5, 30)  # ends written as integers
    assert d["data.batch_size"] == CategoricalDistribution([32, 64])
    assert d["model.num_blocks"] == IntDistribution(2, 8, step=2)  # stop excluded, as Hydra's
    assert d["aug"] == CategoricalDistribution(["保守", "激进"])
    assert d["optimizer"] == CategoricalDistribution(["adamw", "sgd"])
    assert space.fixed == {"loss": "loss=bce", "seed": "seed=7"}
    with pytest.raises(ConfigError, match="grid"):
        space.grid()  # an interval cannot be enumerated
    grid = parse_search_space({"a": "range(2, 9, 2)", "b": "x,y"}, [], PARSER).grid()
    assert grid == {"a": [2, 4, 6, 8], "b": ["x", "y"]}


def test_trial_values_become_overrides_hydra_parses() -> None:
    params = {"aug": "保守", "optimizer.lr": 1e-3, "model.lmsa": True, "x": None, "y": "[1,2]"}
    overrides = trial_overrides(params)
    assert overrides == ["aug='保守'", "optimizer.lr=0.001", "model.lmsa=true", "x=null", "y=[1,2]"]
    parsed = PARSER.parse_overrides(overrides)
    assert parsed[0].value() == "保守" or str(parsed[0].value()) == "'保守'"
    assert format_value("it's") == '"it\'s"'


def test_glob_choices_come_from_the_config_group() -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
        space = parse_search_space({"aug": "glob(*,exclude=[a*,b*,c*,n*,激进])"}, [], parser)
    GlobalHydra.instance().clear()
    assert space.distributions["aug"] == CategoricalDistribution(["保守", "平衡"])
    with pytest.raises(ConfigError, match="aug"):  # no config loader: no options to list
        parse_search_space({}, ["aug=glob(*)"], PARSER)


def test_direction_and_storage_forms(tmp_path) -> None:
    assert directions("max") == ["maximize"]
    assert directions(["minimize", "max"]) == ["minimize", "maximize"]
    with pytest.raises(ConfigError, match="direction"):
        directions("up")
    assert storage_url(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/optuna.db"
    assert storage_url(tmp_path / "s.db", "x") == f"sqlite:///{tmp_path.resolve()}/s.db"
    assert storage_url("postgresql://u@h/db", "x") == "postgresql://u@h/db"


@pytest.mark.parametrize("search", ["ocec_optuna", "seg_optuna"])
def test_shipped_search_spaces_build_at_both_ends(search: str, make_cfg) -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", [f"hparams_search={search}"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OcecOptunaSweeper") and sweeper.pruner and sweeper.sampler
    space = parse_search_space(dict(sweeper.params), [], PARSER)
    assert len(space.distributions) == 5 + (search == "ocec_optuna")
    for pick in (0, -1):  # every low end / first choice, then every high end / last choice
        params = {
            name: (dist.choices[pick] if hasattr(dist, "choices") else (dist.low, dist.high)[pick])
            for name, dist in space.distributions.items()
        }
        task = ["task=segmentation"] if search == "seg_optuna" else []
        build_run(make_cfg([*task, f"hparams_search={search}", *trial_overrides(params)]))


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_option_builds(name: str) -> None:
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    register_configs()
    node = OmegaConf.create(ConfigStore.instance().load(f"hydra/sweeper/sampler/{name}.yaml").node)
    node.seed = 3
    sweeper = OptunaSweeperImpl(node, None, "max", None, None, 1, 1, 0.5, None, None)
    space = parse_search_space({"aug": "choice(保守, 激进)", "n": "range(1, 3)"}, [], PARSER)
    sampler = sweeper._sampler(space, offset=2)
    assert type(sampler).__name__ == SAMPLERS[name].rsplit(".", 1)[1]


@pytest.mark.parametrize("name", sorted(PRUNERS))
def test_every_pruner_option_builds(name: str) -> None:
    from omegaconf import OmegaConf

    pruner = build_pruner(OmegaConf.create(PRUNERS[name]))
    assert type(pruner).__name__ == PRUNERS[name]["_target_"].rsplit(".", 1)[1]
