"""Resume from last.ckpt restores everything; ocec-eval reproduces the run's test metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ocec_lightning.evaluation import run_evaluation
from ocec_lightning.training import run_training

SHORT = [
    "trainer.max_epochs=2",
    "trainer.limit_train_batches=3",
    "trainer.num_sanity_val_steps=0",
    "scheduler=cosine",
    "scheduler.warmup.steps=2",
    "logger=csv",
]


def _load(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_resume_continues_at_next_epoch_with_all_state(make_cfg, tmp_path: Path) -> None:
    first = run_training(make_cfg([*SHORT, "test=false"], run_dir=tmp_path / "first"))
    last = _load(first.last_checkpoint)
    assert last["epoch"] == 1 and last["global_step"] == 6
    resumed = run_training(
        make_cfg(
            [*SHORT, "trainer.max_epochs=3", f"ckpt_path={first.last_checkpoint}", "test=false"],
            run_dir=tmp_path / "second",
        )
    )
    final = _load(resumed.last_checkpoint)
    # Next epoch, not a restart: 3 epochs × 3 steps in total.
    assert final["epoch"] == 2 and final["global_step"] == 9
    # Scheduler state continued (9 optimizer steps seen) ...
    assert final["lr_schedulers"][0]["step_count"] == 9
    # ... as did the optimizer (Adam step counter) and the EMA (updates since the start).
    adam_steps = {float(s["step"]) for s in final["optimizer_states"][0]["state"].values()}
    assert adam_steps == {9.0}
    assert int(final["averaging_state"]["n_averaged"]) == 9
    # The resumed run logged only epoch 2.
    metrics = (Path(resumed.run_dir) / "csv" / "metrics.csv").read_text().splitlines()
    epochs = {line.split(",")[0] for line in metrics[1:]}
    assert epochs == {"2"}


def test_checkpoint_holds_ema_weights_threshold_and_config(make_cfg) -> None:
    result = run_training(make_cfg([*SHORT, "test=false"]))
    ckpt = _load(result.best_checkpoint)
    assert set(ckpt["state_dict"]) == set(ckpt["current_model_state"])
    differs = [
        k
        for k in ckpt["state_dict"]
        if not torch.equal(ckpt["state_dict"][k], ckpt["current_model_state"][k])
    ]
    assert differs, "state_dict should hold the EMA weights, not the raw ones"
    assert "ocec" not in ckpt  # Lightning's own hyper-parameters carry everything
    hparams = ckpt["hyper_parameters"]
    assert 0.0 < hparams["threshold"] < 1.0 and hparams["threshold"] != 0.5
    assert hparams["model"]["_target_"] == "ocec_lightning.models.ocec.OCECNet"
    assert hparams["loss"]["pos_weight"] == "auto"  # resolved from the data at setup()
    assert hparams["class_names"] == ["closed", "open"] and hparams["image_size"] == [32, 64]
    assert hparams["normalize"] == {"mean": [0.0] * 3, "std": [1.0] * 3}
    data = ckpt["datamodule_hyper_parameters"]["config"]
    assert data["task"]["module_target"].endswith("ClassificationTask")


def test_load_from_checkpoint_needs_no_hydra(make_cfg) -> None:
    from ocec_lightning.tasks import ClassificationTask

    result = run_training(make_cfg([*SHORT, "test=false"]))
    ckpt = torch.load(result.best_checkpoint, map_location="cpu", weights_only=True)
    task = ClassificationTask.load_from_checkpoint(result.best_checkpoint, weights_only=True)
    assert task.threshold == pytest.approx(ckpt["hyper_parameters"]["threshold"])
    for key, value in task.state_dict().items():
        assert torch.equal(value, ckpt["state_dict"][key]), key  # the EMA weights
    task.eval()
    with torch.no_grad():
        probs = torch.sigmoid(task(torch.rand(3, 3, 32, 64)))
    assert probs.shape == (3,) and ((probs >= 0) & (probs <= 1)).all()


def test_eval_reproduces_the_training_test_metrics(make_cfg, tmp_path: Path) -> None:
    result = run_training(make_cfg(SHORT, run_dir=tmp_path / "train"))
    cfg = make_cfg(
        [f"ckpt_path={result.best_checkpoint}", "logger=csv"],
        tiny=False,
        config_name="eval",
        run_dir=tmp_path / "eval",
    )
    evaluated = run_evaluation(cfg, user_overrides=[f"ckpt_path={result.best_checkpoint}"])
    metrics = evaluated.metrics
    assert evaluated.monitor == "test/f1" and evaluated.score == metrics["test/f1"]
    assert set(result.test_metrics) <= set(metrics)
    for key, value in result.test_metrics.items():
        assert metrics[key] == pytest.approx(value, abs=1e-6), key
    saved = json.loads((tmp_path / "eval" / "eval_metrics.json").read_text())
    assert saved["metrics"]["test/f1"] == pytest.approx(result.test_metrics["test/f1"])


def test_eval_rejects_a_file_that_is_not_an_ocec_checkpoint(make_cfg, tmp_path: Path) -> None:
    from ocec_lightning.errors import DataError

    bogus = tmp_path / "model.ckpt"
    torch.save({"state_dict": {}}, bogus)
    cfg = make_cfg(
        [f"ckpt_path={bogus}"], tiny=False, config_name="eval", run_dir=tmp_path / "eval"
    )
    with pytest.raises(DataError, match="was not written by ocec-train"):
        run_evaluation(cfg)


def test_gradient_accumulation_counts_optimizer_steps(make_cfg) -> None:
    result = run_training(
        make_cfg(
            [
                "trainer.max_epochs=2",
                "trainer.limit_train_batches=4",
                "trainer.accumulate_grad_batches=2",
                "trainer.num_sanity_val_steps=0",
                "scheduler=cosine",
                "test=false",
            ]
        )
    )
    ckpt = _load(result.last_checkpoint)
    assert ckpt["global_step"] == 4  # 2 epochs × 4 batches / 2
    schedule = ckpt["lr_schedulers"][0]
    assert schedule["step_count"] == 4
