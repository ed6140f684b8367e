"""Fonts for figures: a CJK font for Chinese labels, or None (labels stay English).

Every figure that may carry Chinese text (curve report, augmentation preview, sweep
plots) asks `cjk_font()`: a CJK family matplotlib already knows, then a system font file
it has not registered, then the Noto Sans CJK SC that the `mplfonts` dependency installs
with the package, so Chinese renders on a fresh machine without a system font. Checking
that the font really has the glyphs keeps a fallback font from drawing empty boxes.
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
BUNDLED = ("NotoSansCJKsc-Regular.otf", "SimHei.ttf")  # in mplfonts' fonts/ folder


def bundled_font_files() -> list[Path]:
    """The CJK font files the `mplfonts` package ships (none when it is not installed)."""
    try:
        import mplfonts  # optional at import time: a plain `pip install` without deps
    except ImportError:
        return []
    folder = Path(mplfonts.__file__).parent / "fonts"
    return [folder / name for name in BUNDLED if (folder / name).is_file()]


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
    for file in bundled_font_files():
        if covers(str(file)):
            font_manager.fontManager.addfont(str(file))
            return font_manager.FontProperties(fname=str(file)).get_name()
    return None
