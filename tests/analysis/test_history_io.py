"""`load_history`: every log format, role detection, settings beside foreign logs, robust
reading (NaN, 1 epoch, no LR, duplicate epochs, a file being written) and the one-line
`DataError`s of bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from ocec_lightning.analysis.history import infer_mode, load_history, locate_log
from ocec_lightning.errors import DataError


def test_run_dir_folds_lightning_rows_into_epochs(tmp_path, write_run):
    run = write_run(tmp_path / "run")
    history = load_history(run)
    assert history.epochs.tolist() == [0, 1, 2]
    assert set(history.series) == {"lr-AdamW", "train/loss_epoch", "val/f1", "val/loss"}
    np.testing.assert_allclose(history.series["val/f1"], [0.5, 0.6, 0.7])
    np.testing.assert_allclose(history.get("lr"), [1e-3, 1e-3, 5e-4])
    assert history.roles == {
        "monitor": "val/f1",
        "train_loss": "train/loss_epoch",
        "val_loss": "val/loss",
        "lr": "lr-AdamW",
    }
    assert history.picked["monitor"] == "val/f1 (config task.monitor)"
    assert history.picked["lr"] == "lr-AdamW (auto: LR name)"
    assert history.mode == "max" and history.wall_seconds == 12.0
    s = history.settings
    assert (s.max_epochs, s.lr, s.early_stopping_patience) == (20, 1e-3, 5)
    assert (s.monitor, s.monitor_mode, s.warmup_epochs) == ("val/f1", "max", 2)
    assert s.scheduler["name"] == "cosine" and s.source.endswith("config.yaml")


def test_metrics_csv_path_reads_the_config_of_its_run(tmp_path, write_run):
    run = write_run(tmp_path / "run")
    history = load_history(run / "csv" / "metrics.csv")
    assert history.settings is not None and history.settings.max_epochs == 20
    assert history.wall_seconds == 12.0 and len(history) == 3
    assert locate_log(run) == run / "csv" / "metrics.csv"


def test_lr_of_an_epoch_is_its_last_logged_value(tmp_path):
    log = tmp_path / "metrics.csv"
    rows = ["epoch,lr-SGD,step,val/acc"]
    rows += [f",{lr},{s}," for s, lr in enumerate([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])]
    rows += ["0,,2,0.5", "1,,5,0.6"]
    log.write_text("\n".join(rows) + "\n")
    history = load_history(log)
    np.testing.assert_allclose(history.get("lr"), [0.3, 0.6])
    assert history.picked["monitor"] == "val/acc (auto: accuracy name)"


def test_tensorboard_steps_are_epochs(tmp_path, write_tensorboard):
    folder = write_tensorboard(
        tmp_path / "tb",
        {"train_loss": [1.0, 0.8], "val_loss": [1.1, 0.9], "val_f_score": [0.4, 0.6], "lr": [1, 2]},
    )
    history = load_history(folder)
    assert history.epochs.tolist() == [0, 1]
    np.testing.assert_allclose(history.series["val_f_score"], [0.4, 0.6])
    assert history.picked["monitor"] == "val_f_score (auto: F-score name)"
    assert history.roles["lr"] == "lr" and history.mode == "max"


def test_tensorboard_epoch_scalar_maps_global_steps(tmp_path, write_tensorboard):
    folder = write_tensorboard(
        tmp_path / "tb",
        {"val/fscore": [0.3, 0.5, 0.4], "train/loss_epoch": [2.0, 1.5, 1.2]},
        epoch_tag=True,
        steps_per_epoch=4,
        per_step={"lr-AdamW": [float(i) for i in range(12)]},
    )
    history = load_history(folder)
    assert history.epochs.tolist() == [0, 1, 2]
    np.testing.assert_allclose(history.get("lr"), [3.0, 7.0, 11.0])  # last step of each epoch
    np.testing.assert_allclose(history.series["val/fscore"], [0.3, 0.5, 0.4])


def test_tensorboard_sparse_steps_become_epoch_indices(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(tmp_path / "tb"))
    for index, step in enumerate([99, 199, 299]):
        writer.add_scalar("val_miou", 0.1 * index, step)
    writer.close()
    history = load_history(tmp_path / "tb")
    assert history.epochs.tolist() == [1, 2, 3] and history.numbering == "rows"
    assert history.picked["monitor"] == "val_miou (auto: IoU name)"


def test_csv_with_epoch_column_nan_duplicates_and_minimised_metric(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(
        "Epoch,train_loss,val_loss,note\n1,1.0,1.2,a\n2,0.8,,b\n3,0.7,1.5,c\n3,0.6,0.9,d\n"
    )
    history = load_history(log)
    assert history.epochs.tolist() == [1, 2, 3]
    assert math.isnan(history.series["val_loss"][1])  # NaN kept
    assert history.series["train_loss"][-1] == 0.6  # the duplicate epoch: last wins
    assert "note" not in history.series  # text column dropped
    assert history.monitor == "val_loss" and history.mode == "min"
    assert history.picked["monitor"] == "val_loss (auto: no val score, val loss)"
    assert history.roles["lr"] is None and history.picked["lr"] == "none (auto: no LR name)"
    assert history.settings is None and history.wall_seconds is None


def test_json_dict_of_lists(tmp_path):
    log = tmp_path / "history.json"
    data = {
        "train_loss": [1.0, 0.9, 0.8],
        "val_loss": [1.1, 1.0, None],
        "val_f_score": [0.5, 0.6, 0.65],
        "lr": [1e-4, 5e-4],  # shorter list: NaN at the end
        "best_epoch": 2,  # not a list: ignored
    }
    log.write_text(json.dumps(data))
    history = load_history(log)
    assert history.epochs.tolist() == [1, 2, 3] and history.numbering == "rows"
    assert history.roles == {
        "monitor": "val_f_score",
        "train_loss": "train_loss",
        "val_loss": "val_loss",
        "lr": "lr",
    }
    assert math.isnan(history.series["val_loss"][2]) and math.isnan(history.get("lr")[2])


def test_json_records_and_json_lines(tmp_path):
    records = [{"epoch": e, "train_loss": 1 - 0.1 * e, "val_acc": 0.5 + 0.1 * e} for e in (1, 2)]
    (tmp_path / "records.json").write_text(json.dumps(records))
    history = load_history(tmp_path / "records.json")
    assert history.epochs.tolist() == [1, 2] and history.monitor == "val_acc"
    lines = "\n".join(json.dumps(r) for r in records) + '\n{"epoch": 3, "train_lo'
    (tmp_path / "log.jsonl").write_text(lines)  # the last line is still being written
    assert load_history(tmp_path / "log.jsonl").epochs.tolist() == [1, 2]


def test_one_epoch_log_and_given_roles(tmp_path):
    log = tmp_path / "one.csv"
    log.write_text("epoch,loss,val_loss,val_dice\n0,0.9,0.8,0.3\n")
    history = load_history(log, monitor="val_loss", lr=None, train_loss="loss")
    assert len(history) == 1
    assert history.monitor == "val_loss" and history.mode == "min"
    assert history.picked["monitor"] == "given" and history.picked["train_loss"] == "given"
    assert load_history(log, monitor="val_loss", mode="max").mode == "max"
    assert load_history(log).monitor == "val_dice"  # auto: F-score family


def test_running_run_partial_last_line(tmp_path, write_run):
    run = write_run(tmp_path / "run", seconds=None)  # no summary, no test row
    with (run / "csv" / "metrics.csv").open("a") as file:
        file.write("3,,11,,,0.4")  # a row cut mid-write
    history = load_history(run)
    assert history.epochs.tolist() == [0, 1, 2]
    assert history.wall_seconds is None


def test_config_beside_a_foreign_log(tmp_path):
    (tmp_path / "log.csv").write_text("epoch,train_loss\n0,4.26\n1,4.25\n")
    decode_adaptive_config = {
        "training": {
            "epochs": 300,
            "lr_first": 5e-4,
            "adaptive_lr_config": {
                "scheduler_type": "adaptive_plateau",
                "warmup_epochs": 10,
                "plateau_patience": 50,
            },
        }
    }
    (tmp_path / "config.json").write_text(json.dumps(decode_adaptive_config))
    history = load_history(tmp_path / "log.csv")
    s = history.settings
    assert (s.max_epochs, s.lr, s.warmup_epochs) == (300, 5e-4, 10)
    assert s.scheduler["name"] == "adaptive_plateau" and s.scheduler["plateau_patience"] == 50
    assert history.picked["monitor"] == "train_loss (auto: no val series, train loss)"


def test_hydra_config_beside_a_tensorboard_dir(tmp_path, write_tensorboard):
    write_tensorboard(tmp_path / "run" / "tensorboard", {"val/f1": [0.1, 0.2]})
    hydra = tmp_path / "run" / ".hydra"
    hydra.mkdir()
    config = {"trainer": {"max_epochs": 7}, "task": {"monitor": "val/f1", "monitor_mode": "max"}}
    (hydra / "config.yaml").write_text(yaml.safe_dump(config))
    for path in (tmp_path / "run", tmp_path / "run" / "tensorboard"):
        history = load_history(path)
        assert history.settings.max_epochs == 7
        assert history.picked["monitor"] == "val/f1 (config task.monitor)"


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        (None, {}, "no such file or directory"),
        ("epoch,note\n0,first\n", {}, "no per-epoch values logged yet"),
        ("epoch,val_loss\n0,1.0\n", {"monitor": "val/f1"}, "monitor='val/f1' is not logged"),
        ("epoch,val_loss\n0,1.0\n", {"mode": "up"}, "mode='up' is invalid"),
        ("epoch,val_loss\n", {}, "no per-epoch values logged yet"),
        ("", {}, "no per-epoch values logged yet"),
    ],
)
def test_bad_input_names_the_file(tmp_path, content, kwargs, message):
    log = tmp_path / "log.csv"
    if content is not None:
        log.write_text(content)
    with pytest.raises(DataError, match=message) as err:
        load_history(log, **kwargs)
    assert str(log) in str(err.value) and "\n" not in str(err.value)
    if "monitor" in kwargs:
        assert "logged keys: val_loss" in str(err.value)


def test_bad_json_and_empty_dirs(tmp_path):
    (tmp_path / "scalar.json").write_text("3")
    with pytest.raises(DataError, match="expected a dict of per-epoch lists"):
        load_history(tmp_path / "scalar.json")
    (tmp_path / "broken.json").write_text('{"loss": [1, 2')
    with pytest.raises(DataError, match="not valid JSON"):
        load_history(tmp_path / "broken.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no metrics found"):
        load_history(tmp_path / "empty")


def test_mode_names():
    assert [infer_mode(k) for k in ("val/loss", "val_error", "val/mae", "val/f1")] == [
        "min",
        "min",
        "min",
        "max",
    ]
    assert infer_mode("val/precision") == "max"
