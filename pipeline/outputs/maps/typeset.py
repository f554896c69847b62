"""Setting French text to a width: glyph advances measured once, lines broken as French wants.

Laying a text out in matplotlib costs over a millisecond a call; wrapping a paragraph word by
word would cost a tenth of a second. :func:`text_width` sums cached glyph advances instead
(kerning left out: within 1 %), and :func:`wrap_text` breaks lines at spaces, never before
``; : ! ? »``, after ``«`` nor inside a date ("23 novembre 2021").
"""

from __future__ import annotations

import functools
import re
from typing import Final

from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.ft2font import LoadFlags


@functools.cache
def _advances(font_file: str) -> dict[str, float]:
    """Cache of glyph advances of a font file, in points for a 1 pt font (filled lazily)."""
    return {}


def text_width(text: str, prop: FontProperties, dpi: float) -> float:
    """Return the width in pixels of one line of ``text``, from the glyphs' advances.

    Laying text out costs over a millisecond a call; this sums cached advances (kerning
    left out: within 1 %), for wrapping and placing many texts quickly.
    """
    path = findfont(prop)
    advances = _advances(path)
    missing = [c for c in dict.fromkeys(text) if c not in advances]
    if missing:
        font = get_font(path)
        font.set_size(100, 72)
        for char in missing:
            glyph = font.load_char(ord(char), flags=LoadFlags.NO_HINTING)
            advances[char] = glyph.linearHoriAdvance / 65536 / 100
    return sum(advances[c] for c in text) * prop.get_size_in_points() * dpi / 72


#: Spaces a line never breaks at, as French typesetting wants: before ; : ! ? » and after
#: «, and inside a date ("23 novembre 2021").
_NO_BREAK_PUNCTUATION: Final = re.compile(r" (?=[;:!?»])|(?<=«) ")
_NO_BREAK_DATE: Final = re.compile(
    r"(\d+(?:er)?) (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|"
    r"novembre|décembre) (\d{4})")


def _glue(text: str) -> str:
    """Mark the spaces a line must not break at with NUL (restored after wrapping)."""
    text = _NO_BREAK_PUNCTUATION.sub("\0", text)
    return _NO_BREAK_DATE.sub("\\1\0\\2\0\\3", text)


def wrap_text(text: str, prop: FontProperties, width_px: float, dpi: float) -> str:
    """Break ``text`` into lines no wider than ``width_px`` (in the figure's font).

    Parameters
    ----------
    text
        Paragraphs separated by newlines.
    prop
        The font (family from the rc settings in force, size, weight).
    width_px
        Width of a line, in pixels at ``dpi``.
    dpi
        Resolution of the figure.

    Returns
    -------
    str
        The text with newlines where lines break.
    """
    limit = width_px / 1.01  # room for kerning
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for glued in _glue(paragraph).split(" "):
            # A word wider than a line may break after its hyphens (Château-Gontier-…):
            # its pieces follow one another without a space.
            word = glued.replace("\0", " ")
            pieces = [word]
            if "-" in word[:-1] and text_width(word, prop, dpi) > limit:
                parts = word.split("-")
                pieces = [f"{p}-" for p in parts[:-1]] + [parts[-1]]
            for k, piece in enumerate(pieces):
                joined = k > 0  # no space before the rest of a hyphenated word
                trial = f"{line}{piece}" if joined else (f"{line} {piece}" if line else piece)
                if line and text_width(trial, prop, dpi) > limit:
                    lines.append(line)
                    line = piece
                else:
                    line = trial
        lines.append(line)
    return "\n".join(lines)
