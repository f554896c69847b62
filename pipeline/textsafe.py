"""Text made safe for where it goes: invisible characters, spreadsheet formulas, Markdown.

Shared by the readers (:mod:`pipeline.sources.csvfile`), the steps that write Markdown
(:mod:`pipeline.steps.report`) and the writers (:mod:`pipeline.outputs`), so that a rule is
stated once:

- :func:`clean_text` normalises what people paste from word processors and web pages (NFD
  accents, non-breaking and zero-width spaces, CR line ends inside a cell) before anything is
  compared or written;
- :data:`CONTROL_CHARACTERS` are refused in every input (they break SVG, XML and terminals);
- :func:`neutralise_formula` / :func:`restore_formula` keep a spreadsheet from evaluating a
  cell that starts like a formula (the OWASP "CSV injection" advice), and let the pipeline
  read its own CSVs back;
- :func:`markdown_text` escapes what Markdown or HTML would interpret in a name.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

#: C0 controls except tab, LF and CR; DEL; C1 controls. Refused anywhere in an input file.
CONTROL_CHARACTERS: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
#: Characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
#: Prefix that makes a spreadsheet read the cell as text; it is not shown in the cell.
FORMULA_GUARD: Final = "'"

#: Invisible characters removed from names: zero-width space, non-joiner, joiner, word joiner,
#: a byte-order mark inside the text, soft hyphen.
_INVISIBLE: Final = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
#: Unicode space separators other than the plain space (no-break, narrow no-break, thin...).
_SPACES: Final = re.compile(r"[^\S\n\r\t\x0b\x0c\x1c-\x1f\x85\u2028\u2029 ]")
_LINE_BREAKS: Final = re.compile(r"\r\n?")
#: A plain number, written the way a spreadsheet reads it: not a formula, left as it is.
_NUMBER: Final = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$")
#: Characters that Markdown or HTML interpret anywhere in a line.
_MARKDOWN_INLINE: Final = re.compile(r"([\\`*_\[\]<>|~&])")
#: What starts a heading, a list item, a quote or a setext underline at the start of a line.
_MARKDOWN_LEADING: Final = re.compile(r"^(?:[#+\-=>]|\d+(?=[.)]))")


def clean_text(value: str) -> str:
    """Return ``value`` as the pipeline compares and writes text.

    Composed accents (NFC: an "é" typed as "e" + combining accent becomes one character), every
    Unicode space turned into a plain space, zero-width characters and soft hyphens removed,
    CRLF and CR inside a value turned into LF.

    Parameters
    ----------
    value
        Text as read from a file.

    Returns
    -------
    str
        The normalised text (control characters are left for the reader to refuse).
    """
    if value.isascii():  # most cells: nothing to compose, no exotic space
        return _LINE_BREAKS.sub("\n", value) if "\r" in value else value
    text = unicodedata.normalize("NFC", value)
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    return _LINE_BREAKS.sub("\n", text)


def neutralise_formula(value: str) -> str:
    """Prefix a cell that a spreadsheet would evaluate with ``'``, so that it shows as text.

    A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a CR is a formula to Excel and
    LibreOffice (``=HYPERLINK(...)``, ``@SUM(...)``, ``-2+3+cmd|...``); the leading apostrophe
    makes it text, and is not displayed. Plain numbers (``-0.57``) are left as they are.

    Parameters
    ----------
    value
        A cell about to be written to a CSV.

    Returns
    -------
    str
        The cell, guarded if needed.
    """
    if value.startswith(FORMULA_TRIGGERS) and not _NUMBER.match(value):
        return FORMULA_GUARD + value
    return value


def restore_formula(value: str) -> str:
    """Undo :func:`neutralise_formula`, so that the pipeline reads its own CSVs back as written.

    Parameters
    ----------
    value
        A cell as read from a CSV.

    Returns
    -------
    str
        The cell without the guarding apostrophe, when it guards a formula trigger.
    """
    if value.startswith(FORMULA_GUARD) and value[1:].startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def markdown_text(value: object) -> str:
    r"""Return ``value`` as literal text in a Markdown line or table cell.

    Line breaks and runs of white space become one space (a break would end the table row);
    the characters Markdown or HTML interpret (``\ ` * _ [ ] < > | ~ &``) are backslash-escaped
    anywhere, and a leading ``#``, ``+``, ``-``, ``=``, ``>`` or ``1.`` too, so that a name is
    never a heading, a list, a link, emphasis or an HTML tag.

    Parameters
    ----------
    value
        A name, a commune, a label...

    Returns
    -------
    str
        The escaped text, on one line.
    """
    text = " ".join(str(value).split())
    text = _MARKDOWN_INLINE.sub(r"\\\1", text)
    match = _MARKDOWN_LEADING.match(text)
    if match:
        # A list number is escaped on its dot ("1\."), the other markers on themselves.
        at = match.end() if match.group().isdigit() else 0
        text = text[:at] + "\\" + text[at:]
    return text
