"""Atomic file replacement: write to a temporary file beside the target, then rename it.

Used by every writer, the caches of the online sources included, so that a failed or
interrupted run never leaves a half-written file under a final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import PipelineError


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
