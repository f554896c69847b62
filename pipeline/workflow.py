"""Chains the steps for the CLI: read inputs, run ingest → geocode → join, in memory."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, NamedTuple

import pandas as pd

from pipeline.config import DEFAULT_OPENINGS, map_stem
from pipeline.outputs.maps.mapdata import MapData, map_data
from pipeline.outputs.maps.texts import alt_text, dated_alt_text, dated_map_texts
from pipeline.sources.csvfile import read_csv_records
from pipeline.sources.inputs import Sources
from pipeline.steps.history import counts_over_time, dated_counts
from pipeline.steps.ingest import validate_registry

log = logging.getLogger(__name__)

GIF_NAME: Final = "ecoles-de-production-historique.gif"
CHART_STEM: Final = "ecoles-de-production-evolution"
RECONCILIATION_NAME: Final = "rapprochement-historique.md"

if TYPE_CHECKING:
    import geopandas as gpd

    from pipeline.steps.join import Coverage
    from pipeline.steps.report import Reconciliation


def read_registry(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Read and validate the registry CSV at ``path``, keeping each row's line number.

    Parameters
    ----------
    path
        Registry file (UTF-8 or Latin-1, ``,`` or ``;`` separated).

    Returns
    -------
    sites : pandas.DataFrame
        The validated registry (see :func:`pipeline.steps.ingest.validate_registry`).
    lines : dict of str to int
        Each id's line in ``path``, for error messages.
    """
    records, lines = read_csv_records(path)
    sites = validate_registry(records, lines=lines, source=str(path))
    # validate_registry keeps every row in order, so lines align with the ids. (Not kept in
    # DataFrame.attrs: pandas deep-copies attrs on every operation, which costs O(n) each.)
    return sites, dict(zip(sites["id"].astype(str), lines, strict=True))


def load_registry(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate the registry CSV at ``path`` (see :func:`read_registry`)."""
    return read_registry(path)[0]


def _or_none(value: object) -> str:
    """Return ``value`` as text, or "none" when missing."""
    return "none" if value is None or value is pd.NA or value != value else str(value)


def place_sites(sites: pd.DataFrame, *, where: Callable[[str], tuple[str, int | None]],
                sources: Sources | None = None) -> Coverage:
    """Geocode ``sites`` and place them in their départements, refusing doubtful positions.

    Parameters
    ----------
    sites
        Validated sites (registry columns).
    where
        Site id → (file, line) it comes from, to locate each problem.
    sources
        Boundaries and geocoder (default: embedded).

    Returns
    -------
    Coverage
        From :func:`pipeline.steps.join.mark_coverage`.

    Raises
    ------
    GeocodingError
        If a commune is not found or ambiguous (each one located by file and line).
    SourceDataError
        If a site's position falls outside its declared département.
    """
    from pipeline.errors import GeocodingError, Problem, SourceDataError
    from pipeline.steps.geocode import geocoding_problems
    from pipeline.steps.join import mark_coverage

    sources = sources or Sources()
    geocoded = sources.geocode(sites)
    located = [where(site_id) for site_id in geocoded["id"].astype(str)]
    unresolved: list[Problem] = []
    for file in dict.fromkeys(f for f, _ in located):  # each input file once, in order
        rows = [i for i, (f, _) in enumerate(located) if f == file]
        unresolved += geocoding_problems(geocoded.iloc[rows], path=file,
                                         lines=[located[i][1] or 0 for i in rows])
    if unresolved:
        raise GeocodingError(
            f"{len(unresolved)} commune(s) not placed; nothing was written\n"
            + "\n".join(f"  - {p}" for p in unresolved))
    coverage = mark_coverage(geocoded, sources.read_departements())
    if not coverage.mismatches.empty:
        problems = []
        for row in coverage.mismatches.to_dict("records"):
            file, line = where(str(row["id"]))
            problems.append(Problem(
                file, line, "departement", str(row["departement"]),
                f"site {row['id']!r}: the commune {row['commune']!r} (INSEE "
                f"{row['code_insee']}) lies in département "
                f"{_or_none(row['departement_spatial'])}; correct the département, or the "
                "commune name if another commune was meant"))
        raise SourceDataError(problems, summary=f"{len(problems)} site(s) outside their "
                              "declared département")
    return coverage


def _checksum_line(path: str | os.PathLike[str], count: int) -> str:
    """Metadata line naming an input file, its size in sites and its sha256."""
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return f"{Path(path).name} : {count} sites, sha256 {digest}"


def prepare_coverage(registry_path: str | os.PathLike[str], *,
                     sources: Sources | None = None,
                     departements_source: str | os.PathLike[str] | None = None,
                     ) -> tuple[Coverage, Reconciliation, dict[str, str]]:
    """Run ingest → geocode → boundaries → join in memory, refusing doubtful positions.

    Parameters
    ----------
    registry_path
        Registry CSV.
    sources
        Boundaries and geocoder (default: embedded).
    departements_source
        Shortcut for ``Sources(boundaries=departements_source)``.

    Returns
    -------
    coverage : Coverage
        Sites and départements from :func:`pipeline.steps.join.mark_coverage`.
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
    from pipeline.outputs.gpkg import coverage_metadata
    from pipeline.steps.report import reconcile

    if sources is None and departements_source is not None:
        sources = Sources(boundaries=departements_source)
    sites, line_of = read_registry(registry_path)
    coverage = place_sites(sites, where=lambda i: (str(registry_path), line_of.get(i)),
                           sources=sources)
    metadata = coverage_metadata(provenance=dict(coverage.departements.attrs) or None)
    metadata["REGISTRE"] = _checksum_line(registry_path, len(sites))
    return coverage, reconcile(coverage.sites, coverage.departements), metadata


def write_coverage_outputs(coverage: Coverage, reconciliation: Reconciliation,
                           gpkg_path: str | os.PathLike[str], *,
                           metadata: dict[str, str] | None = None) -> list[str]:
    """Write the GeoPackage and, next to it, ``ecoles.csv``, ``ecoles.md``, ``rapprochement.md``.

    Parameters
    ----------
    coverage
        Result of :func:`pipeline.steps.join.mark_coverage`.
    reconciliation
        Result of :func:`pipeline.steps.report.reconcile`.
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

    from pipeline.outputs.files import write_csv, write_text
    from pipeline.outputs.gpkg import write_coverage_gpkg
    from pipeline.outputs.tables import sites_markdown, sites_table

    gpkg = Path(gpkg_path)
    folder = gpkg.parent
    write_coverage_gpkg(coverage.sites, coverage.departements, gpkg, metadata=metadata)
    write_csv(sites_table(coverage.sites), folder / "ecoles.csv", bom=True)
    write_text(sites_markdown(coverage.sites, coverage.departements), folder / "ecoles.md")
    write_text(reconciliation.markdown(), folder / "rapprochement.md")
    return [str(gpkg), *(str(folder / n) for n in ("ecoles.csv", "ecoles.md",
                                                    "rapprochement.md"))]


# --- Coverage over time (issue 7) -----------------------------------------------------------
def read_openings(path: str | os.PathLike[str], registry: pd.DataFrame, *,
                  today: dt.date | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
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
    openings : pandas.DataFrame
        See :func:`pipeline.steps.openings.validate_openings`.
    lines : dict of str to int
        Each id's line in ``path``.
    """
    from pipeline.steps.openings import validate_openings

    records, lines = read_csv_records(path)
    openings = validate_openings(records, lines=lines, source=str(path), registry=registry,
                                 today=today)
    return openings, dict(zip(openings["id"].astype(str), lines, strict=True))


def load_openings(path: str | os.PathLike[str], registry: pd.DataFrame, *,
                  today: dt.date | None = None) -> pd.DataFrame:
    """Read and validate the openings after the annex (see :func:`read_openings`)."""
    return read_openings(path, registry, today=today)[0]


@dataclass(frozen=True)
class HistoryInputs:
    """Everything the maps over time need, geocoded and joined once.

    Attributes
    ----------
    registry, openings
        The validated inputs.
    sites
        Every site ever drawn (:func:`pipeline.steps.history.all_sites`) as points (EPSG:4326),
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

    @functools.cached_property
    def departement_of_site(self) -> dict[str, str]:
        """Site id → département its point lies in (the spatial join's)."""
        return dict(zip(self.sites["id"].astype(str),
                        self.sites["departement_spatial"].astype(str), strict=True))


def prepare_history(registry_path: str | os.PathLike[str],
                    openings_path: str | os.PathLike[str] = DEFAULT_OPENINGS, *,
                    sources: Sources | None = None,
                    departements_source: str | os.PathLike[str] | None = None,
                    today: dt.date | None = None) -> HistoryInputs:
    """Validate registry and openings, geocode every site once and place it in a département.

    Parameters
    ----------
    registry_path
        Registry CSV.
    openings_path
        Openings CSV.
    sources
        Boundaries and geocoder (default: embedded).
    departements_source
        Shortcut for ``Sources(boundaries=departements_source)``.
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
    from pipeline.outputs.gpkg import coverage_metadata
    from pipeline.steps.history import all_sites

    if sources is None and departements_source is not None:
        sources = Sources(boundaries=departements_source)
    registry, registry_lines = read_registry(registry_path)
    openings, opening_lines = read_openings(openings_path, registry, today=today)

    def where(site_id: str) -> tuple[str, int | None]:
        if site_id in opening_lines:
            return str(openings_path), opening_lines[site_id]
        return str(registry_path), registry_lines.get(site_id)

    joined = place_sites(all_sites(registry, openings), where=where, sources=sources)
    metadata = coverage_metadata(provenance=dict(joined.departements.attrs) or None)
    metadata["REGISTRE"] = _checksum_line(registry_path, len(registry))
    metadata["OUVERTURES"] = _checksum_line(openings_path, len(openings))
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
        ``sites``: :func:`pipeline.steps.history.sites_as_of` columns plus the geocoder's,
        ``departement_spatial``, ``etiquette``, ``categorie`` (dated categories of
        :func:`pipeline.steps.history.site_categories`) and the point; ``departements``: ``code``,
        ``nom``, ``statut`` (:func:`pipeline.steps.history.coverage_as_of`), the counts and
        ``premiere_ouverture``; no mismatches (checked by :func:`prepare_history`).
    """
    import geopandas as gpd

    from pipeline.steps.history import coverage_as_of, site_categories, sites_as_of
    from pipeline.steps.join import Coverage

    placed = inputs.sites.set_index("id")
    sites = sites_as_of(inputs.registry, inputs.openings, day)
    extra = ["code_insee", "nom_commune", "longitude", "latitude", "methode",
             "statut_geocodage", "departement_spatial", "distance_departement_m", "etiquette"]
    geometry = placed.geometry.name
    joined = sites.join(placed[[*extra, geometry]], on="id")
    joined["categorie"] = site_categories(sites)
    points = gpd.GeoDataFrame(joined, geometry=geometry, crs=inputs.sites.crs)
    codes = inputs.departements["code"].astype(str).tolist()
    status = coverage_as_of(sites, departement_of_site=inputs.departement_of_site,
                            departements=codes)
    deps = inputs.departements.merge(status.rename(columns={"departement": "code"}),
                                     on="code", how="left", validate="one_to_one")
    columns = ["code", "nom", "statut", "nb_ecoles_ouvertes", "nb_ouvertures_depuis_annexe",
               "nb_laureats_annonces", "premiere_ouverture", deps.geometry.name]
    return Coverage(points, deps[columns], pd.DataFrame())


def prepare_coverage_as_of(registry_path: str | os.PathLike[str], *,
                           as_of: dt.date | None = None,
                           openings_path: str | os.PathLike[str] = DEFAULT_OPENINGS,
                           sources: Sources | None = None,
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
    sources, departements_source
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
            registry_path, sources=sources, departements_source=departements_source)
        return coverage, reconciliation, metadata, None
    inputs = prepare_history(registry_path, openings_path, sources=sources,
                             departements_source=departements_source)
    metadata = {**inputs.metadata, "DATE_COUVERTURE": as_of.isoformat()}
    return coverage_on(inputs, as_of), None, metadata, inputs


def write_coverage_outputs_as_of(coverage: Coverage, inputs: HistoryInputs, as_of: dt.date,
                                 gpkg_path: str | os.PathLike[str], *,
                                 metadata: dict[str, str] | None = None) -> list[str]:
    """Write the GeoPackage of ``as_of`` and, next to it, ``ecoles.csv`` and ``rapprochement.md``.

    The GeoPackage has DATE columns and the table ``couverture_historique`` (every date of
    :func:`pipeline.steps.history.history_dates` up to ``as_of``, and ``as_of`` itself).

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

    from pipeline.outputs.files import write_csv, write_text
    from pipeline.outputs.gpkg import write_coverage_gpkg
    from pipeline.outputs.tables import sites_table
    from pipeline.steps.history import coverage_history, history_dates
    from pipeline.steps.report import (
        reconcile_openings,
        reconcile_over_time,
        reconciliation_markdown,
    )

    spatial = inputs.departement_of_site
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
    from pipeline.outputs.gpkg import write_coverage_gpkg
    from pipeline.steps.history import coverage_history

    last = max(dates)
    spatial = inputs.departement_of_site
    history = coverage_history(inputs.registry, inputs.openings, dates,
                               departement_of_site=spatial,
                               departements=inputs.departements["code"].astype(str).tolist())
    coverage = coverage_on(inputs, last)
    write_coverage_gpkg(coverage.sites, coverage.departements, path,
                        metadata={**inputs.metadata, "DATE_COUVERTURE": last.isoformat()},
                        as_of=last, history=history)
    return str(path)


# --- Dated maps (moved from timeline.py) -----------------------------------------------
class DatedMap(NamedTuple):
    """The map of one date: its data, its alternative text and the figures behind them."""

    data: MapData
    alt_text: str
    counts: dict[str, int]


def dated_map(coverage: Coverage, day: dt.date) -> DatedMap:
    """Build the map data of the coverage on ``day``: title, legend and source line of the date.

    Shared by ``ecoles-map history``, ``render --as-of`` and ``build --as-of``, so a dated map
    reads the same whichever command drew it.

    Parameters
    ----------
    coverage
        From :func:`pipeline.workflow.coverage_on`.
    day
        The date of the map.

    Returns
    -------
    DatedMap
        Ready for :func:`pipeline.outputs.maps.render.draw_map` (labels off: they would jump
        from one date to the next).
    """
    counts = dated_counts(coverage.sites, coverage.departements)
    data = map_data(coverage.sites, coverage.departements,
                    **dated_map_texts(day, counts, coverage.departements))  # type: ignore[arg-type]
    return DatedMap(data, dated_alt_text(day, counts), counts)


def render_history(inputs: HistoryInputs, outdir: str | os.PathLike[str], *,
                   dates: Sequence[dt.date] | None = None, preset: str = "slide",
                   font: str | None = None) -> tuple[list[Path], str]:
    """Render the dated maps, the GIF, the chart and the dated reconciliation.

    Each date is computed in memory from the sites geocoded once
    (:func:`pipeline.workflow.prepare_history`). The maps share one preset and layout and
    carry no point labels (labels would jump from one date to the next).

    Parameters
    ----------
    inputs
        From :func:`pipeline.workflow.prepare_history`.
    outdir
        Folder of the outputs.
    dates
        Dates of the maps (default :func:`pipeline.steps.history.history_dates`: the annex, then
        each 31 December through the latest opening or closing).
    preset
        Frame of the maps (see :mod:`pipeline.outputs.maps.layout`).
    font
        Font family (default DejaVu Sans).

    Returns
    -------
    written : list of Path
        Per date PNG, SVG and TXT, then the GIF, the chart PNG and SVG and the Markdown
        reconciliation.
    text : str
        The dated reconciliation as plain text, for stderr.
    """
    from pipeline.outputs.files import write_text
    from pipeline.outputs.maps.chart import plot_timeline
    from pipeline.outputs.maps.render import draw_map
    from pipeline.outputs.maps.save import save_chart, save_map, write_gif
    from pipeline.steps.history import history_dates
    from pipeline.steps.report import (
        reconcile_openings,
        reconcile_over_time,
        reconciliation_markdown,
        reconciliation_text,
    )
    from pipeline.workflow import coverage_on

    out = Path(outdir)
    days = sorted(set(dates if dates is not None else history_dates(inputs.openings)))
    written: list[Path] = []
    pngs: list[Path] = []
    for day in days:
        dated = dated_map(coverage_on(inputs, day), day)
        fig = draw_map(dated.data, preset=preset, font=font, labels=False)
        # One frame for every date (so they can be flipped through): no preset suffix.
        stem = out / map_stem("a4", day)
        png, svg, txt = (stem.with_suffix(x) for x in (".png", ".svg", ".txt"))
        save_map(fig, png, svg)
        write_text(dated.alt_text, txt)
        written += [png, svg, txt]
        pngs.append(png)
        log.info("map of %s: %d schools open", day.isoformat(),
                 dated.counts["ecoles_ouvertes"])
    written.append(write_gif(pngs, out / GIF_NAME))
    spatial = inputs.departement_of_site
    chart = plot_timeline(counts_over_time(inputs.registry, inputs.openings,
                                           departement_of_site=spatial))
    chart_png, chart_svg = out / f"{CHART_STEM}.png", out / f"{CHART_STEM}.svg"
    save_chart(chart, chart_png, chart_svg)
    written += [chart_png, chart_svg]
    reconciled = reconcile_over_time(inputs.registry, inputs.openings,
                                     departement_of_site=spatial)
    markdown = reconciliation_markdown(reconciled,
                                       reconcile_openings(inputs.registry, inputs.openings))
    write_text(markdown, out / RECONCILIATION_NAME)
    written.append(out / RECONCILIATION_NAME)
    return written, reconciliation_text(reconciled)


def render_dated_maps(inputs: HistoryInputs, day: dt.date, outdir: str | os.PathLike[str], *,
                      presets: Sequence[str] = ("a4",), basemap: str | None = None,
                      font: str | None = None) -> list[Path]:
    """Render the map of ``day`` (not the annex) in each preset: PNG, SVG, alternative text.

    Files are ``ecoles-de-production-YYYY-MM-DD[-preset]``; the annex map keeps
    :func:`pipeline.workflow.render_maps`.

    Parameters
    ----------
    inputs
        From :func:`pipeline.workflow.prepare_history`.
    day
        Date of the map.
    outdir
        Folder of the maps.
    presets, basemap, font
        As for :func:`pipeline.workflow.render_maps`.

    Returns
    -------
    list of Path
        The files written.
    """
    from pipeline.outputs.files import write_text
    from pipeline.outputs.maps.render import draw_map
    from pipeline.outputs.maps.save import save_map
    from pipeline.workflow import coverage_on

    dated = dated_map(coverage_on(inputs, day), day)
    written: list[Path] = []
    for preset in presets:
        fig = draw_map(dated.data, preset=preset, basemap=basemap, font=font, labels=False)
        stem = Path(outdir) / map_stem(preset, day)
        png, svg, txt = (stem.with_suffix(x) for x in (".png", ".svg", ".txt"))
        save_map(fig, png, svg)
        write_text(dated.alt_text, txt)
        written += [png, svg, txt]
    return written


def render_maps(sites: gpd.GeoDataFrame, departements: gpd.GeoDataFrame,
                outdir: str | os.PathLike[str], *, presets: Sequence[str] = ("a4",),
                basemap: str | None = None, font: str | None = None,
                labels: bool | Literal["auto"] = "auto",
                overrides_path: str | os.PathLike[str] | None = None) -> list[Path]:
    """Render and write PNG, SVG and alternative text for each preset.

    Every map is drawn before anything is written for it, so a failure (a basemap that
    cannot be downloaded, an unknown font) leaves the previous files untouched.

    Parameters
    ----------
    sites, departements
        As for :func:`plot_coverage`.
    outdir
        Folder of the maps.
    presets
        Presets to render.
    basemap, font, labels
        As for :func:`plot_coverage`.
    overrides_path
        Manual label offsets file (see :mod:`pipeline.outputs.maps.labels`), or None.

    Returns
    -------
    list of Path
        The files written.
    """
    from pipeline.outputs.files import write_text
    from pipeline.outputs.maps.labels import read_label_overrides
    from pipeline.outputs.maps.render import draw_map
    from pipeline.outputs.maps.save import save_map

    overrides = read_label_overrides(overrides_path) if overrides_path else None
    data = map_data(sites, departements)
    written: list[Path] = []
    for preset in presets:
        fig = draw_map(data, preset=preset, basemap=basemap, label_overrides=overrides,
                       font=font, labels=labels)
        stem = Path(outdir) / map_stem(preset)
        png, svg, txt = (stem.with_suffix(s) for s in (".png", ".svg", ".txt"))
        save_map(fig, png, svg)
        write_text(alt_text(sites, departements, preset=preset), txt)  # sized per preset
        written += [png, svg, txt]
    return written
