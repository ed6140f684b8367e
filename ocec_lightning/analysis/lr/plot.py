"""Rendering of `ocec-analyze lr`: the terminal report (sparklines, % table) and the PNGs.

The plot shows the LR of every optimizer step against the (fractional, zero-based) epoch,
one line per plan, dotted verticals at the table's epochs, and under it the table of the
LR at those epochs as % of each plan's optimizer LR. The LR-finder report prints the
suggested override with its confidence and the check's table; its plot shows the loss of
every batch, our smoothed curve and Lightning's EMA curve against the LR, with the search
region shaded and the suggestion, the minimum and the recipe's LR marked. Figures are
drawn with the Agg canvas (no pyplot state), like the callbacks' plots.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from ocec_lightning.analysis.lr.preview import CheckRun, Plan, RangeTest

BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 50
LABEL_WIDTH = 60  # characters per line of a plan label in the legend
CELL_WIDTH = 44  # ... and in the table's plan column
NOTE_WIDTH = 170


def sparkline(values: np.ndarray, top: float, width: int = SPARK_WIDTH) -> str:
    """`values` averaged into `width` cells, each a block from ▁ (0) to █ (`top`)."""
    if len(values) == 0 or top <= 0:
        return ""
    cells = [chunk.mean() for chunk in np.array_split(values, min(width, len(values)))]
    levels = [int(round(v / top * (len(BLOCKS) - 1))) for v in cells]
    return "".join(BLOCKS[max(0, min(len(BLOCKS) - 1, k))] for k in levels)


def percent_cell(plan: Plan, epoch: int) -> str:
    value = plan.percent_at(epoch)
    if value is None:
        return "—"
    return f"{value:.1f}%" if value >= 0.05 or value == 0 else f"{value:.2g}%"


def print_report(plans: Sequence[Plan], epochs: Sequence[int], console: Console) -> None:
    """A sparkline per plan, then the % table at `epochs` (one row per epoch, one
    column per plan: any number of epochs fits a terminal)."""
    top = max(float(p.step_lrs.max()) for p in plans if len(p.step_lrs))
    plan_width = min(32, max(len(p.label) for p in plans))
    width = max(16, min(SPARK_WIDTH, console.width - plan_width - 7))
    overview = Table(title=f"LR per optimizer step, epoch 0 → end (one scale: █ = {top:.3g})")
    overview.add_column("plan", overflow="fold", min_width=plan_width, max_width=32)
    overview.add_column("LR")
    for plan in plans:
        warmup = f"warmup {plan.warmup_epochs:g} ep" if plan.warmup_steps else "no warmup"
        details = (
            f"[dim]{plan.scheduler}, lr {plan.base_lr:.3g}, {warmup}, "
            f"{plan.steps_per_epoch} steps × {plan.epochs} ep[/]"
        )
        overview.add_row(plan.label, f"{sparkline(plan.step_lrs, top, width)}\n{details}")
    console.print(overview)
    table = Table(title="LR at the first step of the epoch, % of the optimizer LR")
    table.add_column("epoch", justify="right")
    for plan in plans:
        table.add_column(plan.label, justify="right", overflow="fold")
    for epoch in epochs:
        table.add_row(str(epoch), *(percent_cell(plan, epoch) for plan in plans))
    console.print(table)
    for line in footnotes(plans):
        console.print(line, highlight=False, soft_wrap=True)


def footnotes(plans: Sequence[Plan]) -> list[str]:
    """Where the steps per epoch came from, and each plan's notes (plateau simulation)."""
    sources = {p.steps_source for p in plans}
    if len(sources) == 1:
        lines = [f"steps per epoch: {sources.pop()}"]
    else:
        lines = [f"{p.label}: steps per epoch {p.steps_source}" for p in plans]
    return lines + [f"{p.label}: {note}" for p in plans for note in p.notes]


def save_plot(plans: Sequence[Plan], epochs: Sequence[int], out: Path, log: bool = False) -> Path:
    """LR vs epoch for every plan with the % table underneath; returns `out`."""
    notes = [part for line in footnotes(plans) for part in textwrap.wrap(line, NOTE_WIDTH)]
    labels = [textwrap.fill(p.label, LABEL_WIDTH) for p in plans]
    table_h = 0.3 * (1 + sum(len(textwrap.wrap(p.label, CELL_WIDTH)) for p in plans))
    legend_h = 0.3 + 0.2 * sum(1 + label.count("\n") for label in labels)
    fig = Figure(figsize=(12, 4.6 + legend_h + table_h + 0.15 * len(notes)), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, 1, height_ratios=[4.2 + legend_h, table_h])
    ax = fig.add_subplot(grid[0])
    colors = [f"C{i % 10}" for i in range(len(plans))]
    for plan, label, color in zip(plans, labels, colors, strict=True):
        label = f"{label}  ({plan.scheduler}, lr {plan.base_lr:.3g})"
        ax.plot(plan.step_epochs, plan.step_lrs, color=color, lw=1.6, label=label)
        if plan.warmup_steps:
            ax.plot(plan.warmup_epochs, plan.base_lr, "o", color=color, ms=4)
    for epoch in epochs:
        ax.axvline(epoch, color="0.6", ls=":", lw=0.9)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, 1.05 * max(float(p.step_lrs.max()) for p in plans))
    ax.set_xlabel("epoch (zero-based; one point per optimizer step; dotted: the table's epochs)")
    ax.set_ylabel("learning rate" + (" (log scale)" if log else ""))
    ax.set_xlim(0, max(p.epochs for p in plans))
    ax.grid(alpha=0.3, which="major")
    ax.legend(  # above the axes: never over the curves
        loc="lower left",
        bbox_to_anchor=(0.0, 1.01),
        ncol=2 if len(plans) > 1 and max(len(x) for x in labels) <= LABEL_WIDTH // 2 else 1,
        fontsize=9,
        title="plan (● end of warmup)",
        title_fontsize=9,
        alignment="left",
        frameon=False,
    )
    fig.suptitle("Learning rate per optimizer step: warmup + scheduler as the trainer runs it")
    tab = fig.add_subplot(grid[1])
    tab.axis("off")
    first = 0.32  # width share of the plan column
    table = tab.table(
        cellText=[
            [label, *(percent_cell(p, e) for e in epochs)]
            for p, label in zip(plans, labels, strict=True)
        ],
        colLabels=["plan", *(f"epoch {e}" for e in epochs)],
        colWidths=[first, *[(1 - first) / max(1, len(epochs))] * len(epochs)],
        cellLoc="center",
        bbox=(0.0, 0.0, 1.0, 1.0),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    for row, color in enumerate(colors, start=1):
        table[row, 0].set_facecolor((*to_rgb(color), 0.25))
        table[row, 0].get_text().set_horizontalalignment("left")
    tab.set_title("LR at the first step of each epoch, % of the plan's optimizer LR", fontsize=10)
    if notes:
        fig.text(0.01, 0.005, "\n".join(notes), fontsize=8, va="bottom", ha="left", color="0.3")
        bottom = (0.08 + 0.15 * len(notes)) / fig.get_figheight()  # inches -> figure fraction
        fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom))  # (left, bottom, w, h)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def print_find(test: RangeTest, console: Console) -> None:
    """The range test's reading: suggested override, confidence and why, search region."""
    sug, lrs = test.suggestion, test.lrs
    ended = f" (stopped early at LR {lrs[-1]:.2g}: the loss diverged)" if test.stopped_early else ""
    span = f", LR {lrs[0]:.2g} → {lrs[-1]:.2g}" if len(lrs) else ""
    console.print(
        f"LR finder: {test.steps} of {test.requested_steps} steps{span}{ended}",
        highlight=False,
        soft_wrap=True,
    )
    if sug.lr is None:
        console.print(f"no suggestion: {'; '.join(sug.reasons)}", highlight=False)
        return
    console.print(
        f"suggested: [bold]optimizer.lr={test.override(sug.lr):.2g}[/]  ({sug.rule})",
        highlight=False,
    )
    color = {"high": "green", "medium": "yellow", "low": "red"}[sug.confidence]
    console.print(
        f"confidence: [bold {color}]{sug.confidence}[/] — {'; '.join(sug.reasons)}",
        highlight=False,
        soft_wrap=True,
    )
    if sug.region is not None:
        console.print(
            f"search region: LR {sug.region[0]:.2g} (the descent starts) → "
            f"{sug.region[1]:.2g} (minimum loss)",
            highlight=False,
        )
    console.print(
        f"LR at the minimum loss: {sug.lr_at_min:.2g} (smoothed loss {sug.loss_at_min:.3g}, "
        f"{sug.initial_loss:.3g} at the start); recipe: optimizer.lr={test.recipe_lr:.2g}",
        highlight=False,
        soft_wrap=True,
    )
    if test.lr_scale != 1:
        console.print(
            f"LRs above are the optimizer's: optimizer.lr × {test.lr_scale:.3g} "
            "(optimizer.base_batch_size scaling)",
            highlight=False,
        )
    if test.lightning_suggestion is not None:
        console.print(
            f"[dim]Lightning's suggestion {test.lightning_suggestion:.2g}: steepest d loss / d lr "
            "(linear in LR) on its lagged EMA curve; not used[/]",
            highlight=False,
            soft_wrap=True,
        )


def print_check(
    runs: Sequence[CheckRun], test: RangeTest, decision: str, why: str, console: Console
) -> None:
    """The check's runs side by side, then whether to keep the recipe's LR or switch."""

    def value(v: float | None) -> str:
        return "—" if v is None else f"{v:.4f}"

    better = "higher" if test.monitor_mode == "max" else "lower"
    epochs = max(r.epochs for r in runs)
    table = Table(title=f"check: {test.monitor} after {epochs} epoch(s) ({better} is better)")
    for name in ("run", "optimizer.lr", "status", "last", "best", "@ epoch", "time"):
        table.add_column(name, justify="left" if name in ("run", "status") else "right")
    for r in runs:
        table.add_row(
            r.name,
            f"{r.lr:.2g}",
            r.status,
            value(r.last),
            value(r.best),
            "—" if r.best_epoch is None else str(r.best_epoch),
            f"{r.seconds:.0f} s",
        )
    console.print(table)
    chosen = runs[-1] if decision == "switch" else runs[0]
    verb = "switch to" if decision == "switch" else "keep"
    console.print(
        f"verdict: [bold]{verb} optimizer.lr={chosen.lr:.2g}[/] — {why}",
        highlight=False,
        soft_wrap=True,
    )


def save_find_plot(test: RangeTest, out: Path) -> Path:
    """Loss vs LR (log x): per-batch losses, our smoothed curve, Lightning's EMA curve, the
    search region shaded, the suggestion, the minimum and the recipe's LR marked."""
    sug = test.suggestion
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    scale = test.lr_scale
    ax.plot(test.lrs, test.losses, ".", color="0.6", ms=3, label="loss of each batch")
    ax.plot(
        test.lrs,
        test.lightning_losses,
        color="0.45",
        lw=1,
        ls="--",
        label="Lightning's EMA curve (lags the LR)",
    )
    ax.plot(sug.lrs, sug.smoothed, color="C0", lw=2, label="smoothed (centred median + mean)")
    if test.lightning_suggestion is not None:
        at = float(np.interp(test.lightning_suggestion, test.lrs, test.lightning_losses))
        label = f"Lightning's suggestion {test.lightning_suggestion:.2g} (not used)"
        ax.plot(test.lightning_suggestion, at, "x", color="0.3", ms=8, mew=2, label=label)
    if sug.region is not None:
        ax.axvspan(*sug.region, color="C2", alpha=0.12, label="search region (the loss falls)")
    if sug.lr_at_min is not None:
        ax.plot(sug.lr_at_min, sug.loss_at_min, "v", color="C1", ms=8, label="minimum loss")
    ax.axvline(test.recipe_lr * scale, color="k", ls=":", lw=1.2, label="the recipe's LR")
    if sug.lr is not None:
        at = float(np.interp(np.log10(sug.lr), np.log10(sug.lrs), sug.smoothed))
        label = f"suggestion {test.override(sug.lr):.2g} ({sug.confidence} confidence)"
        ax.axvline(sug.lr, color="C3", lw=1.2)
        ax.plot(sug.lr, at, "o", color="C3", ms=8, label=label)
    finite = sug.smoothed[np.isfinite(sug.smoothed)]
    if len(finite) and sug.initial_loss is not None:  # the blow-up must not flatten the rest
        low, high = float(finite.min()), max(sug.initial_loss, float(np.median(finite)))
        pad = 0.25 * (high - low) or 0.1 * abs(high) or 1.0
        ax.set_ylim(low - pad, high + 2 * pad)
    ax.set_xscale("log")
    found = (
        f"suggested optimizer.lr={test.override(sug.lr):.2g}, {sug.confidence} confidence"
        if sug.lr is not None
        else "no suggestion"
    )
    stop = ", stopped early: diverged" if test.stopped_early else ""
    ax.set_title(
        f"LR range test ({test.steps} of {test.requested_steps} steps{stop}): {found}\n"
        + textwrap.fill(test.label, 100),
        fontsize=10,
    )
    ax.set_xlabel("learning rate of the optimizer (log scale)")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out
