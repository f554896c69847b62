"""Boundaries step: any département layer (embedded, IGN 3.x or 4.0, a user's file) in one schema.

Every source ends in the schema :func:`normalize_departements` produces: ``code`` (TEXT:
``"01"``, ``"2A"``, ``"971"``), ``nom``, geometry (MultiPolygon, EPSG:4326), sorted by
``code``. Reading the layers is :mod:`pipeline.sources`' job.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from pipeline.config import STORAGE_CRS
from pipeline.errors import BoundaryError

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

#: One rename map for both IGN schemas: ADMIN EXPRESS 3.x shapefiles (``INSEE_DEP``, ``NOM``)
#: and 4.0 GeoPackage / WFS (``code_insee``, ``nom_officiel``, geometry ``geometrie``).
IGN_RENAME: Final[dict[str, str]] = {
    "INSEE_DEP": "code",
    "NOM": "nom",
    "code_insee": "code",
    "nom_officiel": "nom",
}


def normalize_departements(departements: gpd.GeoDataFrame, *,
                           origin: str = "<départements>") -> gpd.GeoDataFrame:
    """Bring a département layer of either IGN schema to the pipeline's schema.

    Parameters
    ----------
    departements
        Départements as read from IGN: 3.x (``INSEE_DEP``, ``NOM``), 4.0 (``code_insee``,
        ``nom_officiel``, geometry column ``geometrie``), or already ``code``/``nom``.
        Not modified.
    origin
        Where the layer came from, quoted in error messages.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code`` (upper case, ``"1"`` → ``"01"``), ``nom``, geometry (MultiPolygon,
        EPSG:4326), sorted by ``code`` with a fresh index.

    Raises
    ------
    BoundaryError
        If the code or name column is missing, the layer has no CRS, a code appears twice
        or a geometry is missing or not polygonal.
    """
    import geopandas as gpd
    import shapely

    frame = departements.rename(columns=IGN_RENAME)
    missing = [c for c in ("code", "nom") if c not in frame.columns]
    if missing:
        raise BoundaryError(
            f"{origin} : pas de colonne {' ni '.join(repr(c) for c in missing)} (attendu "
            "INSEE_DEP/NOM comme dans ADMIN EXPRESS 3.x, ou code_insee/nom_officiel comme en "
            f"4.0 ; trouvé {', '.join(map(str, departements.columns))}). Passez une couche de "
            "départements de l'IGN, ou renommez ses colonnes en 'code' et 'nom'."
        )
    if frame.crs is None:
        raise BoundaryError(f"{origin} : la couche n'a pas de système de coordonnées ; "
                            "donnez au fichier un .prj (shapefile) ou utilisez un GeoPackage")
    frame = frame.to_crs(STORAGE_CRS)
    geoms = frame.geometry.array
    kinds = shapely.get_type_id(geoms)
    bad = ~((kinds == 3) | (kinds == 6))  # Polygon, MultiPolygon
    codes = frame["code"].astype(str).str.strip().str.upper()
    codes = codes.where(~codes.str.fullmatch(r"\d"), codes.str.zfill(2))
    if bad.any():
        which = ", ".join(codes[bad].tolist()[:5])
        raise BoundaryError(f"{origin} : département(s) {which} sans géométrie polygonale ; "
                            "la couche est endommagée, téléchargez-la de nouveau")
    twice = sorted(set(codes[codes.duplicated()]))
    if twice:
        raise BoundaryError(f"{origin} : code(s) {', '.join(twice)} présent(s) plusieurs fois ; "
                            "passez une couche avec un objet par département")
    multi = shapely.multipolygons(shapely.get_parts(geoms[kinds == 3]).reshape(-1, 1))
    geometry = geoms.to_numpy().copy()
    geometry[kinds == 3] = multi
    out = gpd.GeoDataFrame(
        {"code": codes.to_numpy(), "nom": frame["nom"].astype(str).to_numpy()},
        geometry=gpd.GeoSeries(geometry, crs=STORAGE_CRS),
    )
    return out.sort_values("code", kind="stable", ignore_index=True)
