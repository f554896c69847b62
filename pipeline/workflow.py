"""Chains the steps for the CLI: read inputs, run ingest → geocode → join, in memory."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.ingest import validate_registry
from pipeline.io import read_csv_records

if TYPE_CHECKING:
    import geopandas as gpd

    from pipeline.join import Coverage
    from pipeline.report import Reconciliation


def load_registry(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate the registry CSV at ``path``.

    Parameters
    ----------
    path
        Registry file (UTF-8 or Latin-1, ``,`` or ``;`` separated).

    Returns
    -------
    pandas.DataFrame
        The validated registry (see :func:`pipeline.ingest.validate_registry`); its
        ``attrs["lines"]`` maps each id to its line in ``path``, for error messages.
    """
    records, lines = read_csv_records(path)
    sites = validate_registry(records, lines=lines, source=str(path))
    # validate_registry keeps every row in order, so lines align with the ids.
    sites.attrs["lines"] = dict(zip(sites["id"], lines, strict=True))
    return sites


def _or_none(value: object) -> str:
    """Return ``value`` as text, or "none" when missing."""
    return "none" if value is None or value is pd.NA or value != value else str(value)


def prepare_coverage(registry_path: str | os.PathLike[str], *,
                     departements_source: str | os.PathLike[str] | None = None,
                     ) -> tuple[Coverage, Reconciliation, dict[str, str]]:
    """Run ingest → geocode → boundaries → join in memory, refusing doubtful positions.

    Parameters
    ----------
    registry_path
        Registry CSV.
    departements_source
        Passed to :func:`pipeline.boundaries.read_departements` (default: embedded).

    Returns
    -------
    coverage : Coverage
        Sites and départements from :func:`pipeline.join.mark_coverage`.
    reconciliation : Reconciliation
        The counts against the press release, newly covered départements named.
    metadata : dict of str to str
        Dataset metadata for the GeoPackage (sources, editions, licence, registry checksum).

    Raises
    ------
    GeocodingError
        If a commune is not found or ambiguous.
    SourceDataError
        If a site's position falls outside its declared département (each one located by
        registry line).
    """
    import hashlib
    from pathlib import Path

    from pipeline.boundaries import read_departements
    from pipeline.errors import GeocodingError, Problem, SourceDataError
    from pipeline.geocode import geocode_sites, geocoding_problems, read_gazetteer
    from pipeline.gpkg import coverage_metadata
    from pipeline.join import mark_coverage
    from pipeline.report import reconcile

    sites = load_registry(registry_path)
    geocoded = geocode_sites(sites, read_gazetteer())
    line_of: dict[str, int] = sites.attrs["lines"]
    unresolved = geocoding_problems(geocoded, path=str(registry_path),
                                    lines=[line_of.get(str(i)) or 0 for i in geocoded["id"]])
    if unresolved:
        raise GeocodingError(
            f"{registry_path}: {len(unresolved)} commune(s) not placed; nothing was written\n"
            + "\n".join(f"  - {p}" for p in unresolved))
    departements = (read_departements() if departements_source is None
                    else read_departements(departements_source))
    coverage = mark_coverage(geocoded, departements)
    if not coverage.mismatches.empty:
        problems = [
            Problem(str(registry_path), line_of.get(str(row.id)), "departement",
                    str(row.departement),
                    f"site {row.id!r}: the commune {row.commune!r} (INSEE {row.code_insee}) "
                    f"lies in département {_or_none(row.departement_spatial)}; correct the "
                    "département, or the commune name if another commune was meant")
            for row in coverage.mismatches.itertuples(index=False)]
        raise SourceDataError(problems, summary=f"{registry_path}: {len(problems)} site(s) "
                              "outside their declared département")
    metadata = coverage_metadata(provenance=dict(departements.attrs) or None)
    digest = hashlib.sha256(Path(registry_path).read_bytes()).hexdigest()
    metadata["REGISTRE"] = (f"{Path(registry_path).name} : {len(sites)} sites, "
                            f"sha256 {digest}")
    return coverage, reconcile(coverage.sites, coverage.departements), metadata


def write_coverage_outputs(coverage: Coverage, reconciliation: Reconciliation,
                           gpkg_path: str | os.PathLike[str], *,
                           metadata: dict[str, str] | None = None) -> list[str]:
    """Write the GeoPackage and, next to it, ``ecoles.csv``, ``ecoles.md``, ``rapprochement.md``.

    Parameters
    ----------
    coverage
        Result of :func:`pipeline.join.mark_coverage`.
    reconciliation
        Result of :func:`pipeline.report.reconcile`.
    gpkg_path
        Destination of the GeoPackage; the other files go in the same folder.
    metadata
        Dataset metadata of the GeoPackage (default from ``sources.json``).

    Returns
    -------
    list of str
        The paths written, in order.
    """
    from pathlib import Path

    from pipeline.gpkg import write_coverage_gpkg
    from pipeline.io import write_csv, write_text
    from pipeline.report import sites_markdown, sites_table

    gpkg = Path(gpkg_path)
    folder = gpkg.parent
    write_coverage_gpkg(coverage.sites, coverage.departements, gpkg, metadata=metadata)
    write_csv(sites_table(coverage.sites), folder / "ecoles.csv", bom=True)
    write_text(sites_markdown(coverage.sites, coverage.departements), folder / "ecoles.md")
    write_text(reconciliation.markdown(), folder / "rapprochement.md")
    return [str(gpkg), *(str(folder / n) for n in ("ecoles.csv", "ecoles.md",
                                                    "rapprochement.md"))]


# --- Coverage over time (issue 7) -----------------------------------------------------------
#: Openings after the annex, next to the registry.
DEFAULT_OPENINGS = "data/raw/ouvertures.csv"


def load_openings(path: str | os.PathLike[str], registry: pd.DataFrame, *,
                  today: dt.date | None = None) -> pd.DataFrame:
    """Read and validate the openings after the annex (``data/raw/ouvertures.csv``).

    Parameters
    ----------
    path
        Openings CSV (see ``docs/history.md``).
    registry
        The validated 2021 registry (:func:`load_registry`).
    today
        Dates after this day are errors (default: today).

    Returns
    -------
    pandas.DataFrame
        See :func:`pipeline.history.validate_openings`; ``attrs["lines"]`` maps each id to
        its line in ``path``.
    """
    from pipeline.history import validate_openings

    records, lines = read_csv_records(path)
    openings = validate_openings(records, lines=lines, source=str(path), registry=registry,
                                 today=today)
    openings.attrs["lines"] = dict(zip(openings["id"], lines, strict=True))
    return openings


@dataclass(frozen=True)
class HistoryInputs:
    """Everything the maps over time need, geocoded and joined once.

    Attributes
    ----------
    registry, openings
        The validated inputs.
    sites
        Every site ever drawn (:func:`pipeline.history.all_sites`) as points (EPSG:4326),
        with the geocoder's columns, ``departement_spatial`` and ``etiquette``.
    departements
        The départements (``code``, ``nom``, geometry), sorted by code.
    metadata
        Dataset metadata for the GeoPackage (sources, registry and openings checksums).
    """

    registry: pd.DataFrame
    openings: pd.DataFrame
    sites: gpd.GeoDataFrame
    departements: gpd.GeoDataFrame
    metadata: dict[str, str]


def prepare_history(registry_path: str | os.PathLike[str],
                    openings_path: str | os.PathLike[str] = DEFAULT_OPENINGS, *,
                    departements_source: str | os.PathLike[str] | None = None,
                    today: dt.date | None = None) -> HistoryInputs:
    """Validate registry and openings, geocode every site once and place it in a département.

    Parameters
    ----------
    registry_path
        Registry CSV.
    openings_path
        Openings CSV.
    departements_source
        Passed to :func:`pipeline.boundaries.read_departements` (default: embedded).
    today
        Passed to :func:`load_openings`.

    Returns
    -------
    HistoryInputs
        Inputs of :func:`coverage_on`.

    Raises
    ------
    GeocodingError
        If a commune is not found or ambiguous (each located by file and line).
    SourceDataError
        If a site's position falls outside its declared département.
    """
    import hashlib
    from pathlib import Path

    from pipeline.boundaries import read_departements
    from pipeline.errors import GeocodingError, Problem, SourceDataError
    from pipeline.geocode import geocode_sites, geocoding_problems, read_gazetteer
    from pipeline.gpkg import coverage_metadata
    from pipeline.history import all_sites
    from pipeline.join import mark_coverage

    registry = load_registry(registry_path)
    openings = load_openings(openings_path, registry, today=today)
    registry_lines = {str(k): v for k, v in registry.attrs.get("lines", {}).items()} or {
        str(i): n for i, n in zip(registry["id"], range(2, len(registry) + 2), strict=True)}
    opening_lines = {str(k): v for k, v in openings.attrs["lines"].items()}

    def where(site_id: str) -> tuple[str, int | None]:
        if site_id in opening_lines:
            return str(openings_path), opening_lines[site_id]
        return str(registry_path), registry_lines.get(site_id)

    everything = all_sites(registry, openings)
    geocoded = geocode_sites(everything, read_gazetteer())
    problems = []
    for site_id in geocoded["id"].astype(str):
        file, line = where(site_id)
        problems += geocoding_problems(geocoded[geocoded["id"].eq(site_id)], path=file,
                                       lines=[line or 0])
    if problems:
        raise GeocodingError(f"{len(problems)} commune(s) not placed; nothing was written\n"
                             + "\n".join(f"  - {p}" for p in problems))
    departements = (read_departements() if departements_source is None
                    else read_departements(departements_source))
    joined = mark_coverage(geocoded, departements)
    if not joined.mismatches.empty:
        located = []
        for row in joined.mismatches.to_dict("records"):
            file, line = where(str(row["id"]))
            located.append(Problem(
                file, line, "departement", str(row["departement"]),
                f"site {row['id']!r}: the commune {row['commune']!r} (INSEE "
                f"{row['code_insee']}) lies in département {_or_none(row['departement_spatial'])}"
                "; correct the département, or the commune name if another commune was meant"))
        raise SourceDataError(located, summary=f"{len(located)} site(s) outside their "
                              "declared département")
    metadata = coverage_metadata(provenance=dict(departements.attrs) or None)
    for key, path, count in (("REGISTRE", registry_path, len(registry)),
                             ("OUVERTURES", openings_path, len(openings))):
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        metadata[key] = f"{Path(path).name} : {count} sites, sha256 {digest}"
    deps = joined.departements[["code", "nom", joined.departements.geometry.name]]
    return HistoryInputs(registry, openings, joined.sites, deps, metadata)


def coverage_on(inputs: HistoryInputs, day: dt.date) -> Coverage:
    """Return the sites and département statuses of ``day``, with their geometries.

    Parameters
    ----------
    inputs
        From :func:`prepare_history`.
    day
        The date of the map.

    Returns
    -------
    Coverage
        ``sites``: :func:`pipeline.history.sites_as_of` columns plus the geocoder's,
        ``departement_spatial``, ``etiquette``, ``categorie`` (dated categories of
        :func:`pipeline.history.site_categories`) and the point; ``departements``: ``code``,
        ``nom``, ``statut`` (:func:`pipeline.history.coverage_as_of`), the counts and
        ``premiere_ouverture``; no mismatches (checked by :func:`prepare_history`).
    """
    import geopandas as gpd

    from pipeline.history import coverage_as_of, site_categories, sites_as_of
    from pipeline.join import Coverage

    placed = inputs.sites.set_index("id")
    sites = sites_as_of(inputs.registry, inputs.openings, day)
    extra = ["code_insee", "nom_commune", "longitude", "latitude", "methode",
             "statut_geocodage", "departement_spatial", "distance_departement_m", "etiquette"]
    geometry = placed.geometry.name
    joined = sites.join(placed[[*extra, geometry]], on="id")
    joined["categorie"] = site_categories(sites)
    points = gpd.GeoDataFrame(joined, geometry=geometry, crs=inputs.sites.crs)
    spatial = dict(zip(points["id"].astype(str), points["departement_spatial"].astype(str),
                       strict=True))
    codes = inputs.departements["code"].astype(str).tolist()
    status = coverage_as_of(sites, departement_of_site=spatial, departements=codes)
    deps = inputs.departements.merge(status.rename(columns={"departement": "code"}),
                                     on="code", how="left", validate="one_to_one")
    columns = ["code", "nom", "statut", "nb_ecoles_ouvertes", "nb_ouvertures_depuis_annexe",
               "nb_laureats_annonces", "premiere_ouverture", deps.geometry.name]
    return Coverage(points, deps[columns], pd.DataFrame())


def prepare_coverage_as_of(registry_path: str | os.PathLike[str], *,
                           as_of: dt.date | None = None,
                           openings_path: str | os.PathLike[str] = DEFAULT_OPENINGS,
                           departements_source: str | os.PathLike[str] | None = None,
                           ) -> tuple[Coverage, Reconciliation | None, dict[str, str],
                                      HistoryInputs | None]:
    """Run :func:`prepare_coverage` at the annex date, else the coverage of ``as_of``.

    At the annex date (the default) this is exactly :func:`prepare_coverage`, openings
    unread, so the annex outputs keep their bytes.

    Parameters
    ----------
    registry_path
        Registry CSV.
    as_of
        Date of the coverage (default: the annex, 23 November 2021).
    openings_path
        Openings CSV, read only for another date.
    departements_source
        As for :func:`prepare_coverage`.

    Returns
    -------
    coverage : Coverage
        The annex coverage, or :func:`coverage_on` of ``as_of``.
    reconciliation : Reconciliation or None
        With the press release at the annex; None at another date.
    metadata : dict of str to str
        GeoPackage metadata (with ``DATE_COUVERTURE`` at another date).
    inputs : HistoryInputs or None
        At another date, what :func:`write_coverage_outputs_as_of` needs.
    """
    from pipeline.config import ANNEX_DATE

    if as_of is None or as_of == ANNEX_DATE:
        coverage, reconciliation, metadata = prepare_coverage(
            registry_path, departements_source=departements_source)
        return coverage, reconciliation, metadata, None
    inputs = prepare_history(registry_path, openings_path,
                             departements_source=departements_source)
    metadata = {**inputs.metadata, "DATE_COUVERTURE": as_of.isoformat()}
    return coverage_on(inputs, as_of), None, metadata, inputs


def write_coverage_outputs_as_of(coverage: Coverage, inputs: HistoryInputs, as_of: dt.date,
                                 gpkg_path: str | os.PathLike[str], *,
                                 metadata: dict[str, str] | None = None) -> list[str]:
    """Write the GeoPackage of ``as_of`` and, next to it, ``ecoles.csv`` and ``rapprochement.md``.

    The GeoPackage has DATE columns and the table ``couverture_historique`` (every date of
    :func:`pipeline.history.history_dates` up to ``as_of``, and ``as_of`` itself).

    Parameters
    ----------
    coverage
        From :func:`coverage_on`.
    inputs
        From :func:`prepare_history`.
    as_of
        Date of ``coverage``.
    gpkg_path
        Destination of the GeoPackage.
    metadata
        Dataset metadata (default: ``inputs.metadata``).

    Returns
    -------
    list of str
        The paths written, in order.
    """
    from pathlib import Path

    from pipeline.gpkg import write_coverage_gpkg
    from pipeline.history import (
        coverage_history,
        history_dates,
        reconcile_openings,
        reconcile_over_time,
        reconciliation_markdown,
    )
    from pipeline.io import write_csv, write_text
    from pipeline.report import sites_table

    spatial = dict(zip(inputs.sites["id"].astype(str),
                       inputs.sites["departement_spatial"].astype(str), strict=True))
    dates = sorted({*(d for d in history_dates(inputs.openings, until=as_of) if d <= as_of),
                    as_of})
    history = coverage_history(inputs.registry, inputs.openings, dates,
                               departement_of_site=spatial,
                               departements=inputs.departements["code"].astype(str).tolist())
    gpkg = Path(gpkg_path)
    write_coverage_gpkg(coverage.sites, coverage.departements, gpkg,
                        metadata=metadata or inputs.metadata, as_of=as_of, history=history)
    drawn = coverage.sites[coverage.sites["categorie"].ne("fermee")]
    write_csv(sites_table(drawn), gpkg.parent / "ecoles.csv", bom=True)
    reconciled = reconcile_over_time(inputs.registry, inputs.openings,
                                     departement_of_site=spatial)
    write_text(reconciliation_markdown(reconciled,
                                       reconcile_openings(inputs.registry, inputs.openings)),
               gpkg.parent / "rapprochement.md")
    return [str(gpkg), str(gpkg.parent / "ecoles.csv"), str(gpkg.parent / "rapprochement.md")]


def write_history_gpkg(inputs: HistoryInputs, path: str | os.PathLike[str], *,
                       dates: list[dt.date]) -> str:
    """Write the history GeoPackage: the coverage of the last date and the dated table.

    Layers ``ecoles`` and ``departements`` as of ``dates[-1]`` (with DATE columns
    ``date_ouverture``, ``date_fermeture``, ``premiere_ouverture``) and the attribute table
    ``couverture_historique``: one row per département per date of ``dates``.

    Parameters
    ----------
    inputs
        From :func:`prepare_history`.
    path
        Destination ``.gpkg``.
    dates
        Dates of the table, oldest first.

    Returns
    -------
    str
        ``path``.
    """
    from pipeline.gpkg import write_coverage_gpkg
    from pipeline.history import coverage_history

    last = max(dates)
    spatial = dict(zip(inputs.sites["id"].astype(str),
                       inputs.sites["departement_spatial"].astype(str), strict=True))
    history = coverage_history(inputs.registry, inputs.openings, dates,
                               departement_of_site=spatial,
                               departements=inputs.departements["code"].astype(str).tolist())
    coverage = coverage_on(inputs, last)
    write_coverage_gpkg(coverage.sites, coverage.departements, path,
                        metadata={**inputs.metadata, "DATE_COUVERTURE": last.isoformat()},
                        as_of=last, history=history)
    return str(path)
