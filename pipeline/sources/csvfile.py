"""Reading the CSV files people edit: encodings, separators and line numbers as saved.

A registry comes from a spreadsheet: UTF-8 with or without BOM, or Windows-1252; ``,``,
``;`` or tab separated; CRLF line ends. :func:`read_csv_records` reads them all into strings
and remembers the line each record starts on, so that every later error names it.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import Problem, SourceDataError

if TYPE_CHECKING:  # pandas is imported where the frame is built, not on import
    import pandas as pd

#: Delimiters accepted in a registry CSV (spreadsheets in France export with ";").
_DELIMITERS = ",;\t"
#: Refuse to parse files larger than this: a registry is a few kilobytes.
MAX_CSV_BYTES = 5 * 1024 * 1024


def _decode(raw: bytes, path: str) -> str:
    """Decode a CSV's bytes: UTF-8 (with or without BOM), else Windows-1252/Latin-1."""
    if b"\x00" in raw[:65536]:
        raise SourceDataError(
            [Problem(path, None, None, None,
                     "ce n'est pas un fichier CSV texte (il contient des octets NUL) ; "
                     "exportez-le depuis le tableur au format 'CSV UTF-8'")],
            summary=f"{path}: impossible de lire le fichier",
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            line = raw[: exc.start].count(b"\n") + 1
            raise SourceDataError(
                [Problem(path, line, None, repr(raw[exc.start : exc.start + 8]),
                         "le fichier n'est ni en UTF-8 ni en Windows-1252/Latin-1 ; "
                         "exportez-le à nouveau au format 'CSV UTF-8'")],
                summary=f"{path}: impossible de décoder le fichier",
            ) from exc
        return text


def read_csv_records(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, list[int]]:
    """Read a user-edited CSV into strings, remembering each record's line number.

    Accepts UTF-8 with or without BOM, Windows-1252/Latin-1 exports, CRLF line ends, and
    ``,``, ``;`` or tab as delimiter. Cells are stripped of surrounding white space.

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    frame : pandas.DataFrame
        One row per record, every cell a ``str`` (empty string when missing).
    lines : list of int
        The 1-based line in the file where each record starts (the header is line 1).

    Raises
    ------
    SourceDataError
        If the file is missing, empty, not text, too large or has no header.
    """
    name = str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_CSV_BYTES:
            raise SourceDataError(
                [Problem(name, None, None, f"{size} octets",
                         f"fichier de plus de {MAX_CSV_BYTES // 1024 // 1024} Mo, ce dont aucun "
                         "registre d'écoles n'a besoin ; vérifiez le fichier passé")],
                summary=f"{name}: lecture du fichier refusée",
            )
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        raise SourceDataError(
            [Problem(name, None, None, None, "fichier introuvable ; vérifiez le chemin")],
            summary=f"{name}: impossible de lire le fichier",
        ) from exc
    except IsADirectoryError as exc:
        raise SourceDataError(
            [Problem(name, None, None, None, "c'est un dossier, pas un fichier CSV")],
            summary=f"{name}: impossible de lire le fichier",
        ) from exc
    text = _decode(raw, name)
    if not text.strip():
        raise SourceDataError(
            [Problem(name, None, None, None, "le fichier est vide ; il faut une ligne "
                     "d'en-tête et une ligne par école")],
            summary=f"{name}: fichier vide",
        )
    header_line = text.splitlines()[0]
    delimiter = max(_DELIMITERS, key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
        records: list[list[str]] = []
        lines: list[int] = []
        start = reader.line_num + 1
        for record in reader:
            if any(cell.strip() for cell in record):
                records.append(record)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise SourceDataError(
            [Problem(name, reader.line_num, None, None,
                     f"CSV mal formé ({exc}) ; vérifiez les guillemets")],
            summary=f"{name}: impossible d'analyser le fichier",
        ) from exc
    problems = []
    rows = []
    for record, line in zip(records, lines, strict=True):
        if len(record) > len(header):
            extra = [c for c in record[len(header):] if c.strip()]
            if extra:
                problems.append(Problem(
                    name, line, None, extra[0],
                    f"{len(record)} champs mais l'en-tête en a {len(header)} ; "
                    f"mettez entre guillemets les valeurs contenant {delimiter!r}"))
                continue
        cells = [c.strip() for c in record[: len(header)]]
        rows.append(cells + [""] * (len(header) - len(cells)))
    if problems:
        raise SourceDataError(problems,
                              summary=f"{name}: {len(problems)} ligne(s) mal formée(s)")
    import pandas as pd

    frame = pd.DataFrame(rows, columns=header, dtype=object)
    kept = [ln for ln, rec in zip(lines, records, strict=True)
            if len(rec) <= len(header) or not any(c.strip() for c in rec[len(header):])]
    return frame, kept
