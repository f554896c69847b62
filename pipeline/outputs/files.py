"""Writing files: atomic writers and :class:`Staging`, which publishes a whole set or nothing.

Every writer here is atomic: it writes to a temporary file in the destination folder and
renames it over the target only once complete, so a failed or interrupted run never leaves a
half-written output behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.atomic import atomic_path, write_bytes, write_text
from pipeline.errors import PipelineError
from pipeline.schema import YES_NO
from pipeline.textsafe import neutralise_formula

__all__ = ["Staging", "atomic_path", "staged_outputs", "write_bytes", "write_csv", "write_text"]

if TYPE_CHECKING:  # pandas is imported where a table is built, not on import
    import pandas as pd


def write_csv(frame: pd.DataFrame, target: str | os.PathLike[str], *, bom: bool = False) -> None:
    """Write ``frame`` as a comma-separated UTF-8 CSV, atomically and deterministically.

    The CSV is safe to open in a spreadsheet and to read back: a text cell that Excel or
    LibreOffice would evaluate (starting with ``=``, ``+``, ``-``, ``@``, tab or CR) is
    guarded by a leading apostrophe (:func:`pipeline.textsafe.neutralise_formula`, which
    :func:`pipeline.sources.csvfile.read_csv_records` undoes), a line break inside a cell is
    written LF (and so quoted), and booleans are written ``oui`` / ``non`` as in the registry.
    """
    write_text(_spreadsheet_safe(frame).to_csv(index=False, lineterminator="\n"), target,
               bom=bom)


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
