"""Which logged series plays which role: the monitored metric, the train and validation
losses, the LR; and whether the monitored metric is maximised or minimised.

Given names win; then the config's monitor (`task.monitor`, HF `metric_for_best_model`);
then what the tool itself keeps the best epoch by (`EpochTable.monitor_hint`); then
name patterns: a validation score (F-score / dice, IoU, accuracy, AUC / AP, other scores
in that order, the shortest name), a score without a train prefix, the validation loss,
the train loss. Each role says how it was picked (`History.picked`).
"""

from __future__ import annotations

import re

from ocec_lightning.analysis.history.model import History
from ocec_lightning.errors import DataError

LOSS_WORDS = re.compile(r"loss|error|(^|[/_\-])(err|mae|mse|rmse|nll|ce)($|[/_\-])", re.I)
VAL_WORDS = re.compile(r"(^|[/_\-])(val|valid|validation|eval|dev|test)([/_\-]|$)", re.I)
TRAIN_WORDS = re.compile(r"(^|[/_\-])(train|training|tr)([/_\-]|$)", re.I)
SCORES = (
    (re.compile(r"f1|f_?score|f-score|dice", re.I), "F-score name"),
    (re.compile(r"m?iou|jaccard", re.I), "IoU name"),
    (re.compile(r"acc", re.I), "accuracy name"),
    (re.compile(r"auroc|auc|(^|[/_])ap($|_)|map", re.I), "AUC/AP name"),
    (re.compile(r"precision|recall|score", re.I), "score name"),
)
LR_KEY = re.compile(r"^(lr|learning[_-]?rate)$|^lr[-_/]|[/_\-]lr$|learning[_-]?rate", re.I)
NOT_LR = re.compile(r"momentum|beta|weight[_-]?decay", re.I)
NOT_CURVES = re.compile(r"(^|[/_])(grad_?norm|time|data_time|memory|epoch|step)$", re.I)


def infer_mode(key: str) -> str:
    """`min` for losses and errors, `max` for scores."""
    return "min" if LOSS_WORDS.search(key) else "max"


def auto_loss(keys: list[str], words: re.Pattern[str]) -> str | None:
    losses = [k for k in keys if "loss" in k.lower() and words.search(k)]
    if words is TRAIN_WORDS and not losses:
        losses = [k for k in keys if k.lower() == "loss"]
    # Epoch-level over step-level names, a sum over its parts, then the shortest name.
    ranked = sorted(losses, key=lambda k: (k.endswith("_step"), not k.endswith("_epoch"), len(k)))
    return ranked[0] if ranked else None


def auto_monitor(keys: list[str]) -> tuple[str, str] | None:
    scores = [
        k
        for k in keys
        if not LOSS_WORDS.search(k) and not LR_KEY.search(k) and not NOT_CURVES.search(k)
    ]
    val_scores = [k for k in scores if VAL_WORDS.search(k)]
    untagged = [k for k in scores if not TRAIN_WORDS.search(k)]  # `f1` in a foreign log
    for group, where in ((val_scores, ""), (untagged, ", no val prefix")):
        for pattern, why in SCORES:
            matches = [k for k in group if pattern.search(k)]
            if matches:
                return min(matches, key=len), f"auto: {why}{where}"
    val_loss = auto_loss(keys, VAL_WORDS)
    if val_loss:
        return val_loss, "auto: no val score, val loss"
    train = auto_loss(keys, TRAIN_WORDS)
    return (train, "auto: no val series, train loss") if train else None


def auto_lr(keys: list[str]) -> str | None:
    """The first param group's LR (`lr-AdamW`, `lr-AdamW/pg1`, `lr`, `learning_rate`)."""
    lrs = [k for k in keys if LR_KEY.search(k) and not NOT_LR.search(k)]
    return min(lrs, key=lambda k: (len(k), k)) if lrs else None


def assign_roles(
    history: History,
    given: dict[str, str | None],
    mode: str | None,
    hint: tuple[str, str] | None = None,
) -> None:
    """Fill `history.roles`, `history.picked` and `history.mode`."""
    keys, log = list(history.series), history.log or history.source
    for role, key in given.items():
        if key is not None and key not in keys:
            raise DataError(f"{log}: {role}={key!r} is not logged; logged keys: {', '.join(keys)}")
        if key is not None:
            history.roles[role], history.picked[role] = key, "given"
    settings = history.settings
    if given.get("monitor") is None:
        if settings and settings.monitor in keys:
            key, why = (
                str(settings.monitor),
                f"config {settings.keys.get('monitor', 'task.monitor')}",
            )
        elif hint is not None and hint[0] in keys:
            key, why = hint
        else:
            found = auto_monitor(keys)
            if found is None:
                raise DataError(f"{log}: no metric to monitor; logged keys: {', '.join(keys)}")
            key, why = found
        history.roles["monitor"], history.picked["monitor"] = key, f"{key} ({why})"
    auto = {
        "train_loss": (auto_loss(keys, TRAIN_WORDS), "train loss name"),
        "val_loss": (auto_loss(keys, VAL_WORDS), "val loss name"),
        "lr": (auto_lr(keys), "LR name"),
    }
    for role, (key, what) in auto.items():
        if given.get(role) is None:
            history.roles[role] = key
            history.picked[role] = f"{key} (auto: {what})" if key else f"none (auto: no {what})"
    if mode is not None:
        if mode not in ("min", "max"):
            raise DataError(f"{log}: mode={mode!r} is invalid; expected 'min' or 'max'")
        history.mode = mode
    elif settings and settings.monitor_mode and settings.monitor == history.monitor:
        history.mode = settings.monitor_mode
    else:
        history.mode = infer_mode(history.monitor)
