"""Join step: place the geocoded sites in départements and mark each département's coverage."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import geopandas as gpd
import pandas as pd

from pipeline.config import STORAGE_CRS
from pipeline.errors import GeocodingError
from pipeline.french import join_french
from pipeline.schema import (
    DEPARTEMENTS_COLUMNS,
    STATUS_COVERED,
    STATUS_NEW,
    STATUS_NONE,
)

log = logging.getLogger(__name__)

#: Decimals kept on longitude and latitude (1e-6 degree is about 0.1 m): stable bytes.
COORDINATE_DECIMALS = 6
#: How far outside every département polygon a site may lie and still be given the nearest
#: one: the embedded boundaries are generalised by about 500 m (0.005°) along coasts.
NEAREST_TOLERANCE_M = 1000.0
#: Columns of the mismatch report, one row per site whose declared département differs from
#: the one its point falls in.
MISMATCH_COLUMNS = ("id", "nom", "commune", "code_insee", "departement", "departement_spatial")

#: The arrondissement part of a commune name ("Lyon 9e Arrondissement", "Paris 1er
#: arrondissement", "Marseille 15ème Arrondissement"), which the annex labels leave out.
_ARRONDISSEMENT = re.compile(r"\s+\d{1,2}\s*(?:e|er|ère|ème|eme)\s+arrondissement\b",
                             re.IGNORECASE)

#: Spelling corrections of the annex's place labels, applied when building ``etiquette``:
#: the annex's text as written (kept verbatim in ``libelle_annexe``) → the label printed.
#: Pass ``label_corrections={}`` to :func:`mark_coverage` to print the annex's labels as is.
ANNEX_LABEL_CORRECTIONS: Mapping[str, str] = MappingProxyType({
    "Châteaubriand": "Châteaubriant",  # the commune of Loire-Atlantique (44)
    "Saint-Eloi": "Saint-Éloi",  # the school of Annecy, named after Saint Éloi
})

_REQUIRED_SITE_COLUMNS = (
    "id", "nom", "commune", "departement", "longitude", "latitude", "statut_geocodage",
)


@dataclass(frozen=True)
class Coverage:
    """Result of :func:`mark_coverage`.

    Attributes
    ----------
    sites
        One point per site (EPSG:4326) with ``departement_spatial``, ``categorie`` and
        ``etiquette`` added, in the input's order.
    departements
        The départements sorted by ``code``, with ``statut``, ``nb_ecoles_existantes``,
        ``nb_laureats_ingenierie`` and ``nb_laureats_investissement``.
    mismatches
        Sites whose declared ``departement`` is not the one their point falls in (or whose
        point falls in none): columns :data:`MISMATCH_COLUMNS`. Empty when all agree.
    """

    sites: gpd.GeoDataFrame
    departements: gpd.GeoDataFrame
    mismatches: pd.DataFrame


def _present(value: object) -> bool:
    """Whether a cell holds a non-blank value."""
    return isinstance(value, str) and bool(value.strip())


def make_label(place: str, metier: object) -> str:
    """Build an annex label: "place + trade", e.g. "O'Tech Usinage et chaudronnerie".

    The arrondissement part of a commune name is left out, as on the annex: "Lyon 9e
    Arrondissement" with "usinage" reads "Lyon Usinage".

    Parameters
    ----------
    place
        The name shown on the annex, or the commune.
    metier
        Trades separated by ``;`` (``"usinage; chaudronnerie"``), or a missing value.

    Returns
    -------
    str
        The place, then the trades joined in French with the first letter capitalised.
    """
    name = " ".join(_ARRONDISSEMENT.sub("", place).split())
    text = metier if isinstance(metier, str) else ""
    trade = join_french([t.strip() for t in text.split(";") if t.strip()])
    if not trade:
        return name
    return f"{name} {trade[0].upper()}{trade[1:]}"


def categorize(existing: bool, ami: object) -> str:
    """Return a site's drawing category; the laureate category wins over "existante".

    Parameters
    ----------
    existing
        Whether the school existed on 23 November 2021.
    ami
        ``"ingenierie"``, ``"investissement"`` or a missing value.

    Returns
    -------
    str
        One of :data:`pipeline.schema.ANNEX_CATEGORIES`.
    """
    if ami in ("investissement", "ingenierie"):
        return str(ami)
    return "existante" if existing else "autre"


def _check_geocoded(sites: pd.DataFrame) -> None:
    """Raise GeocodingError listing every site without a usable point."""
    missing = [c for c in _REQUIRED_SITE_COLUMNS if c not in sites.columns]
    if missing:
        raise GeocodingError(
            f"il manque aux sites la/les colonne(s) {', '.join(missing)} ; passez la sortie de "
            "pipeline.steps.geocode.geocode_sites (colonnes du registre plus longitude, "
            "latitude, statut_geocodage)")
    lon = pd.to_numeric(sites["longitude"], errors="coerce")
    lat = pd.to_numeric(sites["latitude"], errors="coerce")
    bad = ~sites["statut_geocodage"].eq("ok").fillna(False) | lon.isna() | lat.isna()
    if bad.any():
        rows = sites[bad]
        listed = "\n".join(
            f"  - id {r.id!r} : commune {r.commune!r}, département {r.departement!r}, "
            f"statut_geocodage {r.statut_geocodage!r}"
            for r in rows.itertuples(index=False))
        raise GeocodingError(
            f"{len(rows)} site(s) sans position sûre, dont le département ne peut être "
            f"vérifié :\n{listed}\n"
            "Corrigez le nom de la commune (ou écrivez son nom officiel) dans le registre, "
            "puis relancez.")


def _nearest(point: object, departements: gpd.GeoDataFrame) -> tuple[str | None, float]:
    """Return the nearest département to ``point`` and its distance in metres.

    Distances are measured in an azimuthal equidistant projection centred on the point, so
    they are true for metropolitan France and overseas alike.
    """
    lon, lat = point.x, point.y  # type: ignore[attr-defined]
    local = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m"
    projected = departements.to_crs(local)
    distances = projected.distance(gpd.points_from_xy([0.0], [0.0], crs=local)[0])
    order = pd.DataFrame({"code": departements["code"], "d": distances.round(3)})
    best = order.sort_values(["d", "code"]).iloc[0]
    return str(best["code"]), float(best["d"])


def _spatial_departement(points: gpd.GeoDataFrame, departements: gpd.GeoDataFrame,
                         declared: pd.Series, tolerance_m: float,
                         ) -> tuple[pd.Series, pd.Series]:
    """Return the département each point lies in, and its distance to it (0 inside).

    A point on a border between two départements intersects both: the declared département
    wins when it is one of them, else the smallest code, so the answer never depends on
    row order. A point in no polygon (a coastal town hall just outside a simplified
    coastline) takes the nearest département within ``tolerance_m`` metres; beyond, ``<NA>``.
    """
    hits = gpd.sjoin(points[["geometry"]], departements[["code", "geometry"]],
                     how="left", predicate="intersects")
    hits = hits.assign(_declared=declared.reindex(hits.index).to_numpy())
    hits["_rank"] = (~hits["code"].eq(hits["_declared"]).fillna(False)).astype(int)
    hits = hits.reset_index(names="_row").sort_values(["_row", "_rank", "code"],
                                                      na_position="last")
    codes = hits.drop_duplicates("_row").set_index("_row")["code"].reindex(points.index)
    codes = codes.astype(object)
    distance = pd.Series(0.0, index=points.index)
    for row in codes.index[codes.isna()]:
        code, metres = _nearest(points.geometry.loc[row], departements)
        distance.loc[row] = metres
        codes.loc[row] = code if metres <= tolerance_m else None
        log.info("le site %s est à %.0f m hors du département le plus proche, %s",
                 points.loc[row, "id"], metres, code)
    return codes.astype("string"), distance


@dataclass(frozen=True)
class Placement:
    """Result of :func:`place_sites`.

    Attributes
    ----------
    points
        One point per site (EPSG:4326), the input's columns plus ``departement_spatial`` and
        ``distance_departement_m``, in the input's order.
    mismatches
        Sites whose declared ``departement`` is not the one their point falls in (or whose
        point falls in none): columns :data:`MISMATCH_COLUMNS`. Empty when all agree.
    """

    points: gpd.GeoDataFrame
    mismatches: pd.DataFrame


def _storage(departements: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Départements in EPSG:4326, sorted by code, with a fresh index."""
    if departements.crs is None:
        raise GeocodingError("les départements n'ont pas de système de coordonnées ; "
                             "EPSG:4326 attendu (pipeline.sources.inputs.read_departements)")
    deps = departements.to_crs(STORAGE_CRS) if not departements.crs.equals(STORAGE_CRS) \
        else departements.copy()
    return deps.sort_values("code", kind="stable").reset_index(drop=True)


def place_sites(sites: pd.DataFrame, departements: gpd.GeoDataFrame, *,
                tolerance_m: float = NEAREST_TOLERANCE_M) -> Placement:
    """Turn geocoded sites into points and find the département each one lies in.

    Parameters
    ----------
    sites
        Geocoded sites (:func:`pipeline.steps.geocode.geocode_sites`): at least ``id``,
        ``nom``, ``commune``, ``departement``, ``longitude``, ``latitude`` (WGS84) and
        ``statut_geocodage``.
    departements
        Départements (:func:`pipeline.sources.inputs.read_departements`): ``code``, ``nom``,
        geometry, in any CRS.
    tolerance_m
        A site in no département polygon is given the nearest one if it is at most this far
        (generalised coastlines miss some seaside town halls); its distance is kept in
        ``distance_departement_m``.
    label_corrections
        Annex label as written → label printed in ``etiquette`` (default
        :data:`ANNEX_LABEL_CORRECTIONS`; ``{}`` keeps the annex's spelling).

    Returns
    -------
    Placement
        The points and the sites whose declared département disagrees with their position.
        Inputs are not modified.

    Raises
    ------
    GeocodingError
        If any site's ``statut_geocodage`` is not "ok" or it lacks coordinates (every such
        site is listed: the caller decides how to fix them, none is silently dropped).
    """
    _check_geocoded(sites)
    deps = _storage(departements)
    frame = pd.DataFrame(sites).reset_index(drop=True).copy()
    frame["longitude"] = pd.to_numeric(frame["longitude"]).round(COORDINATE_DECIMALS)
    frame["latitude"] = pd.to_numeric(frame["latitude"]).round(COORDINATE_DECIMALS)
    points = gpd.GeoDataFrame(
        frame, geometry=gpd.points_from_xy(frame["longitude"], frame["latitude"]),
        crs=STORAGE_CRS)
    points["departement_spatial"], points["distance_departement_m"] = _spatial_departement(
        points, deps, frame["departement"], tolerance_m)
    wrong = points["departement_spatial"].isna() | points["departement_spatial"].ne(
        frame["departement"].astype("string")).fillna(True)
    mismatches = pd.DataFrame(points[wrong.to_numpy()]).reindex(
        columns=list(MISMATCH_COLUMNS)).reset_index(drop=True)
    if len(mismatches):
        log.warning("%d site(s) hors de leur département déclaré : %s",
                    len(mismatches), ", ".join(mismatches["id"]))
    return Placement(points, mismatches)


def site_labels(sites: pd.DataFrame, *,
                label_corrections: Mapping[str, str] = ANNEX_LABEL_CORRECTIONS) -> list[str]:
    """Return each site's label: the annex's place (or the commune) and the trades.

    Parameters
    ----------
    sites
        Rows with ``libelle_annexe``, ``commune`` and ``metier``.
    label_corrections
        Annex label as written → label printed (default :data:`ANNEX_LABEL_CORRECTIONS`;
        ``{}`` keeps the annex's spelling).

    Returns
    -------
    list of str
        :func:`make_label` of each row, in order.
    """
    return [make_label(label_corrections.get(lib, lib) if _present(lib) else com, met)
            for lib, com, met in
            zip(sites["libelle_annexe"], sites["commune"], sites["metier"], strict=True)]


def annex_coverage(points: gpd.GeoDataFrame, departements: gpd.GeoDataFrame, *,
                   label_corrections: Mapping[str, str] = ANNEX_LABEL_CORRECTIONS) -> Coverage:
    """Mark the annex's categories of placed sites and every département's coverage.

    Parameters
    ----------
    points
        Registry sites placed by :func:`place_sites` (registry columns plus
        ``departement_spatial``).
    departements
        Départements (``code``, ``nom``, geometry).
    label_corrections
        As for :func:`site_labels`.

    Returns
    -------
    Coverage
        Sites with ``categorie`` and ``etiquette`` added; départements with ``statut``
        ("deja_couvert": at least one school existing on 23 November 2021;
        "nouvellement_couvert": none, but at least one AMI laureate; "non_couvert") and
        integer counts; no mismatches (they are :func:`place_sites`' business). Inputs are
        not modified.
    """
    deps = _storage(departements)
    points = points.copy()
    points["categorie"] = [categorize(bool(e), a) for e, a in
                           zip(points["existante_2021"], points["ami_2021"], strict=True)]
    points["etiquette"] = site_labels(points, label_corrections=label_corrections)
    where = points["departement_spatial"]
    counts = pd.DataFrame({
        "nb_ecoles_existantes": points["existante_2021"].astype(bool),
        "nb_laureats_ingenierie": points["ami_2021"].eq("ingenierie").fillna(False),
        "nb_laureats_investissement": points["ami_2021"].eq("investissement").fillna(False),
    }).astype("int64").groupby(where.to_numpy()).sum()
    for column in counts.columns:
        deps[column] = deps["code"].map(counts[column]).fillna(0).astype("int64")
    laureates = deps["nb_laureats_ingenierie"] + deps["nb_laureats_investissement"]
    deps["statut"] = STATUS_NONE
    deps.loc[laureates.gt(0), "statut"] = STATUS_NEW
    deps.loc[deps["nb_ecoles_existantes"].gt(0), "statut"] = STATUS_COVERED
    deps = deps[[*DEPARTEMENTS_COLUMNS, deps.geometry.name]]
    return Coverage(points, deps, pd.DataFrame(columns=list(MISMATCH_COLUMNS)))


def mark_coverage(sites: pd.DataFrame, departements: gpd.GeoDataFrame, *,
                  tolerance_m: float = NEAREST_TOLERANCE_M,
                  label_corrections: Mapping[str, str] = ANNEX_LABEL_CORRECTIONS) -> Coverage:
    """Place each geocoded site in its département and mark every département's coverage.

    :func:`place_sites` then :func:`annex_coverage`, in one call.

    Parameters
    ----------
    sites
        Geocoded registry (:func:`pipeline.steps.geocode.geocode_sites`): registry columns
        plus ``longitude``, ``latitude`` (WGS84) and ``statut_geocodage``.
    departements
        Départements (:func:`pipeline.sources.inputs.read_departements`): ``code``, ``nom``,
        geometry, in any CRS (reprojected to EPSG:4326).
    tolerance_m
        As for :func:`place_sites`.
    label_corrections
        As for :func:`site_labels`.

    Returns
    -------
    Coverage
        Sites as points with ``departement_spatial``, ``distance_departement_m`` (0 when
        inside), ``categorie``, ``etiquette``; départements with ``statut`` and integer
        counts; the sites whose declared département disagrees with their position.

    Raises
    ------
    GeocodingError
        If any site's ``statut_geocodage`` is not "ok" or it lacks coordinates.
    """
    placed = place_sites(sites, departements, tolerance_m=tolerance_m)
    coverage = annex_coverage(placed.points, departements, label_corrections=label_corrections)
    return Coverage(coverage.sites, coverage.departements, placed.mismatches)


def add_places(coverage: Coverage, regions: pd.DataFrame) -> Coverage:
    """Name each site's département and région, and each département's région.

    Parameters
    ----------
    coverage
        From :func:`annex_coverage` or a dated coverage: sites with ``departement``,
        départements with ``code`` and ``nom``.
    regions
        ``departement, code_region, nom_region``
        (:func:`pipeline.sources.embedded.read_regions`).

    Returns
    -------
    Coverage
        Copies: sites with ``nom_departement``, ``code_region``, ``nom_region`` after
        ``departement``; départements with ``code_region``, ``nom_region`` after ``nom``.
    """
    region = regions.set_index(regions["departement"].astype(str))
    names = dict(zip(coverage.departements["code"].astype(str),
                     coverage.departements["nom"].astype(str), strict=True))
    sites = coverage.sites.copy()
    codes = sites["departement"].astype(str)
    at = list(sites.columns).index("departement") + 1
    sites.insert(at, "nom_departement", codes.map(names).astype(object))
    for offset, column in enumerate(("code_region", "nom_region"), start=1):
        sites.insert(at + offset, column, codes.map(region[column]).astype(object))
    deps = coverage.departements.copy()
    codes = deps["code"].astype(str)
    at = list(deps.columns).index("nom") + 1
    for offset, column in enumerate(("code_region", "nom_region")):
        deps.insert(at + offset, column, codes.map(region[column]).astype(object))
    return Coverage(sites, deps, coverage.mismatches)

