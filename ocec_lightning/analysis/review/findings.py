"""What the config review produces: bilingual messages, findings and recommendations.

A `Finding` is one judgement about the composed config in the style of an expert's review:
a severity (error: the run cannot do what the config asks, e.g. early stopping ends it
before the scheduler ever acts; warning: it works but costs accuracy or time; info: the
numbers behind a sound value), the config key it is about (the row of the parameter
table), a one-line title, the evidence in numbers, and a runnable Hydra override as the
suggestion. Every text is kept in English and Chinese (`Msg`) so one review renders in
either language. Number formatting shared by the rules lives here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")
LANGS = ("en", "zh")


@dataclass(frozen=True)
class Msg:
    """One text in both languages."""

    en: str
    zh: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def __add__(self, other: Msg) -> Msg:
        return Msg(self.en + other.en, self.zh + other.zh)


def join(parts: list[Msg], sep: Msg | None = None) -> Msg:
    """Concatenate messages with a separator ("; " / "；" by default)."""
    sep = sep or Msg("; ", "；")
    return Msg(sep.en.join(p.en for p in parts), sep.zh.join(p.zh for p in parts))


@dataclass
class Finding:
    """One judgement: severity, the key it is about, title, evidence, suggestion."""

    rule: str  # stable id, e.g. "plateau.vs_early_stopping"
    key: str  # config key (or derived quantity) the finding is about
    severity: str  # error | warning | info
    title: Msg
    evidence: Msg
    suggestion: str | None = None  # runnable Hydra overrides, space separated
    why: Msg | None = None  # what the suggestion changes

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def to_dict(self, lang: str) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "key": self.key,
            "severity": self.severity,
            "title": self.title.get(lang),
            "evidence": self.evidence.get(lang),
            "suggestion": self.suggestion,
            "why": self.why.get(lang) if self.why else None,
        }


@dataclass
class Review:
    """The whole review: what was reviewed, derived numbers, findings, tables."""

    overrides: list[str]
    summary: dict[str, Any]  # run shape: task, batch, steps, data... (JSON-friendly)
    parameters: list[dict[str, Any]]  # rows: key, label, value, severity, assessment, suggestion
    findings: list[Finding]
    lr_table: list[dict[str, float]] = field(default_factory=list)  # epoch, lr, percent
    recommendations: list[Finding] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: SEVERITIES.index(f.severity))

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        rows = [
            {k: v.get(lang) if isinstance(v, Msg) else v for k, v in row.items()}
            for row in self.parameters
        ]
        return {
            "overrides": self.overrides,
            "summary": self.summary,
            "counts": {s: self.count(s) for s in SEVERITIES},
            "parameters": rows,
            "findings": [f.to_dict(lang) for f in self.sorted_findings()],
            "lr_at_epochs": self.lr_table,
            "recommendations": [f.to_dict(lang) for f in self.recommendations],
        }


# ----------------------------------------------------------------- numbers
def lr_str(value: float) -> str:
    """1e-4 -> '1e-4', 2.56e-2 -> '2.56e-2', 0 -> '0' (the spelling of Hydra overrides)."""
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def round_sig(value: float, digits: int = 2) -> float:
    """Round to `digits` significant digits (for suggested values)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def pct(value: float, digits: int = 1) -> str:
    """0.376 -> '37.6%'."""
    return f"{100 * value:.{digits}f}%"


def num(value: float) -> str:
    """Thousands separators for counts: 376649 -> '376,649'; floats keep 3 significant digits."""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"
