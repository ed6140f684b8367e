"""Fonts for figures: a CJK font for Chinese labels, or None (labels stay English).

Every figure that may carry Chinese text (curve report, augmentation preview, sweep
plots) asks `cjk_font()`; matplotlib's own font manager finds installed families, and a
file-name search covers fonts it has not registered. Checking that the font really has
the glyphs keeps a fallback font from drawing empty boxes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)
CJK_FILE_HINTS = ("cjk", "wqy", "wenquanyi", "sourcehan", "simhei", "msyh", "droidsansfallback")


@cache
def cjk_font() -> str | None:
    """A font family matplotlib can use for Chinese, or None (then labels stay English)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    def covers(path: str) -> bool:
        try:
            return FT2Font(path).get_char_index(ord("训")) != 0
        except (OSError, RuntimeError):
            return False

    known = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known and covers(known[family]):
            return family
    for path in font_manager.findSystemFonts():
        name = Path(path).name.lower().replace("-", "").replace("_", "")
        if any(hint in name for hint in CJK_FILE_HINTS) and covers(path):
            font_manager.fontManager.addfont(path)
            return font_manager.FontProperties(fname=path).get_name()
    return None
