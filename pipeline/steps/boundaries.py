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
            f"{origin}: no column {' or '.join(repr(c) for c in missing)} (expected "
            "INSEE_DEP/NOM as in ADMIN EXPRESS 3.x, or code_insee/nom_officiel as in 4.0; "
            f"found {', '.join(map(str, departements.columns))}). Pass an IGN département "
            "layer, or rename its columns to 'code' and 'nom'."
        )
    if frame.crs is None:
        raise BoundaryError(f"{origin}: the layer has no coordinate reference system; "
                            "give the file a .prj (shapefile) or use a GeoPackage")
    frame = frame.to_crs(STORAGE_CRS)
    geoms = frame.geometry.array
    kinds = shapely.get_type_id(geoms)
    bad = ~((kinds == 3) | (kinds == 6))  # Polygon, MultiPolygon
    codes = frame["code"].astype(str).str.strip().str.upper()
    codes = codes.where(~codes.str.fullmatch(r"\d"), codes.str.zfill(2))
    if bad.any():
        which = ", ".join(codes[bad].tolist()[:5])
        raise BoundaryError(f"{origin}: département(s) {which} have no polygon geometry; "
                            "the layer is damaged, download it again")
    twice = sorted(set(codes[codes.duplicated()]))
    if twice:
        raise BoundaryError(f"{origin}: code(s) {', '.join(twice)} appear more than once; "
                            "pass a layer with one feature per département")
    multi = shapely.multipolygons(shapely.get_parts(geoms[kinds == 3]).reshape(-1, 1))
    geometry = geoms.to_numpy().copy()
    geometry[kinds == 3] = multi
    out = gpd.GeoDataFrame(
        {"code": codes.to_numpy(), "nom": frame["nom"].astype(str).to_numpy()},
        geometry=gpd.GeoSeries(geometry, crs=STORAGE_CRS),
    )
    return out.sort_values("code", kind="stable", ignore_index=True)
