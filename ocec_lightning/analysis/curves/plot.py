"""`analysis.png`: the four curves a post-mortem reads, with phases and the best epoch.

Panels: the monitored metric (with its train counterpart when logged and the last-N
mean), the train / val losses, the train–val gap in % of the validation value, and the
LR (with its share of the peak at the best epoch). Every panel shades the phases of
`curves.split_phases` and marks the best epoch. Drawn on matplotlib's Agg canvas without
pyplot, so it works headless and leaves no global figure state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ocec_lightning.analysis.curves.analysis import CurveAnalysis, train_counterpart
from ocec_lightning.analysis.curves.text import colon, label

PHASE_COLORS = {"early": "#dbe9f6", "mid": "#e2f0dc", "late": "#fcf0cc", "overfitting": "#f9d9d6"}
TRAIN, VAL, ACCENT = "#7f8c99", "#1f5fa8", "#c0392b"


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(y)
    return x[keep], y[keep]


def _frame(ax: Axes, a: CurveAnalysis, title: str, lang: str, legend: bool = False) -> None:
    for phase in a.phases:
        ax.axvspan(phase.first - 0.5, phase.last + 0.5, color=PHASE_COLORS[phase.name], lw=0)
    if a.best_epoch is not None:
        ax.axvline(a.best_epoch, color=ACCENT, ls="--", lw=1.0)
    if a.divergence is not None:
        diverged = label("plot_diverged", lang, epoch=a.divergence.epoch) if legend else None
        ax.axvline(a.divergence.epoch, color="#222222", ls=":", lw=1.4, label=diverged)
    ax.set_title(title, fontsize=11, loc="left")
    ax.grid(True, color="#e5e5e5", lw=0.6)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if len(a.epochs):
        ax.set_xlim(a.epochs[0] - 0.5, a.epochs[-1] + 0.5)


def _empty(ax: Axes, lang: str) -> None:
    ax.text(
        0.5,
        0.5,
        label("plot_not_logged", lang),
        transform=ax.transAxes,
        ha="center",
        va="center",
        color="#999999",
        fontsize=10,
    )


def _metric(ax: Axes, a: CurveAnalysis, lang: str) -> None:
    _frame(ax, a, label("plot_metric", lang) + colon(lang) + a.monitor, lang, legend=True)
    x = a.epochs
    train_key = train_counterpart(a.history, a.monitor)
    if train_key is not None:
        tx, ty = _finite(x, a.history.series[train_key])
        ax.plot(tx, ty, color=TRAIN, lw=1.0, label=f"{label('plot_train', lang)} ({train_key})")
    mx, my = _finite(x, a.metric)
    ax.plot(
        mx,
        my,
        color=VAL,
        lw=1.4,
        marker="o" if len(mx) < 30 else None,
        ms=3,
        label=f"{label('plot_val', lang)} ({a.monitor})",
    )
    if a.best_epoch is not None and a.best_value is not None:
        ax.plot(
            [a.best_epoch],
            [a.best_value],
            marker="*",
            ms=13,
            color=ACCENT,
            zorder=5,
            label=label("plot_best", lang, epoch=a.best_epoch),
        )
    if a.last_n_mean is not None and a.n_valid >= 2:
        start = mx[-min(a.last_n, len(mx))]
        ax.hlines(
            a.last_n_mean,
            start,
            mx[-1],
            colors="#333333",
            linestyles=":",
            lw=1.4,
            label=label("plot_last_n", lang, n=min(a.last_n, len(mx))),
        )
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color=PHASE_COLORS[p.name], label=label(p.name, lang)) for p in a.phases]
    ax.legend(handles=handles, fontsize=7.5, loc="best", framealpha=0.9, ncol=2)


def _losses(ax: Axes, a: CurveAnalysis, lang: str) -> None:
    _frame(ax, a, label("plot_losses", lang), lang)
    drawn, keys = False, []
    for role, color, width in (("train_loss", TRAIN, 1.0), ("val_loss", VAL, 1.4)):
        key = a.history.roles.get(role)
        if key is None:
            continue
        keys.append(key)
        x, y = _finite(a.epochs, a.history.series[key])
        if len(y):
            ax.plot(
                x, y, color=color, lw=width, label=key, marker="o" if len(x) < 30 else None, ms=3
            )
            drawn = True
    values = np.concatenate([a.history.series[k] for k in keys]) if keys else np.array([])
    values = values[np.isfinite(values)]
    if values.size and values.min() > 0 and values.max() > 50 * values.min():
        ax.set_yscale("log")  # a diverging loss would flatten the rest of the curve
    if drawn:
        ax.legend(fontsize=7.5, loc="best", framealpha=0.9)
    else:
        _empty(ax, lang)


def _gap(ax: Axes, a: CurveAnalysis, lang: str) -> None:
    _frame(ax, a, label("plot_gap", lang), lang)
    if a.gap_pct is None or not np.isfinite(a.gap_pct).any():
        _empty(ax, lang)
        return
    x, y = _finite(a.epochs, a.gap_pct)
    ax.axhline(0, color="#555555", lw=0.8)
    ax.plot(x, y, color=VAL, lw=1.2, marker="o" if len(x) < 30 else None, ms=3, label=a.gap_label)
    for phase in a.phases:
        if phase.gap_pct is not None:
            ax.hlines(
                phase.gap_pct,
                phase.first - 0.5,
                phase.last + 0.5,
                colors="#333333",
                linestyles=":",
                lw=1.2,
            )
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0f}%")
    ax.legend(fontsize=7.5, loc="best", framealpha=0.9)


def _lr(ax: Axes, a: CurveAnalysis, lang: str) -> None:
    _frame(ax, a, label("plot_lr", lang), lang)
    lr = a.lr
    if lr is None:
        _empty(ax, lang)
        return
    x, y = _finite(a.epochs, a.history.series[lr.key])
    ax.plot(x, y, color=VAL, lw=1.4, label=lr.key)
    ax.set_ylim(0, lr.peak * 1.12)
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    if lr.at_best is not None and a.best_epoch is not None:
        ax.plot([a.best_epoch], [lr.at_best], marker="o", color=ACCENT, ms=6, zorder=5)
        ax.annotate(
            label("plot_lr_note", lang, pct=lr.at_best_pct),
            (a.best_epoch, lr.at_best),
            xytext=(-8, -16),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            color=ACCENT,
        )
    s = a.schedule
    if s is not None and s.planned_epochs and s.planned_epochs > len(a.epochs):
        ax.text(
            0.98,
            0.96,
            label("plot_planned", lang, epoch=s.planned_epochs),
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=8,
            color="#555555",
        )
    ax.legend(fontsize=7.5, loc="best", framealpha=0.9)


def plot_curves(
    a: CurveAnalysis, path: str | Path, lang: str = "en", font: str | None = None
) -> Path:
    """Draw the four panels into `path` (PNG); `font` = a CJK family for Chinese labels."""
    params = {"axes.unicode_minus": font is None}
    if font is not None:
        params.update({"font.family": "sans-serif", "font.sans-serif": [font, "DejaVu Sans"]})
    with rc_context(params):
        fig = Figure(figsize=(13, 8.5), dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(2, 2, sharex=True)
        _metric(axes[0, 0], a, lang)
        _losses(axes[0, 1], a, lang)
        _gap(axes[1, 0], a, lang)
        _lr(axes[1, 1], a, lang)
        for ax in axes[1]:
            ax.set_xlabel(label("plot_epoch", lang), fontsize=9)
        if a.best_epoch is not None:
            best = f"{a.best_value:.4f}" if a.best_value is not None else "–"
            title = label("plot_title", lang, monitor=a.monitor, best=best, epoch=a.best_epoch)
        else:
            title = a.monitor
        fig.suptitle(f"{title}   ·   {Path(str(a.history.source)).name}", fontsize=12)
        out = Path(path)
        fig.savefig(out)
    return out
