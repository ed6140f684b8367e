"""Chinese text renders with real glyphs on a fresh machine: the font comes with the
package's dependencies (mplfonts' Noto Sans CJK), not from the system."""

from __future__ import annotations

import warnings

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font

from ocec_lightning.viz.fonts import bundled_font_files, cjk_font


def test_the_bundled_font_covers_chinese() -> None:
    files = bundled_font_files()
    assert files, "mplfonts is a dependency: its Noto Sans CJK must be installed"
    assert FT2Font(str(files[0])).get_char_index(ord("训")) != 0


def test_a_chinese_title_draws_real_glyphs() -> None:
    family = cjk_font()
    assert family is not None
    path = findfont(FontProperties(family=family), fallback_to_default=False)
    assert FT2Font(path).get_char_index(ord("练")) != 0
    figure = Figure(figsize=(3, 1))
    FigureCanvasAgg(figure)
    figure.suptitle("训练曲线分析", family=family)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.canvas.draw()
    assert not [w for w in caught if "missing from font" in str(w.message)]
