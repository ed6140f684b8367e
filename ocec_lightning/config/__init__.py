"""Configuration support: locating `conf/`, custom resolvers, CLI argument quoting, the
compose helper for notebooks and tests, the instantiate wrapper, and the rules that span
config groups (`validation.py`)."""

from ocec_lightning.config.compose import compose_config, conf_dir

__all__ = ["compose_config", "conf_dir"]
