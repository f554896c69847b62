"""Reading the CSV files people edit: encodings, separators and line numbers as saved.

A registry comes from a spreadsheet: UTF-8 with or without BOM, or Windows-1252; ``,``,
``;`` or tab separated; CRLF line ends. :func:`read_csv_records` reads them all into strings
and remembers the line each record starts on, so that every later error names it.

Every input file (registry, openings, label offsets) is opened by :func:`read_input_bytes`:
a FIFO, a device, a folder or a symlink loop is refused before anything is read, and the size
limit holds on the bytes actually read, not on what ``stat`` says. Control characters and
bytes that are not UTF-8 in a UTF-8 file are refused with their line and column.
"""

from __future__ import annotations

import csv
import errno
import io
import os
import re
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from pipeline.errors import Problem, SourceDataError
from pipeline.textsafe import CONTROL_CHARACTERS, clean_text, restore_formula

if TYPE_CHECKING:  # pandas is imported where the frame is built, not on import
    import pandas as pd

#: Delimiters accepted in a registry CSV (spreadsheets in France export with ";").
_DELIMITERS = ",;\t"
#: Refuse to parse files larger than this: a registry is a few kilobytes.
MAX_CSV_BYTES = 5 * 1024 * 1024
#: A file whose first 64 KiB are more than 1 % NUL bytes is binary (xlsx, UTF-16...).
_BINARY_SAMPLE: Final = 65536
#: At most this many character problems are listed; the count says how many there are.
MAX_TEXT_PROBLEMS: Final = 20
#: Bytes that are not UTF-8, kept by the ``surrogateescape`` decoder as U+DC80..U+DCFF.
_UNDECODED: Final = re.compile("[\udc80-\udcff]")
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")

#: What each kind of non-regular file is called in messages.
_KINDS: Final = (
    (stat.S_ISDIR, "un dossier"),
    (stat.S_ISFIFO, "un tube nommé (FIFO)"),
    (stat.S_ISCHR, "un périphérique (mode caractère)"),
    (stat.S_ISBLK, "un périphérique (mode bloc)"),
    (stat.S_ISSOCK, "une socket"),
)


def _refuse(name: str, message: str, summary: str = "impossible de lire le fichier"
            ) -> SourceDataError:
    return SourceDataError([Problem(name, None, None, None, message)],
                           summary=f"{name}: {summary}")


def _not_regular(name: str, mode: int) -> SourceDataError:
    kind = next((label for test, label in _KINDS if test(mode)), "un fichier spécial")
    if stat.S_ISDIR(mode):
        return _refuse(name, "c'est un dossier, pas un fichier CSV ; passez le chemin du "
                       "fichier")
    return _refuse(name, f"c'est {kind}, pas un fichier ordinaire ; passez le chemin d'un "
                   "fichier CSV enregistré sur le disque")


def _too_large(name: str, max_bytes: int, read: int | None = None) -> SourceDataError:
    shown = f"plus de {max_bytes} octets" if read is None else f"{read} octets"
    return SourceDataError(
        [Problem(name, None, None, shown,
                 f"fichier de plus de {max_bytes / 1024 / 1024:g} Mo, ce dont aucun registre "
                 "d'écoles n'a besoin ; vérifiez le fichier passé")],
        summary=f"{name}: lecture du fichier refusée")


def _open_failure(name: str, exc: OSError) -> SourceDataError:
    if exc.errno == errno.ENOENT:
        return _refuse(name, "fichier introuvable ; vérifiez le chemin")
    if exc.errno == errno.ELOOP:
        return _refuse(name, "boucle de liens symboliques ; vérifiez où mène le lien")
    if exc.errno == errno.ENOTDIR:
        return _refuse(name, "une partie du chemin n'est pas un dossier ; vérifiez le chemin")
    if exc.errno == errno.EISDIR:
        return _refuse(name, "c'est un dossier, pas un fichier CSV ; passez le chemin du "
                       "fichier")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return _refuse(name, "lecture refusée (droits d'accès) ; vérifiez les droits du "
                       "fichier")
    if exc.errno == errno.ENXIO:
        return _refuse(name, "ce n'est pas un fichier ordinaire (socket ou périphérique) ; "
                       "passez le chemin d'un fichier CSV")
    return _refuse(name, f"lecture impossible ({exc.strerror or exc})")


def read_input_bytes(path: str | os.PathLike[str], *, max_bytes: int = MAX_CSV_BYTES) -> bytes:
    """Return the bytes of a user's input file, refusing what is not a regular, small file.

    The one safe way in for every file a user names (registry, openings, label offsets). The
    file is checked before it is opened (``stat``) and again on the open descriptor
    (``fstat``, so that nothing can be swapped in between); it is opened non-blocking, so a
    FIFO never hangs; and at most ``max_bytes + 1`` bytes are read, whatever its size claims
    (``/proc`` files and devices report 0).

    Parameters
    ----------
    path
        The file, symbolic links followed.
    max_bytes
        Largest size accepted.

    Returns
    -------
    bytes
        The whole content.

    Raises
    ------
    SourceDataError
        If the file is missing, unreadable, a folder, a FIFO, a device, a socket, a symlink
        loop, or larger than ``max_bytes``.
    """
    name = str(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise _open_failure(name, exc) from exc
    if not stat.S_ISREG(mode):
        raise _not_regular(name, mode)
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
             | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _open_failure(name, exc) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(name, info.st_mode)
        if info.st_size > max_bytes:
            raise _too_large(name, max_bytes, info.st_size)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise _too_large(name, max_bytes)
    except OSError as exc:
        raise _refuse(name, f"lecture impossible ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)
    return b"".join(chunks)


def _decode(raw: bytes, path: str) -> str:
    """Decode a CSV's bytes: UTF-8 (with or without BOM), else Windows-1252/Latin-1.

    A file that holds valid UTF-8 beyond ASCII is UTF-8: its stray bytes are kept as
    ``surrogateescape`` code points, for :func:`_text_problems` to report at their line. A file
    with no UTF-8 sequence at all is a Windows-1252 export.
    """
    sample = raw[:_BINARY_SAMPLE]
    if sample.count(b"\x00") * 100 > len(sample):
        raise _refuse(path, "ce n'est pas un fichier CSV texte (il contient des octets NUL) ; "
                      "exportez-le depuis le tableur au format 'CSV UTF-8'")
    bom = raw.startswith(b"\xef\xbb\xbf")
    if bom:
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", errors="surrogateescape")
    if bom or any(ord(c) > 0x7F and not 0xDC80 <= ord(c) <= 0xDCFF for c in text):
        return text
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceDataError(
            [Problem(path, line, None, repr(raw[exc.start : exc.start + 8]),
                     "le fichier n'est ni en UTF-8 ni en Windows-1252/Latin-1 ; "
                     "exportez-le à nouveau au format 'CSV UTF-8'")],
            summary=f"{path}: impossible de décoder le fichier",
        ) from exc


def _shown(cell: str) -> str:
    """Return the cell as shown in a message: bad bytes as U+FFFD, at most 80 characters."""
    text = _UNDECODED.sub("\ufffd", cell)
    return text if len(text) <= 80 else text[:77] + "..."


def _text_problems(path: str, header: list[str], records: list[list[str]],
                   starts: list[int]) -> Iterator[Problem]:
    """Yield a problem per cell holding a control character or a byte that is not UTF-8."""
    names = [h.strip() or None for h in header]
    for record, start in zip([header, *records], [1, *starts], strict=True):
        line = start
        for position, cell in enumerate(record):
            in_header = record is header or position >= len(names)
            column = None if in_header else names[position]
            for pattern, describe in ((CONTROL_CHARACTERS, _control), (_UNDECODED, _byte)):
                found = pattern.search(cell)
                if found:
                    at = line + len(_LINE_BREAK.findall(cell, 0, found.start()))
                    yield Problem(path, at, column, _shown(cell), describe(found.group()))
            line += len(_LINE_BREAK.findall(cell))


def _control(char: str) -> str:
    return (f"caractère de contrôle U+{ord(char):04X} interdit (souvent collé depuis une autre "
            "application) ; supprimez-le")


def _byte(char: str) -> str:
    return (f"octet 0x{ord(char) - 0xDC00:02X} : pas de l'UTF-8 valide ; enregistrez le "
            "fichier en UTF-8 (dans le tableur : 'CSV UTF-8')")


def read_csv_records(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, list[int]]:
    """Read a user-edited CSV into strings, remembering each record's line number.

    Accepts UTF-8 with or without BOM, Windows-1252/Latin-1 exports, CRLF line ends, and
    ``,``, ``;`` or tab as delimiter. Cells are normalised (:func:`pipeline.textsafe.clean_text`:
    NFC accents, plain spaces, no zero-width characters, LF inside a cell), stripped of
    surrounding white space, and unguarded (:func:`pipeline.textsafe.restore_formula`), so
    that the CSVs the pipeline writes read back as they were.

    Parameters
    ----------
    path
        The CSV file.

    Returns
    -------
    frame : pandas.DataFrame
        One row per record, every cell a ``str`` (empty string when missing).
    lines : list of int
        The 1-based line in the file where each record starts (the header is line 1; CRLF,
        LF and CR each end a line, as in spreadsheets and text editors).

    Raises
    ------
    SourceDataError
        If the file is missing, not a regular file, empty, not text, too large, has no
        header, or holds control characters or bytes that are not UTF-8 (each named with its
        line and column).
    """
    name = str(path)
    text = _decode(read_input_bytes(path), name)
    if not text.strip():
        raise _refuse(name, "le fichier est vide ; il faut une ligne d'en-tête et une ligne "
                      "par école", summary="fichier vide")
    header_line = _LINE_BREAK.split(text, maxsplit=1)[0]
    delimiter = max(_DELIMITERS, key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        raw_header = next(reader)
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
    # One pass over the whole text first: the cell by cell search runs only if needed.
    suspect = CONTROL_CHARACTERS.search(text) or _UNDECODED.search(text)
    text_problems = list(_text_problems(name, raw_header, records, lines)) if suspect else []
    if text_problems:
        shown = text_problems[:MAX_TEXT_PROBLEMS]
        if len(text_problems) > len(shown):
            shown.append(Problem(name, None, None, None,
                                 f"et {len(text_problems) - len(shown)} autre(s)"))
        raise SourceDataError(
            shown, summary=f"{name}: {len(text_problems)} caractère(s) interdit(s) ; rien "
            "n'a été écrit")
    header = [clean_text(h).strip() for h in raw_header]
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
        cells = [restore_formula(clean_text(c).strip()).strip()
                 for c in record[: len(header)]]
        rows.append(cells + [""] * (len(header) - len(cells)))
    if problems:
        raise SourceDataError(problems,
                              summary=f"{name}: {len(problems)} ligne(s) mal formée(s)")
    import pandas as pd

    frame = pd.DataFrame(rows, columns=header, dtype=object)
    kept = [ln for ln, rec in zip(lines, records, strict=True)
            if len(rec) <= len(header) or not any(c.strip() for c in rec[len(header):])]
    return frame, kept
