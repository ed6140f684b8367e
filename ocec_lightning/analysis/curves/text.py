"""The curve report's words in English and Chinese (`--lang en|zh`), from one YAML file.

`text.yaml` holds every sentence: the diagnoses (title + pieces that are kept
only when the numbers they name are known) and the report's headings and labels. This
module loads it once and fills the format fields; a missing value prints as "–" instead
of failing, so a report never breaks on a run that logged less. Kept apart from the rules
and the layout so a translation is read and changed in one place.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import Any

import yaml

LANGS = ("en", "zh")
LUCK_NOISE_UNITS = 3.0  # a best within 3 noise units of the last-N mean is partly luck
TEXT_FILE = Path(__file__).with_name("text.yaml")


@cache
def _table() -> dict[str, Any]:
    return yaml.safe_load(TEXT_FILE.read_text(encoding="utf-8"))


class _Formatter(string.Formatter):
    """str.format that shows a missing or unformattable value as '–' / its str()."""

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        return kwargs.get(key) if isinstance(key, str) else super().get_value(key, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return "–"
        try:
            return super().format_field(value, format_spec)
        except (TypeError, ValueError):
            return str(value)


FORMAT = _Formatter()


def _lang(lang: str) -> str:
    return lang if lang in LANGS else "en"


def label(name: str, lang: str, /, **values: Any) -> str:
    """A heading or label of the report in `lang`."""
    en, zh = _table()["labels"][name]
    return FORMAT.format(zh if _lang(lang) == "zh" else en, **values)


def colon(lang: str) -> str:
    return "：" if _lang(lang) == "zh" else ": "


def paren(text: str, lang: str) -> str:
    """`text` in parentheses, full-width in Chinese."""
    return f"（{text}）" if _lang(lang) == "zh" else f" ({text})"


def schedule_text(schedule: Any, lang: str) -> str:
    """What the config says about the schedule's length, in words."""
    s = schedule
    if s.name == "cosine" and s.t_max is None and s.max_epochs:
        t = s.max_epochs - s.warmup_epochs
        return label(
            "sched_cosine_null", lang, max_epochs=s.max_epochs, warmup=s.warmup_epochs, t=t
        )
    if s.name == "cosine":
        unit = label("unit_epochs" if s.interval == "epoch" else "unit_steps", lang)
        return label("sched_cosine", lang, t=s.t_max, unit=unit, warmup=s.warmup_epochs)
    return label("sched_other", lang, name=s.name, max_epochs=s.max_epochs)


def diagnosis_text(
    rule: str, lang: str, analysis: Any, evidence: dict[str, Any]
) -> tuple[str, str]:
    """Title and explanation of one diagnosis, keeping the pieces whose numbers are known."""
    lang = _lang(lang)
    entry = _table()["diagnoses"][rule][lang]
    values: dict[str, Any] = {"monitor": analysis.monitor, "last_n": analysis.last_n}
    values.update(evidence)
    kind = str(evidence.get("kind"))
    kinds = _table()["kinds"]
    values["kind_text"] = kinds[kind][LANGS.index(lang)] if kind in kinds else None
    values["length"] = evidence.get("planned_epochs") or evidence.get("implied_epochs")
    if analysis.schedule is not None and analysis.schedule.name:
        values["schedule_text"] = schedule_text(analysis.schedule, lang)
    values["val_loss_rose"] = True if (evidence.get("val_loss_rise_pct") or 0) > 0 else None
    luck = evidence.get("best_vs_last_n_noise")
    values["lucky_best"] = True if luck is not None and 0 < luck <= LUCK_NOISE_UNITS else None
    for reason in str(evidence.get("reasons", "")).split(", "):
        values[f"reason_{reason}"] = True
    values["es_none"] = True if evidence.get("early_stopping") == "none" else None
    values["es_not_none"] = None if values["es_none"] else True
    status = evidence.get("status")
    values[f"status_{status or 'unknown'}"] = True
    kept = [p[-1] for p in entry["text"] if all(values.get(k) is not None for k in p[:-1])]
    joiner = "" if lang == "zh" else " "
    text = joiner.join(FORMAT.format(piece, **values) for piece in kept)
    return FORMAT.format(entry["title"], **values), text
