"""File reading and writing, kept apart from the steps so that each step runs without disk.

Every writer here is atomic: it writes to a temporary file in the destination folder and
renames it over the target only once complete, so a failed or interrupted run never leaves a
half-written output behind.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import PipelineError, Problem, SourceDataError

if TYPE_CHECKING:  # pandas is imported where a table is built, not on import: see build.py
    import pandas as pd

#: Delimiters accepted in a registry CSV (spreadsheets in France export with ";").
_DELIMITERS = ",;\t"
#: Refuse to parse files larger than this: a registry is a few kilobytes.
MAX_CSV_BYTES = 5 * 1024 * 1024


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` on success.

    Parameters
    ----------
    target
        Final path of the file to write.

    Yields
    ------
    Path
        Temporary path to write to, in the same folder (so the rename is atomic).
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.stem}-", suffix=target.suffix + ".tmp", dir=target.parent
        )
    except OSError as exc:
        raise PipelineError(
            f"cannot write to {target.parent}: {exc.strerror}. "
            "Check that the folder exists and is writable, or choose another output."
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(data: bytes, target: str | os.PathLike[str]) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(text: str, target: str | os.PathLike[str], *, bom: bool = False) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically, with a byte-order mark if asked.

    Parameters
    ----------
    text
        Content; lines should end with a newline.
    target
        Destination path.
    bom
        Prefix a UTF-8 BOM, so that spreadsheet programs detect the encoding of a CSV.
    """
    write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"), target)


def write_csv(frame: pd.DataFrame, target: str | os.PathLike[str], *, bom: bool = False) -> None:
    """Write ``frame`` as a comma-separated UTF-8 CSV, atomically and deterministically."""
    write_text(frame.to_csv(index=False, lineterminator="\n"), target, bom=bom)


def _decode(raw: bytes, path: str) -> str:
    """Decode a CSV's bytes: UTF-8 (with or without BOM), else Windows-1252/Latin-1."""
    if b"\x00" in raw[:65536]:
        raise SourceDataError(
            [Problem(path, None, None, None,
                     "this is not a text CSV file (it contains NUL bytes); export the "
                     "registry from your spreadsheet as 'CSV UTF-8'")],
            summary=f"{path}: cannot read the file",
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
                         "the file is neither UTF-8 nor Windows-1252/Latin-1; "
                         "re-export it as 'CSV UTF-8'")],
                summary=f"{path}: cannot decode the file",
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
                [Problem(name, None, None, f"{size} bytes",
                         f"file is larger than {MAX_CSV_BYTES // 1024 // 1024} MB, which no "
                         "registry of schools needs; check you passed the right file")],
                summary=f"{name}: refusing to read the file",
            )
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        raise SourceDataError(
            [Problem(name, None, None, None, "file not found; check the path")],
            summary=f"{name}: cannot read the file",
        ) from exc
    except IsADirectoryError as exc:
        raise SourceDataError(
            [Problem(name, None, None, None, "this is a folder, not a CSV file")],
            summary=f"{name}: cannot read the file",
        ) from exc
    text = _decode(raw, name)
    if not text.strip():
        raise SourceDataError(
            [Problem(name, None, None, None, "the file is empty; it needs a header line "
                     "and one line per school")],
            summary=f"{name}: empty file",
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
            [Problem(name, reader.line_num, None, None, f"malformed CSV ({exc}); check quotes")],
            summary=f"{name}: cannot parse the file",
        ) from exc
    problems = []
    rows = []
    for record, line in zip(records, lines, strict=True):
        if len(record) > len(header):
            extra = [c for c in record[len(header):] if c.strip()]
            if extra:
                problems.append(Problem(
                    name, line, None, extra[0],
                    f"{len(record)} fields but the header has {len(header)}; "
                    f"quote values containing {delimiter!r}"))
                continue
        cells = [c.strip() for c in record[: len(header)]]
        rows.append(cells + [""] * (len(header) - len(cells)))
    if problems:
        raise SourceDataError(problems, summary=f"{name}: {len(problems)} malformed line(s)")
    import pandas as pd

    frame = pd.DataFrame(rows, columns=header, dtype=object)
    kept = [ln for ln, rec in zip(lines, records, strict=True)
            if len(rec) <= len(header) or not any(c.strip() for c in rec[len(header):])]
    return frame, kept


class Staging:
    """Stage a set of outputs in hidden folders beside their targets, then publish them at once.

    Each output is written in full to ``<target folder>/.staging-<pid>/<name>``; only when
    every output of a run exists does :meth:`publish` rename them over their targets (a rename
    within one folder tree on one file system is atomic). A run that fails or is interrupted
    before that leaves the previous outputs as they were. Staging folders left by a killed
    run (whose process no longer exists) are removed by the next run.
    """

    def __init__(self) -> None:
        self._folders: dict[Path, Path] = {}
        self._staged: list[tuple[Path, Path]] = []

    def path(self, target: str | os.PathLike[str]) -> Path:
        """Return where to write ``target`` for now; :meth:`publish` moves it into place."""
        target = Path(target)
        folder = target.parent
        if folder not in self._folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                _remove_stale_staging(folder)
                staging = folder / f".staging-{os.getpid()}"
                staging.mkdir(exist_ok=True)
            except OSError as exc:
                raise PipelineError(
                    f"cannot write to {folder}: {exc.strerror}. Check that the folder exists "
                    "and is writable, or choose another output folder."
                ) from exc
            self._folders[folder] = staging
        staged = self._folders[folder] / target.name
        self._staged.append((staged, target))
        return staged

    def publish(self) -> list[Path]:
        """Move every staged file over its target; return the targets."""
        missing = [str(s) for s, _ in self._staged if not s.is_file()]
        if missing:
            raise PipelineError(f"internal error: outputs not produced: {', '.join(missing)}")
        for staged, target in self._staged:
            os.chmod(staged, 0o644)
            os.replace(staged, target)
        return [target for _, target in self._staged]

    def discard(self) -> None:
        """Remove the staging folders and whatever is left in them."""
        for staging in self._folders.values():
            shutil.rmtree(staging, ignore_errors=True)
        self._folders.clear()
        self._staged.clear()


@contextlib.contextmanager
def staged_outputs() -> Iterator[Staging]:
    """Yield a :class:`Staging`; publish it if the block succeeds, discard it in any case."""
    staging = Staging()
    try:
        yield staging
        staging.publish()
    finally:
        staging.discard()


def _remove_stale_staging(folder: Path) -> None:
    """Remove ``.staging-<pid>`` folders of processes that no longer run."""
    for stale in folder.glob(".staging-*"):
        pid = stale.name.removeprefix(".staging-")
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(stale, ignore_errors=True)
        except PermissionError:  # a live process of another user
            continue
