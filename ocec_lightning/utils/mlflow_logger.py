"""`logger=mlflow`: Lightning's `MLFlowLogger` on a local file store by default.

MLflow 3 keeps its `file:` tracking store (a folder of YAML/text files, no server, no
database) in maintenance mode and refuses it unless `MLFLOW_ALLOW_FILE_STORE=true`; a
SQLite store instead costs ~10-20 s of schema migrations per new database, i.e. per run
with the per-run default. `build_mlflow_logger` therefore opts in to the file store when
the tracking URI is a `file:` one (and only then); any other URI (`http://...`,
`sqlite:///...`, `databricks`) is passed through untouched.
"""

from __future__ import annotations

import os
from typing import Any

from ocec_lightning.errors import ConfigError


def build_mlflow_logger(tracking_uri: str | None = None, **kwargs: Any) -> Any:
    """`MLFlowLogger(tracking_uri=..., **kwargs)`, allowing MLflow's file store."""
    try:
        from lightning.pytorch.loggers import MLFlowLogger
        from lightning.pytorch.loggers.mlflow import _MLFLOW_AVAILABLE
    except ImportError:  # pragma: no cover - lightning always has the module
        _MLFLOW_AVAILABLE = False
    if not _MLFLOW_AVAILABLE:
        raise ConfigError(
            "tracking_uri",
            tracking_uri,
            "an installed MLflow: pip install 'ocec_lightning[mlflow]' (mlflow-skinny)",
        )
    if tracking_uri is None or str(tracking_uri).startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MLFlowLogger(tracking_uri=tracking_uri, **kwargs)
