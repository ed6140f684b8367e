"""Write the curve analysis as `analysis.md` (English or Chinese) and `analysis.png`.

The markdown follows the MicroSegFormer post-mortem (best 0.6889 at epoch 92 of 112):
key numbers, the phase table, the late-phase fluctuation, the ranked diagnoses with
their evidence and runnable overrides, and how the numbers were computed. The figure has
four panels (monitored metric, losses, train–val gap, LR) with the phases shaded and the
best epoch marked, drawn with matplotlib's Agg canvas (no pyplot state, no display).
Chinese labels are used in the figure only when matplotlib finds a CJK font; otherwise
the figure falls back to English and the markdown says so in a footnote, so no glyph is
ever drawn as an empty box."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ocec_lightning.analysis.curves.analysis import CurveAnalysis, analyze
from ocec_lightning.analysis.curves.diagnoses import Diagnosis, diagnose
from ocec_lightning.analysis.curves.text import colon, label, paren, schedule_text
from ocec_lightning.analysis.history.model import History
from ocec_lightning.viz.fonts import cjk_font

STEM = "analysis"  # analysis.md + analysis.png; the callback always writes these
MD_FILE, PNG_FILE = f"{STEM}.md", f"{STEM}.png"


@dataclass
class Written:
    markdown: Path
    figure: Path | None
    figure_lang: str  # the language of the figure's labels (en when no CJK font)


def _v(x: float | None, digits: int = 4) -> str:
    """A metric value: fixed decimals below 1000, else 4 significant digits."""
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.{digits}f}" if abs(x) < 1000 else f"{x:.4g}"


def _lr(x: float | None) -> str:
    return "–" if x is None else f"{x:.2e}"


def _evidence(key: str, value: Any) -> str:
    if isinstance(value, (bool, int, np.integer, str)):
        return str(value)
    if key.endswith("_pct"):
        return f"{value:.1f}%"
    if key.startswith("lr"):
        return _lr(value)
    return f"{value:.4g}"


def _key_numbers(a: CurveAnalysis, lang: str) -> list[str]:
    rows: list[tuple[str, str]] = []
    if a.best_epoch is not None:
        at = label("at_epoch", lang, epoch=a.best_epoch, n=len(a.epochs))
        sep = "" if lang == "zh" else " "
        rows.append((label("best", lang), f"**{_v(a.best_value)}**{sep}{at}"))
        final = _v(a.final_value)
        if a.decline_pct:  # None (best = 0) or 0 (the final epoch is the best): nothing to say
            final += paren(label("vs_best", lang, pct=a.decline_pct), lang)
        rows.append((label("final", lang, epoch=a.final_epoch), final))
        if a.after_best_mean is not None:
            after = sum(np.isfinite(a.metric[(a.best_index or 0) + 1 :]))
            count = label("epochs_n", lang, n=after)
            rows.append((label("after_best", lang), _v(a.after_best_mean) + paren(count, lang)))
        k = min(a.last_n, a.n_valid)
        last = f"{_v(a.last_n_mean)} ± {_v(a.last_n_std)}"
        if a.last_n_gap_pct:
            last += paren(label("vs_best", lang, pct=a.last_n_gap_pct), lang)
        rows.append((label("last_n", lang, n=k), last))
    if a.lr is not None:
        peak = _lr(a.lr.peak)
        if a.lr.at_best is not None:
            share = label("of_peak", lang, pct=a.lr.at_best_pct, peak=peak)
            rows.append((label("lr_at_best", lang), f"{_lr(a.lr.at_best)} = {share}"))
        share = label("of_peak", lang, pct=a.lr.final_pct, peak=peak)
        rows.append((label("lr_at_end", lang), f"{_lr(a.lr.final)} = {share}"))
    else:
        rows.append((label("lr_at_best", lang), label("lr_missing", lang)))
    s = a.schedule
    if s is not None and s.name:
        parts = [schedule_text(s, lang) if s.name == "cosine" else f"`{s.name}`"]
        if s.warmup_epochs and s.name != "cosine":
            parts.append(label("warmup", lang, w=s.warmup_epochs))
        if s.max_epochs:
            parts.append(f"max_epochs {s.max_epochs}")
        if s.patience:
            parts.append(label("patience", lang, p=s.patience))
        rows.append((label("schedule", lang), ("；" if lang == "zh" else "; ").join(parts)))
    header = [f"| {label('quantity', lang)} | {label('value', lang)} |", "|---|---|"]
    return header + [f"| {name} | {value} |" for name, value in rows]


def _phase_table(a: CurveAnalysis, lang: str) -> list[str]:
    if a.divergence is not None:
        return [label("diverged_phases", lang, epoch=a.divergence.epoch)]
    if not a.phases:
        return [label("too_short_phases", lang, n=a.n_valid)]
    mean_std = label("mean_std", lang)
    head = [label(k, lang) for k in ("phase", "epochs", "n")]
    head += [f"`{a.monitor}` {mean_std}", label("change", lang)]
    if a.gap is not None:
        head += [label("gap_mean_std", lang), label("gap_pct", lang)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in a.phases:
        cells = [f"**{label(p.name, lang)}**", f"{p.first}–{p.last}", str(p.epochs)]
        cells += [f"{_v(p.metric_mean)} ± {_v(p.metric_std)}", _signed(p.change)]
        if a.gap is not None:
            pct = "–" if p.gap_pct is None else f"{p.gap_pct:+.2f}%"
            cells += [f"{_signed(p.gap_mean)} ± {_v(p.gap_std)}", pct]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _signed(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:+.4f}"


def _fluctuation(a: CurveAnalysis, lang: str) -> list[str]:
    f = a.fluctuation
    if f is None:
        return []
    keys = ("mean", "std", "min", "max", "range", "noise")
    lines = [
        f"## {label('fluctuation', lang)}"
        + paren(label("epochs_range", lang, first=f.first, last=f.last), lang),
        "",
        "| " + " | ".join(label(k, lang) for k in keys) + " |",
        "|" + "---|" * len(keys),
    ]
    at = lambda e: label("epoch_short", lang, epoch=e)  # noqa: E731
    lines.append(
        f"| {_v(f.mean)} | {_v(f.std)} | {_v(f.min)}{paren(at(f.min_epoch), lang)} "
        f"| {_v(f.max)}{paren(at(f.max_epoch), lang)} "
        f"| {_v(f.range)}{paren(label('of_mean', lang, pct=f.range_pct), lang)} | {_v(f.noise)} |"
    )
    return [*lines, "", label("fluct_rule", lang), ""]


def _diagnoses(found: list[Diagnosis], lang: str, settings_file: str | None = None) -> list[str]:
    lines = [f"## {label('diagnoses', lang)}", ""]
    if not found:
        return [*lines, label("no_finding", lang), ""]
    for i, d in enumerate(found, 1):
        lines += [f"### {i}. {d.title} `{label(d.severity, lang)}`", "", d.explanation, ""]
        if d.evidence:
            shown = " · ".join(f"`{k}` = {_evidence(k, v)}" for k, v in d.evidence.items())
            lines += [f"*{label('evidence', lang)}*{colon(lang)}{shown}", ""]
        if d.settings and settings_file:
            shown = " · ".join(f"`{entry}`" for entry in d.settings)
            lines += [
                f"*{label('settings_read', lang, file=settings_file)}*{colon(lang)}{shown}",
                "",
            ]
        if d.overrides:
            lines += [f"*{label('try', lang)}*", "", "```text", *d.overrides, "```", ""]
    return lines


def _method(a: CurveAnalysis, lang: str) -> list[str]:
    h = a.history
    lines = [f"## {label('method', lang)}", "", f"*{label('roles', lang)}*{colon(lang)}", ""]
    for role in ("monitor", "train_loss", "val_loss", "lr"):
        key = h.roles.get(role)
        how = h.picked.get(role, "")
        if key and how.startswith(key):  # the loader may repeat the key: "val/f1 (config ...)"
            how = how[len(key) :].strip().removeprefix("(").removesuffix(")")
        shown = f"`{key}`" + (paren(how, lang) if how else "") if key else label("not_found", lang)
        lines.append(f"- {label('role_' + role, lang)}{colon(lang)}{shown}")
    lines += ["", f"*{label('how', lang)}*{colon(lang)}", "", "- " + label("phase_rule", lang)]
    if a.gap_label is None:
        lines.append("- " + label("gap_none", lang))
    else:
        lines.append("- " + label(f"gap_def_{a.gap_kind}", lang, label=a.gap_label))
    lines.append("- " + label("log_format", lang, format=h.format, log=h.log or h.source))
    if h.numbering == "rows":
        lines.append("- " + label("numbering_rows", lang))
    elif len(a.epochs):
        lines.append("- " + label("numbering_file", lang, first=int(a.epochs[0])))
    lines += ["- " + note for note in h.notes]
    for key, epochs in a.gaps.items():
        shown = ", ".join(map(str, epochs[:8])) + (" …" if len(epochs) > 8 else "")
        lines.append("- " + label("missing_values", lang, key=key, n=len(epochs), epochs=shown))
    if h.settings is not None and h.settings.source:
        lines.append("- " + label("config_source", lang, path=h.settings.source))
        for entry in h.settings.keys.values():
            lines.append(f"  - `{entry}`")
    elif h.settings is None:
        lines.append("- " + label("no_config", lang))
    return [*lines, ""]


def render_markdown(
    a: CurveAnalysis, found: list[Diagnosis], lang: str = "en", figure: Written | None = None
) -> str:
    """The whole `analysis.md` as a string."""
    direction = label("higher" if a.mode == "max" else "lower", lang)
    first, last = (a.epochs[0], a.epochs[-1]) if len(a.epochs) else ("–", "–")
    lines = [
        f"# {label('title', lang)}",
        "",
        f"**{label('run', lang)}**{colon(lang)}`{a.history.source}`  ",
        f"**{label('monitored', lang)}**{colon(lang)}`{a.monitor}`{paren(direction, lang)} · "
        f"**{label('epochs_logged', lang)}**{colon(lang)}{len(a.epochs)}"
        + paren(f"{first}–{last}", lang),
        "",
    ]
    top = found[0].title if found else label("no_finding", lang)
    lines += [f"> **{label('main_finding', lang)}**{colon(lang)}{top}", ""]
    lines += [f"## {label('key_numbers', lang)}", "", *_key_numbers(a, lang), ""]
    lines += [f"## {label('phases', lang)}", "", *_phase_table(a, lang), ""]
    source = a.settings.source if a.settings is not None else None
    settings_file = Path(source).name if source else None
    lines += _fluctuation(a, lang) + _diagnoses(found, lang, settings_file) + _method(a, lang)
    if figure is not None and figure.figure is not None:
        lines += [f"## {label('curves', lang)}", "", f"![analysis]({figure.figure.name})", ""]
        if lang == "zh" and figure.figure_lang != "zh":
            lines += [f"[^font]: {label('font_note', lang)}", ""]
            lines[lines.index(f"![analysis]({figure.figure.name})")] += "[^font]"
    return "\n".join(lines).rstrip() + "\n"


def free_stem(out_dir: str | Path, stem: str = STEM) -> str:
    """`stem` when `out_dir` holds neither `<stem>.md` nor `<stem>.png`, else the first
    free `<stem>-2`, `<stem>-3`, ...: a report written there replaces nothing."""
    out = Path(out_dir)
    taken = lambda s: (out / f"{s}.md").exists() or (out / f"{s}.png").exists()  # noqa: E731
    n, name = 1, stem
    while taken(name):
        n += 1
        name = f"{stem}-{n}"
    return name


def write_report(
    a: CurveAnalysis,
    found: list[Diagnosis],
    out_dir: str | Path,
    lang: str = "en",
    plot: bool = True,
    stem: str = STEM,
) -> Written:
    """Write `<stem>.png` (unless plot=False) and `<stem>.md` into `out_dir`, replacing
    files of those names (`free_stem` picks names that replace nothing)."""
    from ocec_lightning.analysis.curves.plot import plot_curves

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = Written(out / f"{stem}.md", None, "en")
    if plot:
        fig_lang = "zh" if lang == "zh" and cjk_font() else "en"
        written.figure = plot_curves(
            a, out / f"{stem}.png", fig_lang, cjk_font() if fig_lang == "zh" else None
        )
        written.figure_lang = fig_lang
    written.markdown.write_text(render_markdown(a, found, lang, written), encoding="utf-8")
    return written


def analyze_and_write(
    history: History,
    out_dir: str | Path,
    *,
    lang: str = "en",
    last_n: int = 10,
    plot: bool = True,
    stem: str = STEM,
) -> tuple[list[Diagnosis], Written]:
    """Analyse `history`, rank the findings and write the report as `<stem>.md/.png`
    (the CLI and callback)."""
    analysis = analyze(history, last_n=last_n)
    found = diagnose(analysis, lang)
    return found, write_report(analysis, found, out_dir, lang=lang, plot=plot, stem=stem)
