"""Find the Hydra config directory and compose configs outside the CLI (notebooks, tests).

`conf/` lives at the repository root; wheels carry a copy at `ocec_lightning/conf`
(see pyproject's force-include), so both layouts are searched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import ocec_lightning.config.resolvers  # noqa: F401  (registers ${ocec.*})
from ocec_lightning.config.argv import quote_overrides

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def conf_dir() -> Path:
    """Directory holding train.yaml: $OCEC_CONF_DIR, the installed copy, or the repo's."""
    candidates = [
        os.environ.get("OCEC_CONF_DIR"),
        _PACKAGE_DIR / "conf",
        _PACKAGE_DIR.parent / "conf",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train.yaml").is_file():
            return Path(candidate)
    raise FileNotFoundError(
        f"no Hydra config directory with train.yaml found in {[str(c) for c in candidates if c]}; "
        "set OCEC_CONF_DIR to the project's conf/ directory"
    )


def compose_config(
    overrides: Sequence[str] = (),
    config_name: str = "train",
    output_dir: str | Path | None = None,
) -> DictConfig:
    """Compose a config exactly as the CLI would, for notebooks and tests.

    Chinese option names may be written unquoted (`aug=激进`). When `output_dir` is
    given the Hydra runtime is set up so `${paths.output_dir}` resolves to it; the
    returned config then behaves like the one a CLI run sees.
    """
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(
            config_name, overrides=quote_overrides(list(overrides)), return_hydra_config=True
        )
    if output_dir is not None:
        out = Path(output_dir).resolve()
        out.mkdir(parents=True, exist_ok=True)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(out)
            cfg.hydra.job.num = 0
        HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg
