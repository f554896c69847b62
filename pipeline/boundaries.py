"""Boundaries step: the 101 départements as a GeoDataFrame, embedded (offline) or from IGN.

Every source ends in the same schema, the one :func:`normalize_departements` produces:
``code`` (TEXT: ``"01"``, ``"2A"``, ``"971"``), ``nom``, geometry (MultiPolygon,
EPSG:4326), sorted by ``code``, with the provenance in ``attrs`` (``source``: the attribution
line, ``edition``, ``licence``, ``url``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from pipeline.config import EMBEDDED_DEPARTEMENTS, STORAGE_CRS, sources
from pipeline.errors import BoundaryError

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

EMBEDDED: Final = "embedded"
IGN: Final = "ign"
#: Layer of the embedded GeoPackage (and of any GeoPackage this module writes).
LAYER: Final = "departements"
#: GDAL timestamp written into GeoPackages, so that the same input gives the same bytes.
FIXED_GPKG_DATE: Final = "2021-11-23T00:00:00Z"

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
        EPSG:4326), sorted by ``code`` with a fresh index; ``attrs`` copied from the input.

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
    out = out.sort_values("code", kind="stable", ignore_index=True)
    out.attrs = dict(departements.attrs)
    return out


def embedded_provenance() -> dict[str, str]:
    """Return the ``attrs`` of the embedded départements, read from ``sources.json``.

    Returns
    -------
    dict
        ``source`` (attribution line), ``edition``, ``licence``, ``url``, ``sha256``.
    """
    registry = sources()
    product = registry["products"]["departements_gpkg"]
    origin = registry["sources"][product["derived_from"][0]]
    return {
        "source": product["attribution"],
        "edition": product["edition"],
        "licence": product["licence"],
        "url": origin["url"],
        "sha256": product["sha256"],
    }


def read_departements(source: str | os.PathLike[str] = EMBEDDED, *, edition: str = "2021",
                      cache_dir: str | os.PathLike[str] | None = None,
                      progress: Callable[[int, int | None], None] | None = None,
                      ) -> gpd.GeoDataFrame:
    """Return the 101 départements from the embedded data, IGN, or a file.

    Parameters
    ----------
    source
        ``"embedded"`` (default, offline): the GeoPackage shipped in the package, derived
        from IGN ADMIN EXPRESS COG 2024 (see ``data/raw/README.md``). ``"ign"``: the
        authoritative IGN ADMIN EXPRESS COG CARTO layer, downloaded once and cached
        (:func:`pipeline.online.fetch_ign_departements`). Any other value is a path to a
        vector file of either IGN schema (GeoPackage, shapefile, GeoJSON).
    edition
        IGN edition for ``source="ign"`` (``"2021"`` is the vintage of the 2021 annex).
    cache_dir
        Download cache for ``source="ign"``.
    progress
        Called with (bytes done, bytes in all or None) while an IGN archive downloads.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code``, ``nom``, geometry (MultiPolygon, EPSG:4326), sorted by ``code``; ``attrs``
        carry the provenance (``source``, ``edition``, ``licence``, ``url``).

    Raises
    ------
    BoundaryError
        If the file is missing or unreadable, or its schema is not an IGN one.
    """
    if source == IGN:
        # The online path lives in pipeline.online (HTTP, cache, archives); imported here
        # only when asked, so that the offline path never needs it.
        from pipeline.online import fetch_ign_departements

        return fetch_ign_departements(edition=edition, cache_dir=cache_dir, progress=progress)
    if source == EMBEDDED:
        return _read_embedded()
    path = Path(source)
    departements = normalize_departements(_read_file(path), origin=str(path))
    departements.attrs.update({"source": f"fichier {path.name}", "edition": "",
                               "licence": "", "url": str(path)})
    return departements


def _read_file(path: Path, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a vector file with pyogrio, turning its failures into a BoundaryError."""
    import pyogrio
    import shapely

    if not path.is_file():
        raise BoundaryError(f"{path}: no such file; pass 'embedded', 'ign' or the path of a "
                            "département layer (GeoPackage, shapefile, GeoJSON)")
    try:
        return pyogrio.read_dataframe(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.FeatureError, pyogrio.errors.GeometryError,
            UnicodeDecodeError,
            shapely.errors.GEOSException) as exc:
        # A damaged file fails in GDAL, or later while decoding its text or geometries.
        raise BoundaryError(f"{path}: cannot read the file as a vector layer ({exc}); "
                            "download it again or use the embedded boundaries") from exc


def _read_embedded() -> gpd.GeoDataFrame:
    """Read the packaged GeoPackage (already in the pipeline schema: no reprojection)."""
    if not EMBEDDED_DEPARTEMENTS.is_file():
        raise BoundaryError(
            f"{EMBEDDED_DEPARTEMENTS}: the embedded départements are missing; reinstall the "
            "package, or rebuild them with `python scripts/build_embedded.py`"
        )
    departements = _read_file(EMBEDDED_DEPARTEMENTS, layer=LAYER)
    departements.attrs.update(embedded_provenance())
    log.debug("read %d embedded départements from %s", len(departements),
              EMBEDDED_DEPARTEMENTS)
    return departements


def write_departements(departements: gpd.GeoDataFrame,
                       target: str | os.PathLike[str]) -> None:
    """Write départements to a GeoPackage (layer ``departements``), atomically.

    The bytes are deterministic: GDAL's timestamps are pinned (``OGR_CURRENT_DATE``), and the
    provenance in ``attrs`` goes into the layer description.

    Parameters
    ----------
    departements
        Départements in the pipeline schema.
    target
        Destination ``.gpkg``; replaced only once complete.
    """
    import pyogrio

    from pipeline.io import atomic_path

    provenance = departements.attrs.get("source", "")
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_GPKG_DATE})
    try:
        with atomic_path(target) as tmp, tempfile.TemporaryDirectory(
                dir=tmp.parent, prefix=".gpkg-") as work_dir:
            # GDAL wants a .gpkg name: write in a private folder, then move over the temp file.
            work = Path(work_dir) / "departements.gpkg"
            pyogrio.write_dataframe(
                departements, work, layer=LAYER, driver="GPKG",
                layer_options={"IDENTIFIER": "Départements",
                               "DESCRIPTION": f"Départements de France. Source : {provenance}"})
            os.replace(work, tmp)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})
