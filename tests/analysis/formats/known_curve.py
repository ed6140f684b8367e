"""One known training curve, written the way each tool writes its log.

The curve (30 epochs): validation accuracy rises to its best, 0.9123, at the 18th
epoch, then falls back while the train accuracy keeps rising and the validation loss
climbs (overfitting from the 19th epoch); the LR follows a cosine planned for 60
epochs, so at the end it is still ~53% of its peak (the schedule was planned for twice
the epochs run). Values have four decimals so that every format, including those that
round to five, stores them exactly.

Writers: the real library where it is installed here (TensorBoard's `SummaryWriter`,
Lightning's `CSVLogger` / `TensorBoardLogger`, MLflow's client); otherwise byte for
byte what the tool writes: key order, padding, quoting, float formatting, line endings
and whether the file ends with a newline, as the tools' sources write them (noted per
writer; the real files in `data/` show the same layouts).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

EPOCHS = 30
BEST_INDEX = 17  # the 18th epoch
BEST = 0.9123
PLANNED = 60  # cosine length the LR was planned for


def _curve() -> dict[str, list[float]]:
    val_acc, train_acc, val_loss, train_loss, lr = [], [], [], [], []
    for i in range(EPOCHS):
        if i <= BEST_INDEX:
            v = BEST - 0.40 * (1 - i / BEST_INDEX) ** 2 - (0.002 if i % 2 and i < BEST_INDEX else 0)
        else:
            v = BEST - 0.004 * (i - BEST_INDEX) - 0.003 * (i % 2)
        val_acc.append(round(v, 4))
        train_acc.append(
            round(
                min(0.999, v + 0.002 * i + (0.006 * (i - BEST_INDEX) if i > BEST_INDEX else 0)), 4
            )
        )
        t = 1.2 * math.exp(-i / 8) + 0.10
        train_loss.append(round(t, 4))
        val_loss.append(round(t + 0.05 + (0.02 * (i - BEST_INDEX) if i > BEST_INDEX else 0), 4))
        lr.append(round(1e-3 * 0.5 * (1 + math.cos(math.pi * i / PLANNED)), 8))
    return {
        "val_acc": val_acc,
        "train_acc": train_acc,
        "val_loss": val_loss,
        "train_loss": train_loss,
        "lr": lr,
    }


CURVE = _curve()
assert max(CURVE["val_acc"]) == BEST and CURVE["val_acc"].index(BEST) == BEST_INDEX


@dataclass(frozen=True)
class Written:
    path: Path  # what to pass to load_history
    first_epoch: int  # the file's number for the first epoch (0 or 1)
    fmt: str  # the reader expected to read it
    monitor: str  # the validation accuracy's key in this format
    # The tool logs a val loss or the train value of the metric: overfitting shows.
    overfit_visible: bool = True


def rows() -> list[dict[str, float]]:
    return [{k: v[i] for k, v in CURVE.items()} for i in range(EPOCHS)]


# -- real writers --------------------------------------------------------------------------
def summary_writer(folder: Path) -> Written:
    """torch's SummaryWriter, one stage per writer (runs/x/train, runs/x/val), step = epoch."""
    from torch.utils.tensorboard import SummaryWriter

    train, val = SummaryWriter(str(folder / "train")), SummaryWriter(str(folder / "val"))
    for i, r in enumerate(rows()):
        train.add_scalar("accuracy", r["train_acc"], i)
        train.add_scalar("loss", r["train_loss"], i)
        train.add_scalar("lr", r["lr"], i)
        val.add_scalar("accuracy", r["val_acc"], i)
        val.add_scalar("loss", r["val_loss"], i)
    train.close()
    val.close()
    return Written(folder, 0, "TensorBoard event files", "val/accuracy")


def log_like_lightning(logger) -> None:  # noqa: ANN001 - any Lightning logger
    step = 0
    for i, r in enumerate(rows()):
        for _ in range(3):  # per-step train rows, then the epoch's rows, as the trainer logs
            step += 1
            logger.log_metrics({"train/loss_step": r["train_loss"] + 0.01, "epoch": i}, step)
        logger.log_metrics({"lr-AdamW": r["lr"]}, step)
        logger.log_metrics({"val/acc": r["val_acc"], "val/loss": r["val_loss"], "epoch": i}, step)
        logger.log_metrics(
            {"train/acc": r["train_acc"], "train/loss_epoch": r["train_loss"], "epoch": i}, step
        )
    logger.log_metrics({"test/acc": 0.5, "epoch": EPOCHS}, step)  # the post-fit test row
    logger.save()
    logger.finalize("success")


def lightning_csv(folder: Path) -> Written:
    from lightning.pytorch.loggers import CSVLogger

    logger = CSVLogger(str(folder), name="lightning_logs", version=0)
    log_like_lightning(logger)
    return Written(
        Path(logger.log_dir) / "metrics.csv", 0, "Lightning CSVLogger metrics.csv", "val/acc"
    )


def lightning_tensorboard(folder: Path) -> Written:
    from lightning.pytorch.loggers import TensorBoardLogger

    logger = TensorBoardLogger(str(folder), name="tb", version=0, default_hp_metric=False)
    log_like_lightning(logger)
    return Written(Path(logger.log_dir), 0, "TensorBoard event files", "val/acc")


def lightning_mlflow(folder: Path) -> Written:
    from lightning.pytorch.loggers import MLFlowLogger

    logger = MLFlowLogger(experiment_name="known", tracking_uri=f"file:{folder / 'mlruns'}")
    log_like_lightning(logger)
    return Written(folder / "mlruns", 0, "MLflow run", "val/acc")


# -- byte-for-byte writers -----------------------------------------------------------------
def _csv_text(header: list[str], table: list[list[object]], **kw: object) -> str:
    out = io.StringIO()
    writer = csv.writer(out, **kw)
    writer.writerow(header)
    writer.writerows(table)
    return out.getvalue()


def huggingface(folder: Path) -> Written:
    """trainer_state.json: `json.dumps(state, indent=2, sort_keys=True) + "\\n"`; train
    records every 50 of 100 steps per epoch, then the eval record of the epoch."""
    history = []
    for i, r in enumerate(rows()):
        for half in (0.5, 1.0):
            history.append(
                {
                    "epoch": i + half,
                    "grad_norm": 1.5,
                    "learning_rate": r["lr"],
                    "loss": r["train_loss"],
                    "step": int((i + half) * 100),
                }
            )
        history.append(
            {
                "epoch": float(i + 1),
                "eval_accuracy": r["val_acc"],
                "eval_loss": r["val_loss"],
                "eval_runtime": 1.2,
                "eval_samples_per_second": 80.0,
                "eval_steps_per_second": 10.0,
                "step": (i + 1) * 100,
            }
        )
    history.append(
        {
            "epoch": float(EPOCHS),
            "step": EPOCHS * 100,
            "total_flos": 1e15,
            "train_loss": 0.3,
            "train_runtime": 100.0,
        }
    )
    state = {
        "best_global_step": (BEST_INDEX + 1) * 100,
        "best_metric": BEST,
        "best_model_checkpoint": "out/checkpoint-1800",
        "epoch": float(EPOCHS),
        "eval_steps": 500,
        "global_step": EPOCHS * 100,
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": history,
        "logging_steps": 50,
        "max_steps": PLANNED * 100,
        "num_input_tokens_seen": 0,
        "num_train_epochs": PLANNED,
        "save_steps": 500,
        "stateful_callbacks": {
            "TrainerControl": {"args": {"should_training_stop": False}, "attributes": {}}
        },
        "total_flos": 1e15,
        "train_batch_size": 8,
        "trial_name": None,
        "trial_params": None,
    }
    path = folder / "trainer_state.json"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Written(folder, 1, "Hugging Face trainer_state.json", "eval_accuracy")


def keras_history_json(folder: Path) -> Written:
    """`json.dump(model.fit(...).history, f)`: one line, no newline, Keras' key order."""
    keys = {
        "accuracy": "train_acc",
        "loss": "train_loss",
        "val_accuracy": "val_acc",
        "val_loss": "val_loss",
        "learning_rate": "lr",
    }
    data = {k: CURVE[v] for k, v in keys.items()}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.json").write_text(json.dumps(data), encoding="utf-8")
    return Written(
        folder / "history.json", 1, "Keras history (history.history JSON)", "val_accuracy"
    )


def keras_csv_logger(folder: Path) -> Written:
    """CSVLogger: `epoch` then the keys sorted, `csv.DictWriter` (CRLF rows)."""
    keys = {
        "accuracy": "train_acc",
        "learning_rate": "lr",
        "loss": "train_loss",
        "val_accuracy": "val_acc",
        "val_loss": "val_loss",
    }
    table = [[i, *(repr(CURVE[v][i]) for v in keys.values())] for i in range(EPOCHS)]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "training.log").write_text(_csv_text(["epoch", *keys], table), newline="")
    return Written(folder / "training.log", 0, "Keras CSVLogger", "val_accuracy")


def ultralytics(folder: Path) -> Written:
    """results.csv of an older release (every name and value right-aligned to 23
    characters, values `%.5g`), classification columns, and its args.yaml."""
    names = [
        "epoch",
        "train/loss",
        "metrics/accuracy_top1",
        "metrics/accuracy_top5",
        "val/loss",
        "lr/pg0",
        "lr/pg1",
        "lr/pg2",
    ]
    lines = [",".join(f"{n:>23s}" for n in names)]
    for i, r in enumerate(rows()):
        cells = [
            i + 1,
            r["train_loss"],
            r["val_acc"],
            1.0,
            r["val_loss"],
            r["lr"],
            r["lr"],
            r["lr"],
        ]
        lines.append(
            ",".join(f"{c:>23.5g}" if not isinstance(c, int) else f"{c:>23d}" for c in cells)
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = (
        f"task: classify\nmode: train\nmodel: yolov8n-cls.pt\nepochs: {PLANNED}\n"
        "patience: 100\nbatch: 16\nlr0: 0.001\nlrf: 0.01\ncos_lr: true\nwarmup_epochs: 0.0\n"
    )
    (folder / "args.yaml").write_text(args, encoding="utf-8")
    return Written(folder, 1, "Ultralytics results.csv", "metrics/accuracy_top1")


def mmengine(folder: Path) -> Written:
    """vis_data/scalars.json: `json.dumps(record) + "\\n"` per line; train lines with
    epoch/iter/step, the validation line with `step` = the epoch."""
    lines = []
    for i, r in enumerate(rows()):
        for it in (10, 20):
            lines.append(
                {
                    "lr": r["lr"],
                    "data_time": 0.01,
                    "loss": r["train_loss"],
                    "time": 0.2,
                    "epoch": i + 1,
                    "iter": 20 * i + it,
                    "memory": 512,
                    "step": 20 * i + it,
                }
            )
        lines.append(
            {
                "accuracy/top1": round(100 * r["val_acc"], 2),
                "data_time": 0.01,
                "time": 0.1,
                "step": i + 1,
            }
        )
    path = folder / "20260101_000000" / "vis_data" / "scalars.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return Written(folder, 1, "MMEngine scalars.json", "accuracy/top1", overfit_visible=False)


def mmcv(folder: Path) -> Written:
    """MMCV 1.x `<time>.log.json`: an env line, then `mode: train|val` records."""
    lines = [{"env_info": "sys.platform: linux", "seed": 0, "config": "..."}]
    for i, r in enumerate(rows()):
        for it in (10, 20):
            lines.append(
                {
                    "mode": "train",
                    "epoch": i + 1,
                    "iter": it,
                    "lr": r["lr"],
                    "memory": 512,
                    "data_time": 0.01,
                    "loss": r["train_loss"],
                    "time": 0.2,
                }
            )
        lines.append(
            {
                "mode": "val",
                "epoch": i + 1,
                "iter": 5,
                "lr": r["lr"],
                "accuracy_top-1": round(100 * r["val_acc"], 2),
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "20260101_000000.log.json"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return Written(path, 1, "MMCV log.json", "accuracy_top-1", overfit_visible=False)


def timm_summary(folder: Path) -> Written:
    """timm `update_summary`: `csv.DictWriter` in text mode (CRLF rows), epoch from 0."""
    header = ["epoch", "train_loss", "eval_loss", "eval_top1", "eval_top5", "lr"]
    table = [
        [i, r["train_loss"], r["val_loss"], round(100 * r["val_acc"], 2), 100.0, r["lr"]]
        for i, r in enumerate(rows())
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.csv").write_text(_csv_text(header, table), newline="")
    return Written(folder / "summary.csv", 0, "timm summary.csv", "eval_top1")


def wandb_export(folder: Path) -> Written:
    """A W&B line panel with several keys exported: every cell quoted, bands per key."""
    keys = {
        "val/acc": "val_acc",
        "train/acc": "train_acc",
        "val/loss": "val_loss",
        "train/loss": "train_loss",
        "lr": "lr",
    }
    header = ["Step"]
    for key in keys:
        header += [
            f"sunny-dawn-7 - {key}",
            f"sunny-dawn-7 - {key}__MIN",
            f"sunny-dawn-7 - {key}__MAX",
        ]
    table = [
        [i] + [v for key in keys.values() for v in (CURVE[key][i],) * 3] for i in range(EPOCHS)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    text = _csv_text(header, table, quoting=csv.QUOTE_ALL, lineterminator="\n")
    (folder / "wandb_export_2026-12-07T10_00_00.000+01_00.csv").write_text(text)
    return Written(
        folder / "wandb_export_2026-12-07T10_00_00.000+01_00.csv", 0, "W&B exported CSV", "val/acc"
    )


def excel_european(folder: Path) -> Written:
    """A spreadsheet saved as CSV in a German locale: `;`, decimal commas, CRLF, a BOM,
    an `Epoch` column from 1."""
    header = ["Epoch", "Train Acc", "Val Acc", "Train Loss", "Val Loss", "LR"]
    table = [
        [
            i + 1,
            *(
                str(CURVE[k][i]).replace(".", ",")
                for k in ("train_acc", "val_acc", "train_loss", "val_loss", "lr")
            ),
        ]
        for i in range(EPOCHS)
    ]
    text = "\ufeff" + _csv_text(header, table, delimiter=";", lineterminator="\r\n")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "verlauf.csv").write_bytes(text.encode("utf-8"))
    return Written(folder / "verlauf.csv", 1, "CSV", "Val Acc")


def json_indent(folder: Path) -> Written:
    """`json.dump(history, f, indent=2)` of a dict of lists: no final newline."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.json").write_text(json.dumps(CURVE, indent=2), encoding="utf-8")
    return Written(folder / "history.json", 1, "JSON history", "val_acc")


def json_lines(folder: Path) -> Written:
    """A script appending one `json.dumps(record)` line per epoch, epochs from 1; the
    last line is still being written (no newline, cut short)."""
    text = "".join(json.dumps({"epoch": i + 1, **r}) + "\n" for i, r in enumerate(rows()))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "log.jsonl").write_text(text + '{"epoch": 31, "train_acc": 0.9', encoding="utf-8")
    return Written(folder / "log.jsonl", 1, "JSON Lines history", "val_acc")


WRITERS: dict[str, Callable[[Path], Written]] = {
    "tensorboard_summary_writer": summary_writer,
    "lightning_csv_logger": lightning_csv,
    "lightning_tensorboard_logger": lightning_tensorboard,
    "lightning_mlflow_logger": lightning_mlflow,
    "huggingface_trainer_state": huggingface,
    "keras_history_json": keras_history_json,
    "keras_csv_logger": keras_csv_logger,
    "ultralytics_results_csv": ultralytics,
    "mmengine_scalars": mmengine,
    "mmcv_log_json": mmcv,
    "timm_summary_csv": timm_summary,
    "wandb_export_csv": wandb_export,
    "excel_semicolon_decimal_comma": excel_european,
    "json_indent_no_newline": json_indent,
    "json_lines_being_written": json_lines,
}
