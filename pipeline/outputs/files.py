"""Writing files: atomic writers, and :class:`Staging`, which publishes a whole set or nothing.

Every writer is atomic: it writes to a temporary file in the destination folder and renames
it over the target only once complete. A command that writes several files stages them all,
then :meth:`Staging.publish` moves them into place as one transaction:

1. every staged file exists, and no target is a folder (else nothing moves);
2. each existing target gets a hard-linked backup in the staging folder;
3. a journal listing (staged, target, backup) is written and synced in every staging folder;
4. the staged files are renamed over their targets;
5. the journal of the first folder is deleted: that is the commit point; then the rest is
   cleaned up.

A failure during step 4 puts every backup back at once. A run killed during step 4 leaves its
journal: the next run that stages into one of those folders (every command does, at start)
finds the staging folder unlocked, puts the backups back and removes it, so the set on disk is
again the complete old one. A live run holds an ``flock`` on its staging folder, which is how
another run, even in another PID namespace, tells it from a dead one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pipeline.atomic import atomic_path, write_bytes, write_text
from pipeline.errors import PipelineError
from pipeline.schema import YES_NO
from pipeline.textsafe import neutralise_formula

__all__ = ["Staging", "atomic_path", "csv_text", "recover", "staged_outputs", "write_bytes",
           "write_csv", "write_text"]

if TYPE_CHECKING:  # pandas is imported where a table is built, not on import
    import pandas as pd

log = logging.getLogger(__name__)

STAGING_PREFIX: Final = ".staging-"
LOCK_NAME: Final = "verrou"
JOURNAL_NAME: Final = "journal.json"
#: A staging folder without its lock file is another run's, just created, unless it is older
#: than this (then its run died before it could lock it).
UNLOCKED_GRACE_S: Final = 600.0
#: The rename used to publish; tests replace it to inject a failure at a chosen rename.
_rename = os.replace


def csv_text(frame: pd.DataFrame) -> str:
    """Return ``frame`` as the pipeline's CSV files hold it (see :func:`write_csv`)."""
    return _spreadsheet_safe(frame).to_csv(index=False, lineterminator="\n")


def write_csv(frame: pd.DataFrame, target: str | os.PathLike[str], *, bom: bool = False) -> None:
    """Write ``frame`` as a comma-separated UTF-8 CSV, atomically and deterministically.

    The CSV is safe to open in a spreadsheet and to read back: a text cell that Excel or
    LibreOffice would evaluate (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) is
    guarded by a leading apostrophe (:func:`pipeline.textsafe.neutralise_formula`, which
    :func:`pipeline.sources.csvfile.read_csv_records` undoes), a line break inside a cell is
    written LF (and so quoted), and booleans are written ``oui`` / ``non`` as in the registry.
    """
    write_text(csv_text(frame), target, bom=bom)


def _spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text and boolean cells are as :func:`write_csv` says."""
    yes, no = YES_NO

    def cell(value: object) -> object:
        if isinstance(value, bool):
            return yes if value else no
        if isinstance(value, str):
            # The csv module quotes LF (our line end) but not a lone CR: write every break LF.
            return neutralise_formula(value.replace("\r\n", "\n").replace("\r", "\n"))
        return value

    from pandas.api.types import is_bool_dtype, is_object_dtype, is_string_dtype

    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if is_bool_dtype(values) or is_object_dtype(values) or is_string_dtype(values):
            safe[column] = values.map(cell)
    return safe


class Staging:
    """Stage a set of outputs in hidden folders beside their targets, then publish them at once.

    Each output is written in full to ``<target folder>/.staging-<random>/<name>``;
    :meth:`publish` then moves the whole set into place as one transaction (see the module
    docstring), or raises and leaves the previous set. Use it through
    :func:`staged_outputs`.
    """

    def __init__(self) -> None:
        self._folders: dict[Path, Path] = {}
        self._locks: list[int] = []
        self._staged: list[tuple[Path, Path]] = []

    def path(self, target: str | os.PathLike[str]) -> Path:
        """Return where to write ``target`` for now; :meth:`publish` moves it into place."""
        target = Path(target)
        folder = target.parent
        if folder not in self._folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                recover(folder)
                # A Ctrl-C between making the folder and recording it would leave it behind
                # (discard() removes only what it knows): hold the signals across both.
                held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
                try:
                    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
                    self._folders[folder] = staging
                    fd = os.open(staging / LOCK_NAME, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC,
                                 0o644)
                    self._locks.append(fd)
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, held)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                raise PipelineError(
                    f"impossible d'écrire dans {folder} : {exc.strerror}. Vérifiez que le "
                    "dossier existe et est accessible en écriture, ou choisissez-en un autre."
                ) from exc
        staged = self._folders[folder] / target.name
        if any(t == target for _, t in self._staged):
            raise PipelineError(f"erreur interne : {target} préparé deux fois")
        self._staged.append((staged, target))
        return staged

    def find(self, target: str | os.PathLike[str]) -> Path | None:
        """Return where ``target`` is being written, or None if it is not staged."""
        target = Path(target)
        for staged, known in self._staged:
            if known == target:
                return staged
        return None

    def path_of(self, target: str | os.PathLike[str]) -> Path:
        """Return where an already staged ``target`` is being written."""
        staged = self.find(target)
        if staged is None:
            raise PipelineError(f"erreur interne : {target} n'est pas préparé")
        return staged

    def publish(self) -> list[Path]:
        """Move every staged file over its target, all or none; return the targets.

        Raises
        ------
        PipelineError
            If a staged file is missing, a target is a folder, or a rename fails; the
            previous files are then all in place.
        """
        missing = [str(s) for s, _ in self._staged if not s.is_file()]
        if missing:
            raise PipelineError(f"erreur interne : fichiers non produits : {', '.join(missing)}")
        folders = [str(t) for _, t in self._staged if t.is_dir() and not t.is_symlink()]
        if folders:
            raise PipelineError(
                f"{', '.join(folders)} : un dossier porte le nom d'un fichier à écrire ; "
                "déplacez-le ou choisissez un autre dossier de sortie. Rien n'a été remplacé.")
        # A Ctrl-C or SIGTERM during the renames waits until the set is whole (either one).
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            entries = self._backups()
            journals = self._write_journals(entries)
            done = 0
            try:
                for staged, target, _ in entries:
                    os.chmod(staged, 0o644)
                    _rename(staged, target)
                    done += 1
            except OSError as exc:
                _roll_back(entries)
                raise PipelineError(
                    f"publication interrompue ({exc.strerror or exc} : {exc.filename}) ; "
                    "les fichiers précédents sont tous remis en place."
                ) from exc
            journals[0].unlink()  # the commit point
            for journal in journals[1:]:
                journal.unlink(missing_ok=True)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return [target for _, target in self._staged]

    def _backups(self) -> list[tuple[Path, Path, Path | None]]:
        """Hard-link each existing target into its staging folder (copy where links fail)."""
        entries: list[tuple[Path, Path, Path | None]] = []
        for i, (staged, target) in enumerate(self._staged):
            backup = None
            if os.path.lexists(target):
                backup = staged.parent / f".avant-{i}-{target.name}"
                try:
                    os.link(target, backup, follow_symlinks=False)
                except OSError:
                    shutil.copy2(target, backup, follow_symlinks=False)
            entries.append((staged, target, backup))
        return entries

    def _write_journals(self, entries: list[tuple[Path, Path, Path | None]]) -> list[Path]:
        """Write the journal in every staging folder, the first one (the primary) first."""
        stagings = list(self._folders.values())
        primary = stagings[0] / JOURNAL_NAME
        record: dict[str, Any] = {
            "pid": os.getpid(),
            "entrees": [[str(s.resolve()), str(t.resolve()), None if b is None else
                         str(b.resolve())] for s, t, b in entries],
            "journaux": [str((st / JOURNAL_NAME).resolve()) for st in stagings],
        }
        written = []
        for staging in stagings:
            journal = staging / JOURNAL_NAME
            body = dict(record, principal=str(primary.resolve()))
            tmp = staging / (JOURNAL_NAME + ".tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(body, f, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, journal)
            written.append(journal)
        return written

    def discard(self) -> None:
        """Remove the staging folders and whatever is left in them, and release the locks."""
        for staging in self._folders.values():
            shutil.rmtree(staging, ignore_errors=True)
        for fd in self._locks:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._folders.clear()
        self._locks.clear()
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


def _roll_back(entries: Iterable[tuple[Path, Path, Path | None]]) -> int:
    """Put every backup back over its target; remove targets that did not exist before.

    Safe to run on any prefix of the renames, and again: a target not yet replaced is the
    backup's own file, and a staged file still present was not moved.
    """
    restored = 0
    for staged, target, backup in entries:
        try:
            if backup is not None and os.path.lexists(backup):
                os.replace(backup, target)
                restored += 1
            elif backup is None and not os.path.lexists(staged) and os.path.lexists(target):
                os.unlink(target)
                restored += 1
        except OSError as exc:  # keep going: every other file must still be restored
            log.error("impossible de rétablir %s (%s)", target, exc)
    return restored


def _entries(record: dict[str, Any]) -> list[tuple[Path, Path, Path | None]]:
    return [(Path(s), Path(t), None if b is None else Path(b)) for s, t, b in record["entrees"]]


def _finish_dead(staging: Path) -> None:
    """Complete what a dead run left in ``staging``: undo an unfinished publish, clean up."""
    journal = staging / JOURNAL_NAME
    if journal.is_file():
        try:
            record = json.loads(journal.read_text(encoding="utf-8"))
            primary = Path(record["principal"])
            others = [Path(j) for j in record.get("journaux", [])]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("journal illisible %s (%s) ; dossier laissé en place", journal, exc)
            return
        if primary.is_file():  # not committed: the previous set comes back
            try:
                record = json.loads(primary.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.error("journal illisible %s (%s) ; dossier laissé en place", primary, exc)
                return
            restored = _roll_back(_entries(record))
            log.warning("publication interrompue du processus %s : %d fichier(s) remis dans "
                        "leur état précédent", record.get("pid", "?"), restored)
        for other in others:  # the same run's folders elsewhere: done with too
            if other.parent != staging:
                shutil.rmtree(other.parent, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)


def recover(folder: str | os.PathLike[str]) -> None:
    """Finish the publishes that dead runs left in ``folder`` (see the module docstring).

    A staging folder whose lock is held belongs to a live run and is left alone; one without
    a lock file is left alone unless older than :data:`UNLOCKED_GRACE_S`.

    Parameters
    ----------
    folder
        An output folder.
    """
    folder = Path(folder)
    try:
        candidates = sorted(folder.glob(STAGING_PREFIX + "*"))
    except OSError:
        return
    for staging in candidates:
        if not staging.is_dir() or staging.is_symlink():
            continue
        try:
            fd = os.open(staging / LOCK_NAME, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                if time.time() - staging.stat().st_mtime > UNLOCKED_GRACE_S:
                    shutil.rmtree(staging, ignore_errors=True)
            continue
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live run
            _finish_dead(staging)
        finally:
            os.close(fd)
