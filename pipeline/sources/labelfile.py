"""The manual label offsets file (``data/raw/etiquettes.csv``): the last stubborn labels.

The file reads::

    id,dx,dy
    dunkerque,-40,12

``id`` is the site id of the registry; ``dx`` and ``dy`` are the offset, in points (1/72
inch, so the same on every preset and resolution), of the lower-left corner of the label
from its site, positive to the right and upwards. A leader line is drawn when the label
lands more than a marker away from its site. A label placed by hand is not moved by the
placer (:mod:`pipeline.outputs.maps.labels`), and the automatic labels avoid it.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Collection

from pipeline.errors import Problem, SourceDataError
from pipeline.sources.csvfile import read_csv_records

log = logging.getLogger(__name__)

#: Largest manual offset of a label, in points, either way (an A4 page is 595 points wide).
MAX_LABEL_OFFSET = 300.0


def read_label_overrides(path: str | os.PathLike[str], *,
                         known_ids: Collection[str] | None = None
                         ) -> dict[str, tuple[float, float]]:
    """Read the manual label offsets file (``id,dx,dy``, offsets in points).

    Offsets are bounded, at most :data:`MAX_LABEL_OFFSET` points either way (half an A4
    page's width), so that a typing slip cannot throw a label off the map.

    Parameters
    ----------
    path
        CSV file; see the module docstring for its columns.
    known_ids
        The site ids of the registry, if known: an offset for any other id is left out with
        a warning naming it (it would move nothing, and is most likely a typo).

    Returns
    -------
    dict
        Site id → (dx, dy) in points.

    Raises
    ------
    SourceDataError
        If the file is not a readable CSV (see
        :func:`pipeline.sources.csvfile.read_csv_records`), a column is missing, an offset is
        not a number or exceeds :data:`MAX_LABEL_OFFSET`, or an id appears twice.
    """
    name = str(path)
    frame, lines = read_csv_records(path)
    missing = [c for c in ("id", "dx", "dy") if c not in frame.columns]
    if missing:
        raise SourceDataError(
            [Problem(name, 1, None, ",".join(frame.columns),
                     f"colonne(s) absente(s) : {', '.join(missing)} ; l'en-tête doit être "
                     "'id,dx,dy'")],
            summary=f"{name}: fichier de décalages d'étiquettes invalide",
        )
    problems: list[Problem] = []
    offsets: dict[str, tuple[float, float]] = {}
    seen: set[str] = set()
    for (_, row), line in zip(frame.iterrows(), lines, strict=True):
        site = str(row["id"])
        if site in seen:
            problems.append(Problem(name, line, "id", site,
                                    "cet identifiant a déjà un décalage ; gardez une ligne "
                                    "par site"))
            continue
        seen.add(site)
        values = []
        for column in ("dx", "dy"):
            try:
                value = float(str(row[column]).replace(",", "."))
                if not math.isfinite(value):
                    raise ValueError(value)
            except ValueError:
                problems.append(Problem(name, line, column, str(row[column]),
                                        "pas un nombre ; donnez le décalage en points, par "
                                        "exemple 12 ou -8,5"))
                continue
            if abs(value) > MAX_LABEL_OFFSET:
                problems.append(Problem(
                    name, line, column, str(row[column]),
                    f"décalage hors limites ; restez entre {-MAX_LABEL_OFFSET:g} et "
                    f"{MAX_LABEL_OFFSET:g} points (la moitié de la largeur d'une page A4)"))
                continue
            values.append(value)
        if len(values) == 2:
            if known_ids is not None and site not in known_ids:
                log.warning("%s:%d : identifiant %r inconnu du registre ; ce décalage "
                            "d'étiquette est ignoré (vérifiez l'orthographe de l'id)",
                            name, line, site)
                continue
            offsets[site] = (values[0], values[1])
    if problems:
        raise SourceDataError(problems, summary=f"{name}: {len(problems)} décalage(s) invalide(s)")
    return offsets
