"""`logger=mlflow`: a short run writes its metrics, params and tags into the local file
store under the run directory, read back with MLflow's own client; a tracking URI given
on the command line wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocec_lightning.training import run_training

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")

SHORT = ["logger=mlflow", "debug=limit", "trainer.max_epochs=2", "callbacks=minimal"]


def _only_run(uri: str):
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    experiments = [e for e in client.search_experiments() if e.name != "Default"]
    assert len(experiments) == 1, [e.name for e in experiments]
    runs = client.search_runs([experiments[0].experiment_id])
    assert len(runs) == 1
    return client, experiments[0], runs[0]


def test_short_run_writes_metrics_into_the_run_dir_store(make_cfg, tmp_path: Path) -> None:
    cfg = make_cfg(SHORT)
    result = run_training(cfg)
    store = Path(result.run_dir) / "mlruns"
    assert store.is_dir()
    client, experiment, run = _only_run(f"file:{store}")
    assert experiment.name == cfg.run_name
    assert run.info.status == "FINISHED"
    assert run.data.tags["run_dir"] == str(cfg.paths.output_dir)
    metrics = run.data.metrics
    assert {"val/f1", "train/loss_epoch"} <= set(metrics), sorted(metrics)
    val_f1 = client.get_metric_history(run.info.run_id, "val/f1")
    assert len(val_f1) == 2 and all(0.0 <= m.value <= 1.0 for m in val_f1)
    assert any(k.startswith("test/") for k in metrics)  # the test step logged too
    assert run.data.params  # the task's hyper-parameters
    assert (Path(result.run_dir) / "csv" / "metrics.csv").is_file()  # for ocec-analyze


def test_tracking_uri_override(make_cfg, tmp_path: Path) -> None:
    from ocec_lightning.callbacks import build_loggers

    shared = "http://127.0.0.1:5999"  # a server URI is passed through; nothing connects yet
    cfg = make_cfg(["logger=mlflow", f"logger.mlflow.tracking_uri={shared}"])
    csv, mlflow_logger = build_loggers(cfg.logger)  # logger=mlflow keeps csv/metrics.csv too
    assert type(csv).__name__ == "ResumableCSVLogger" and mlflow_logger._tracking_uri == shared
    default = build_loggers(make_cfg(["logger=mlflow"], run_dir=tmp_path / "other").logger)[-1]
    assert default._tracking_uri == f"file:{tmp_path / 'other' / 'mlruns'}"
