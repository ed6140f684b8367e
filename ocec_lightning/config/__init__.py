"""Configuration support: locating `conf/`, custom resolvers, CLI argument quoting, the
compose helper for notebooks and tests, and validation of composed configs."""

from ocec_lightning.config.compose import compose_config, conf_dir
from ocec_lightning.config.validation import validate_config

__all__ = ["compose_config", "conf_dir", "validate_config"]
