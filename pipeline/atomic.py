"""Atomic file replacement: write to a temporary file beside the target, then rename it.

Used by every writer, the caches of the online sources included, so that a failed or
interrupted run never leaves a half-written file under a final name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from pipeline.errors import PipelineError

#: Write failures of the disk itself, as users read them (French: see CONTRIBUTING.md).
_DISK_ERRORS: Final = {
    errno.ENOSPC: "disque plein",
    errno.EDQUOT: "quota disque dépassé",
    errno.EFBIG: "fichier trop gros pour ce système de fichiers",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.EIO: "erreur d'entrée-sortie du disque",
}


def disk_error(exc: OSError) -> str | None:
    """Describe a write that failed because of the disk (full, quota, read-only...), else None.

    Parameters
    ----------
    exc
        The error raised by a write, a rename or a mkdir.

    Returns
    -------
    str or None
        E.g. ``"disque plein"``; None when the error is not about the disk.
    """
    return _DISK_ERRORS.get(exc.errno) if exc.errno is not None else None


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
            f"impossible d'écrire dans {target.parent} : {exc.strerror}. Vérifiez que le "
            "dossier existe et est accessible en écriture, ou choisissez une autre sortie."
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        reason = disk_error(exc)
        if reason is None:
            raise
        # A full disk is no bug: say what to do, and the earlier file stays as it was.
        raise PipelineError(
            f"impossible d'écrire {target} : {reason}. Libérez de la place ou choisissez un "
            "autre dossier de sortie ; le fichier précédent est inchangé."
        ) from exc
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
