"""Render a config review: rich tables in the terminal, markdown or JSON, in English or
Chinese. The layout follows an expert's review of a config: the run at a glance, every
parameter with value, assessment and suggestion, the findings by severity with their
evidence, the LR at chosen epochs, and the dataset-aware recommendations."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ocec_lightning.analysis.review.findings import Finding, Msg, Review, lr_str

ICONS = {"error": "⛔", "warning": "⚠️", "info": "ℹ️"}
COLOURS = {"error": "bold red", "warning": "yellow", "info": "cyan"}
WORDS = {
    "error": Msg("error", "错误"),
    "warning": Msg("warning", "警告"),
    "info": Msg("note", "提示"),
}
HEAD = {
    "title": Msg("Config review", "配置评审"),
    "params": Msg("Parameters", "参数一览"),
    "findings": Msg("Findings", "问题与分析"),
    "errors": Msg(
        "Errors: the run cannot do what the config asks", "错误：训练无法按配置的意图进行"
    ),
    "warnings": Msg(
        "Warnings: it runs, but costs accuracy or time", "警告：可以运行，但会损失精度或时间"
    ),
    "notes": Msg("Notes: the numbers behind the other values", "提示：其余参数背后的数据"),
    "lr": Msg("LR at chosen epochs", "关键轮次的学习率"),
    "recs": Msg("Dataset-aware recommendations", "基于数据集特征的建议"),
    "param": Msg("Parameter", "参数"),
    "value": Msg("Value", "当前值"),
    "assessment": Msg("Assessment", "评估"),
    "suggestion": Msg("Suggestion", "建议"),
    "evidence": Msg("Evidence", "依据"),
    "epoch": Msg("Epoch", "轮次"),
    "of_base": Msg("% of base LR", "占基础学习率"),
    "recommendation": Msg("Recommendation", "推荐"),
    "override": Msg("Override", "覆盖参数"),
    "ok": Msg("ok", "合理"),
    "verdict": Msg("Verdict", "结论"),
    "defaults": Msg("(defaults)", "（默认配置）"),
}


def _h(name: str, lang: str) -> str:
    return HEAD[name].get(lang)


def _colon(lang: str) -> str:
    return "：" if lang == "zh" else ": "


def _paren(text: str, lang: str) -> str:
    return f"（{text}）" if lang == "zh" else f" ({text})"


def _text(value: object, lang: str) -> str:
    return value.get(lang) if isinstance(value, Msg) else str(value)


def verdict(review: Review, lang: str) -> str:
    e, w, i = (review.count(s) for s in ("error", "warning", "info"))
    if lang == "zh":
        return f"{e} 个错误 · {w} 个警告 · {i} 条提示"

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"{plural(e, 'error')} · {plural(w, 'warning')} · {plural(i, 'note')}"


def glance(review: Review, lang: str) -> str:
    """One line: task, model, data, effective batch, steps, epochs."""
    s, data = review.summary, review.summary["data"]
    counts = " / ".join(f"{k} {v:,}" for k, v in data["counts"].items()) or "?"
    spe, epochs, total, batch = (
        f"{s['steps_per_epoch']:,}",
        s["max_epochs"],
        f"{s['total_steps']:,}",
        f"{s['effective_batch']:,}",
    )
    if lang == "zh":
        how = "实测" if data["measured"] else "由配置推算"
        return (
            f"任务 {s['task']} · 模型 {s['model']} · 数据 {data['source']}：{counts}（{how}）· "
            f"有效批次 {batch} · 每轮 {spe} 步 · {epochs} 轮 = {total} 步"
        )
    how = "read" if data["measured"] else "from the config"
    return (
        f"task {s['task']} · model {s['model']} · data {data['source']}: {counts} ({how}) · "
        f"effective batch {batch} · {spe} steps/epoch · {epochs} epochs = {total} steps"
    )


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _finding_md(finding: Finding, lang: str, index: int) -> list[str]:
    colon = _colon(lang)
    lines = [f"{index}. **{_cell(finding.title.get(lang))}** (`{finding.key}`)"]
    lines.append(f"   - {_h('evidence', lang)}{colon}{finding.evidence.get(lang)}")
    if finding.suggestion:
        why = f" — {finding.why.get(lang)}" if finding.why else ""
        lines.append(f"   - {_h('suggestion', lang)}{colon}`{finding.suggestion}`{why}")
    return lines


def _note_md(finding: Finding, lang: str) -> str:
    line = f"- **{_cell(finding.title.get(lang))}** (`{finding.key}`){_colon(lang)}"
    line += finding.evidence.get(lang)
    if finding.suggestion:
        why = _paren(finding.why.get(lang), lang) if finding.why else ""
        line += f" → `{finding.suggestion}`{why}"
    return line


def _params_md(review: Review, lang: str) -> list[str]:
    heads = [_h(k, lang) for k in ("param", "value", "assessment", "suggestion")]
    out = ["| " + " | ".join(heads) + " |", "|---|---|---|---|"]
    for row in review.parameters:
        if row["assessment"]:
            assessment = f"{ICONS[row['severity']]} {row['assessment'].get(lang)}"
        else:
            assessment = f"✅ {_h('ok', lang)}"
        suggestion = f"`{row['suggestion']}`" if row["suggestion"] else ""
        label = f"{row['label'].get(lang)} `{row['key']}`"
        value = _cell(_text(row["value"], lang))
        out.append(f"| {label} | {value} | {_cell(assessment)} | {_cell(suggestion)} |")
    return out


def markdown(review: Review, lang: str = "en") -> str:
    overrides = " ".join(review.overrides) or _h("defaults", lang)
    colon = _colon(lang)
    out = [f"# {_h('title', lang)}{colon}`{overrides}`", "", glance(review, lang), ""]
    out += [f"**{_h('verdict', lang)}{colon.strip()}** {verdict(review, lang)}", ""]
    out += [
        f"## {_h('params', lang)}",
        "",
        *_params_md(review, lang),
        "",
        f"## {_h('findings', lang)}",
    ]
    for severity, head in (("error", "errors"), ("warning", "warnings"), ("info", "notes")):
        chosen = [f for f in review.findings if f.severity == severity]
        if not chosen:
            continue
        out += ["", f"### {ICONS[severity]} {_h(head, lang)}", ""]
        if severity == "info":
            out += [_note_md(f, lang) for f in chosen]
        else:
            for i, finding in enumerate(chosen, 1):
                out += _finding_md(finding, lang, i)
    if review.lr_table:
        out += ["", f"## {_h('lr', lang)}", ""]
        out += [f"| {_h('epoch', lang)} | LR | {_h('of_base', lang)} |", "|---:|---:|---:|"]
        out += [
            f"| {int(r['epoch'])} | {lr_str(r['lr'])} | {r['percent']:.1f}% |"
            for r in review.lr_table
        ]
    if review.recommendations:
        heads = [_h(k, lang) for k in ("recommendation", "evidence", "override")]
        out += ["", f"## {_h('recs', lang)}", "", "| " + " | ".join(heads) + " |", "|---|---|---|"]
        for rec in review.recommendations:
            why = _paren(rec.why.get(lang), lang) if rec.why else ""
            suggestion = f"`{rec.suggestion}`" if rec.suggestion else ""
            title, evidence = _cell(rec.title.get(lang) + why), _cell(rec.evidence.get(lang))
            out.append(f"| {title} | {evidence} | {suggestion} |")
    return "\n".join(out) + "\n"


def to_json(review: Review, lang: str = "en") -> str:
    return json.dumps(review.to_dict(lang), ensure_ascii=False, indent=2)


def _params_table(review: Review, lang: str) -> Table:
    table = Table(title=_h("params", lang))
    for col in ("param", "value", "assessment", "suggestion"):
        table.add_column(_h(col, lang), overflow="fold")
    for row in review.parameters:
        severity = row["severity"]
        text = row["assessment"].get(lang) if row["assessment"] else _h("ok", lang)
        style = {"error": "bold red", "warning": "yellow", None: "green"}.get(severity, "default")
        table.add_row(
            f"{escape(row['label'].get(lang))}\n[dim]{escape(row['key'])}[/dim]",
            escape(_text(row["value"], lang)),
            f"[{style}]{escape(text)}[/{style}]",
            escape(row["suggestion"] or ""),
        )
    return table


def _findings_table(review: Review, lang: str) -> Table:
    table = Table(title=_h("findings", lang), show_lines=True)
    for name in ("", _h("assessment", lang), _h("evidence", lang), _h("suggestion", lang)):
        table.add_column(name, overflow="fold")
    for finding in review.sorted_findings():
        if finding.severity == "info":
            continue
        colour = COLOURS[finding.severity]
        table.add_row(
            f"[{colour}]{WORDS[finding.severity].get(lang)}[/{colour}]",
            f"{escape(finding.title.get(lang))}\n[dim]{escape(finding.key)}[/dim]",
            escape(finding.evidence.get(lang)),
            escape(finding.suggestion or ""),
        )
    return table


def print_rich(review: Review, lang: str = "en", console: Console | None = None) -> None:
    console = console or Console()
    overrides = " ".join(review.overrides) or _h("defaults", lang)
    console.rule(escape(f"{_h('title', lang)}{_colon(lang)}{overrides}"))
    console.print(escape(glance(review, lang)))
    console.print(_params_table(review, lang))
    if any(f.severity != "info" for f in review.findings):
        console.print(_findings_table(review, lang))
    if review.lr_table:
        lr = Table(title=_h("lr", lang))
        for name in (_h("epoch", lang), "LR", _h("of_base", lang)):
            lr.add_column(name, justify="right")
        for r in review.lr_table:
            lr.add_row(str(int(r["epoch"])), lr_str(r["lr"]), f"{r['percent']:.1f}%")
        console.print(lr)
    if review.recommendations:
        recs = Table(title=_h("recs", lang))
        recs.add_column(_h("recommendation", lang), overflow="fold")
        recs.add_column(_h("override", lang), overflow="fold")
        for rec in review.recommendations:
            why = _paren(rec.why.get(lang), lang) if rec.why else ""
            recs.add_row(escape(rec.title.get(lang) + why), escape(rec.suggestion or ""))
        console.print(recs)
    console.print(
        f"[bold]{_h('verdict', lang)}{_colon(lang).strip()}[/bold] {verdict(review, lang)}"
    )
