"""Per-epoch diagnostics plots of the classification task's validation set.

After every validation epoch (not the sanity check) the callback draws, on rank zero, four
PNGs from the epoch's validation probabilities and labels (`ClassificationTask.val_scores`,
read in `on_validation_epoch_end`, before the task resets its metrics; no extra forward):

- `confusion_matrix.png`: counts and row-normalised % at the tuned threshold and at 0.5;
- `roc_curve.png`: ROC with AUROC and both operating points;
- `pr_curve.png`: precision-recall with AP, the positive rate and both operating points;
- `f1_threshold.png`: F1 (and precision, recall) against the threshold, best F1 marked.

They are drawn in `on_validation_end`, after the task has tuned `threshold` for this epoch,
into `<run dir>/plots/latest/` (overwritten every epoch) and copied to `plots/best/` when
the monitored metric improves (`monitor`/`mode`; default: the checkpoint callback's) and to
`plots/epoch_###/` every `every_n_epochs` epochs (0: never). The numbers drawn come from
`curve_data`, torchmetrics' functional metrics on the same tensors; counts at a threshold
`t` follow torchmetrics' rule (open when P(open) > t), as do the task's tuned test metrics.
"""

from __future__ import annotations

import math
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor
from torchmetrics.functional.classification import (
    binary_auroc,
    binary_average_precision,
    binary_confusion_matrix,
    binary_precision_recall_curve,
    binary_roc,
)

from ocec_lightning.checks import int_at_least, one_of
from ocec_lightning.errors import ConfigError

FILE_NAMES = ("confusion_matrix.png", "roc_curve.png", "pr_curve.png", "f1_threshold.png")
DPI = 110
TUNED_COLOUR = "tab:red"
HALF_COLOUR = "tab:gray"


@dataclass
class CurveData:
    """Everything the four plots draw, as numpy arrays and floats.

    `confusion` maps a threshold to its 2x2 counts (rows true closed/open, columns
    predicted closed/open); `auroc`/`ap` are None when the labels hold one class only.
    """

    num_samples: int
    num_positive: int
    threshold: float  # the task's tuned threshold
    roc_fpr: np.ndarray
    roc_tpr: np.ndarray
    auroc: float | None
    precision: np.ndarray  # PR curve, len(thresholds) + 1 points (last: P=1, R=0)
    recall: np.ndarray
    ap: float | None
    thresholds: np.ndarray  # ascending; F1 / precision / recall at each (P(open) >= t)
    f1: np.ndarray
    best_threshold: float
    best_f1: float
    confusion: dict[float, np.ndarray]

    def rates(self, threshold: float) -> dict[str, float]:
        """Accuracy, precision, recall (TPR), FPR and F1 from the counts at `threshold`."""
        (tn, fp), (fn, tp) = self.confusion[threshold].tolist()
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        return {
            "acc": (tp + tn) / max(tn + fp + fn + tp, 1),
            "precision": precision,
            "recall": recall,
            "fpr": fp / (fp + tn) if fp + tn else 0.0,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        }


def curve_data(probs: Tensor, labels: Tensor, threshold: float) -> CurveData:
    """The plotted data of one epoch: P(open) `probs` [N], 0/1 `labels` [N] and the tuned
    decision `threshold`; F1 and its best threshold as `tasks.classification` computes them."""
    probs = probs.detach().float().flatten().cpu()
    labels = labels.detach().long().flatten().cpu()
    if probs.numel() == 0 or probs.shape != labels.shape:
        raise ValueError(f"need matching, non-empty probs/labels, got {probs.shape}/{labels.shape}")
    num_positive = int(labels.sum())
    both = 0 < num_positive < labels.numel()
    with warnings.catch_warnings():  # one class only: torchmetrics warns, we report n/a
        warnings.simplefilter("ignore", UserWarning)
        fpr, tpr, _ = binary_roc(probs, labels)
        precision, recall, thresholds = binary_precision_recall_curve(probs, labels)
        auroc = float(binary_auroc(probs, labels)) if both else None
        ap = float(binary_average_precision(probs, labels)) if num_positive else None
    p, r = precision[:-1], recall[:-1]
    f1 = 2 * p * r / (p + r).clamp_min(1e-12)
    best = int(torch.argmax(f1))
    confusion = {
        t: binary_confusion_matrix(probs, labels, threshold=t).numpy() for t in (threshold, 0.5)
    }
    return CurveData(
        num_samples=int(labels.numel()),
        num_positive=num_positive,
        threshold=float(threshold),
        roc_fpr=fpr.numpy(),
        roc_tpr=tpr.numpy(),
        auroc=auroc,
        precision=precision.numpy(),
        recall=recall.numpy(),
        ap=ap,
        thresholds=thresholds.numpy(),
        f1=f1.numpy(),
        best_threshold=float(thresholds[best]),
        best_f1=float(f1[best]),
        confusion=confusion,
    )


# -- drawing -----------------------------------------------------------------------------
def _figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas: no pyplot, no GUI backend, nothing to leak
    return fig, fig.subplots(1, ncols)


def _fmt(value: float | None) -> str:
    return "n/a (one class)" if value is None else f"{value:.4f}"


def _thresholds(data: CurveData) -> list[tuple[float, str, str]]:
    """(threshold, legend label, colour) of the operating points to mark."""
    points = [(data.threshold, f"tuned t={data.threshold:.3f}", TUNED_COLOUR)]
    if not math.isclose(data.threshold, 0.5):
        points.append((0.5, "t=0.5", HALF_COLOUR))
    return points


def plot_confusion(data: CurveData, class_names: Sequence[str], title: str) -> Figure:
    """Counts and row-normalised % at the tuned threshold and at 0.5, side by side."""
    points = _thresholds(data)
    fig, axes = _figure(5.0 * len(points) + 0.6, 4.6, ncols=len(points))
    axes = np.atleast_1d(axes)
    image = None
    for ax, (t, label, _) in zip(axes, points, strict=True):
        counts = data.confusion[t]
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
        for i in range(2):
            for j in range(2):
                colour = "white" if share[i, j] > 0.6 else "black"
                text = f"{int(counts[i, j])}\n{100 * share[i, j]:.1f}%"
                ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=12)
        rates = data.rates(t)
        ax.set_title(
            f"{label}\nacc {rates['acc']:.3f}  P {rates['precision']:.3f}  "
            f"R {rates['recall']:.3f}  F1 {rates['f1']:.3f}",
            fontsize=10,
        )
        ax.set_xticks([0, 1], [f"{c}" for c in class_names[:2]])
        ax.set_yticks([0, 1], [f"{c}" for c in class_names[:2]])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="share of the true class")
    fig.suptitle(f"Confusion matrix: {title}\npredicted open when P(open) > t")
    return fig


def _mark_operating_points(ax: Any, data: CurveData, x: str, y: str, fmt: str) -> None:
    """A dot per operating point (tuned threshold, 0.5) at its (x, y) rates."""
    for t, label, colour in _thresholds(data):
        rates = data.rates(t)
        text = fmt.format(x=rates[x], y=rates[y])
        ax.plot(rates[x], rates[y], "o", ms=8, color=colour, zorder=3, label=f"{label}: {text}")


def _finish_unit_square(ax: Any, xlabel: str, ylabel: str, title: str, legend: str) -> None:
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc=legend)


def plot_roc(data: CurveData, title: str) -> Figure:
    """The ROC curve, the chance diagonal and the operating points."""
    fig, ax = _figure(5.6, 5.2)
    ax.plot(data.roc_fpr, data.roc_tpr, lw=2, label=f"ROC (AUROC {_fmt(data.auroc)})")
    ax.plot([0, 1], [0, 1], ls="--", lw=1, color="0.6", label="chance")
    _mark_operating_points(ax, data, "fpr", "recall", "FPR {x:.3f}, TPR {y:.3f}")
    _finish_unit_square(
        ax,
        "false positive rate (closed predicted open)",
        "true positive rate (recall of open)",
        f"ROC: {title}\nAUROC {_fmt(data.auroc)}",
        "lower right",
    )
    return fig


def plot_pr(data: CurveData, title: str) -> Figure:
    """Precision against recall, the positive rate (a random classifier) and the
    operating points."""
    fig, ax = _figure(5.6, 5.2)
    ax.plot(data.recall, data.precision, lw=2, label=f"PR (AP {_fmt(data.ap)})")
    rate = data.num_positive / data.num_samples
    ax.axhline(rate, ls="--", lw=1, color="0.6", label=f"positive rate {rate:.3f}")
    _mark_operating_points(ax, data, "recall", "precision", "P {y:.3f}, R {x:.3f}")
    _finish_unit_square(
        ax,
        "recall (open)",
        "precision (open)",
        f"Precision-recall: {title}\nAP {_fmt(data.ap)}",
        "lower left",
    )
    return fig


def plot_f1_threshold(data: CurveData, title: str) -> Figure:
    """F1, precision and recall against the threshold, the best F1 marked."""
    fig, ax = _figure(6.4, 4.6)
    t = data.thresholds
    ax.plot(t, data.precision[:-1], lw=1, color="tab:blue", alpha=0.7, label="precision")
    ax.plot(t, data.recall[:-1], lw=1, color="tab:green", alpha=0.7, label="recall")
    ax.plot(t, data.f1, lw=2.2, color="tab:orange", label="F1")
    best = f"best F1 {data.best_f1:.4f} at t={data.best_threshold:.3f}"
    ax.axvline(data.best_threshold, ls="--", lw=1, color=TUNED_COLOUR)
    ax.plot(data.best_threshold, data.best_f1, "o", ms=8, color=TUNED_COLOUR, label=best)
    if not math.isclose(data.threshold, data.best_threshold):  # tuned on another epoch
        tuned = f"tuned t={data.threshold:.3f}: F1 {data.rates(data.threshold)['f1']:.4f}"
        ax.axvline(data.threshold, ls="-.", lw=1, color="tab:purple", label=tuned)
    ax.axvline(0.5, ls=":", lw=1, color=HALF_COLOUR, label=f"t=0.5: F1 {data.rates(0.5)['f1']:.4f}")
    ax.set(xlim=(0, 1), ylim=(-0.01, 1.01))
    ax.set_xlabel("threshold on P(open)")
    low, high = float(t.min()), float(t.max())
    if high - low < 0.5:  # scores in a narrow band (early epochs): zoom in on it
        pad = max(0.05 * (high - low), 1e-3)
        ax.set_xlim(max(low - pad, 0.0), min(high + pad, 1.0))
        ax.set_xlabel("threshold on P(open), zoomed to the range of the scores")
    ax.set_ylabel("score")
    ax.set_title(f"F1 vs threshold: {title}\n{best}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=9)
    return fig


def write_plots(
    data: CurveData, out_dir: Path, class_names: Sequence[str], title: str
) -> list[Path]:
    """Draw the four figures into `out_dir` (FILE_NAMES) and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = (
        plot_confusion(data, class_names, title),
        plot_roc(data, title),
        plot_pr(data, title),
        plot_f1_threshold(data, title),
    )
    paths = []
    for name, fig in zip(FILE_NAMES, figures, strict=True):
        fig.savefig(out_dir / name)
        fig.clear()  # Figure objects outside pyplot: nothing registered, freed with fig
        paths.append(out_dir / name)
    return paths


# -- the callback ------------------------------------------------------------------------
class ClassificationPlots(Callback):
    """Confusion matrix, ROC, PR and F1-vs-threshold PNGs of every validation epoch."""

    def __init__(
        self,
        monitor: str | None = None,
        mode: str | None = None,
        every_n_epochs: int = 0,
        dirname: str = "plots",
    ) -> None:
        """`monitor`/`mode`: the metric that picks `plots/best` (None: the checkpoint
        callback's); `every_n_epochs`: also keep `plots/epoch_###` every n epochs (0: never)."""
        self.monitor = monitor
        self.mode = None if mode is None else one_of("mode", mode, ("min", "max"))
        self.every_n_epochs = int_at_least("every_n_epochs", every_n_epochs, 0)
        self.dirname = dirname
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.written: list[Path] = []
        self._scores: tuple[Tensor, Tensor] | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not callable(getattr(pl_module, "val_scores", None)):
            raise ConfigError(
                "callbacks.classification_plots",
                type(pl_module).__name__,
                "a task with val_scores() (task=classification), or null to drop it",
            )

    def _monitor(self, trainer: pl.Trainer) -> tuple[str | None, str]:
        checkpoint = trainer.checkpoint_callback
        if self.monitor is None and isinstance(checkpoint, ModelCheckpoint):
            return checkpoint.monitor, self.mode or checkpoint.mode
        return self.monitor, self.mode or "max"

    def _improved(self, trainer: pl.Trainer) -> bool:
        monitor, mode = self._monitor(trainer)
        value = trainer.callback_metrics.get(monitor) if monitor else None
        if value is None or not math.isfinite(score := float(value)):
            return False
        if self.best_score is not None:
            better = score > self.best_score if mode == "max" else score < self.best_score
            if not better:
                return False
        self.best_score = score
        self.best_epoch = trainer.current_epoch
        return True

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        scores = pl_module.val_scores()  # every rank: gathers across processes
        self._scores = scores if trainer.is_global_zero and len(scores[0]) else None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # After the task's epoch end: its threshold is tuned and the monitor is logged.
        if trainer.sanity_checking or self._scores is None:
            return
        probs, labels = self._scores
        self._scores = None
        epoch = trainer.current_epoch
        data = curve_data(probs, labels, float(getattr(pl_module, "threshold", 0.5)))
        closed_open = getattr(pl_module.hparams, "class_names", None) or ("closed", "open")
        title = f"validation, epoch {epoch} (n={data.num_samples}, {data.num_positive} open)"
        root = Path(trainer.default_root_dir or ".") / self.dirname
        latest = write_plots(data, root / "latest", list(closed_open), title)
        self.written.extend(latest)
        targets = []
        if self._improved(trainer):
            targets.append(root / "best")
        if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
            targets.append(root / f"epoch_{epoch:03d}")
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
            for path in latest:
                shutil.copyfile(path, target / path.name)
                self.written.append(target / path.name)

    def state_dict(self) -> dict[str, Any]:
        # A resumed run keeps its best plots unless the monitor really improves.
        return {"best_score": self.best_score, "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = state_dict.get("best_score")
        self.best_epoch = state_dict.get("best_epoch")
