"""The orchestrator: prepare the inputs once, make one snapshot per date, publish a whole set.

Every command is parse → orchestrator → report:

- :func:`prepare` validates the registry (and the openings when a date needs them),
  geocodes every site once and places it in its département;
- :func:`snapshot` makes everything one date produces, in memory: the coverage layers, the
  map's data and texts, the tables, the GeoPackage metadata with the provenance. It is the
  only place that tells the annex of 23 November 2021 from another date;
- :func:`publish` writes a snapshot's files (tables, maps, or both) as one all-or-nothing
  set (:class:`pipeline.outputs.files.Staging`); :func:`publish_history` does the same for the
  maps over time, their GIF, chart, reconciliation and history GeoPackage;
- :func:`read_snapshot` reads a coverage GeoPackage back into a snapshot, for ``render``.

The annex keeps the paths of the 2021 map (``couverture.gpkg``, ``ecoles.csv``,
``ecoles-de-production-2021.png``...); a dated snapshot's files carry its date
(``couverture-2024-06-30.gpkg``, ``ecoles-de-production-2024-06-30.png``), so no command
ever replaces another's files.

This module imports no heavy library at import time: :class:`Drawing` starts its worker
processes before pandas and geopandas are imported, so that they import matplotlib while
this process imports geopandas.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import functools
import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, TypedDict

from pipeline.config import ANNEX_DATE, DEFAULT_LABEL_OVERRIDES, map_stem, reach_map_stem
from pipeline.errors import GeocodingError, PipelineError, Problem, RenderError, SourceDataError
from pipeline.provenance import Provenance
from pipeline.sources.inputs import Sources

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from pipeline.basemap import Basemap
    from pipeline.outputs.files import Staging
    from pipeline.outputs.maps.mapdata import MapData
    from pipeline.outputs.maps.reach_map import ReachMap
    from pipeline.outputs.maps.save import MapJob
    from pipeline.outputs.web import Download
    from pipeline.steps.join import Coverage
    from pipeline.steps.reach import Reach, ReachOptions

log = logging.getLogger(__name__)

Labels = bool | Literal["auto"]

#: Names of the files of the history set (``ecoles-map history``).
GIF_NAME: Final = "ecoles-de-production-historique.gif"
CHART_STEM: Final = "ecoles-de-production-evolution"
HISTORY_RECONCILIATION: Final = "rapprochement-historique.md"
HISTORY_PAGE: Final = "ecoles-de-production-historique.html"
#: What :func:`publish` can write of a snapshot: the GeoPackage and tables, the maps, the
#: press page (which offers the others for download).
PARTS: Final = ("tables", "maps", "page")
#: What the press page offers, in order: the A4 map's formats, then the tables.
_MAP_DOWNLOADS: Final = (("png", "la carte"), ("svg", "la carte vectorielle"),
                         ("pdf", "la carte à imprimer"))


# --- Inputs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputFile:
    """An input file as the outputs credit it: its path, its number of rows, its checksum."""

    path: str
    rows: int
    sha256: str

    @classmethod
    def of(cls, path: str | os.PathLike[str], rows: int) -> InputFile:
        """Describe ``path``, which holds ``rows`` rows."""
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        return cls(str(path), rows, digest)

    def metadata_line(self) -> str:
        """Return the metadata line naming the file: ``ecoles.csv : 63 sites, sha256 …``."""
        return f"{Path(self.path).name} : {self.rows} sites, sha256 {self.sha256}"


def read_registry(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Read and validate the registry CSV at ``path``, keeping each row's line number.

    Parameters
    ----------
    path
        Registry file (UTF-8 or Windows-1252, ``,``, ``;`` or tab separated).

    Returns
    -------
    sites : pandas.DataFrame
        The validated registry (:func:`pipeline.steps.ingest.validate_registry`).
    lines : dict of str to int
        Each id's line in ``path``, for error messages.
    """
    from pipeline.sources.csvfile import read_csv_records
    from pipeline.steps.ingest import validate_registry

    records, lines = read_csv_records(path)
    sites = validate_registry(records, lines=lines, source=str(path))
    # validate_registry keeps every row in order, so lines align with the ids. (Not kept in
    # DataFrame.attrs: pandas deep-copies attrs on every operation, which costs O(n) each.)
    return sites, dict(zip(sites["id"].astype(str), lines, strict=True))


def load_registry(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate the registry CSV at ``path`` (see :func:`read_registry`)."""
    return read_registry(path)[0]


def load_openings(path: str | os.PathLike[str], registry: pd.DataFrame, *,
                  today: dt.date | None = None) -> pd.DataFrame:
    """Read and validate the openings CSV at ``path`` (see :func:`read_openings`)."""
    return read_openings(path, registry, today=today)[0]


def read_openings(path: str | os.PathLike[str], registry: pd.DataFrame, *,
                  today: dt.date | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Read and validate the openings after the annex (``data/raw/ouvertures.csv``).

    Parameters
    ----------
    path
        Openings CSV (see ``data/raw/README.md``).
    registry
        The validated 2021 registry.
    today
        Dates after this day are errors (default: today).

    Returns
    -------
    openings : pandas.DataFrame
        See :func:`pipeline.steps.openings.validate_openings`.
    lines : dict of str to int
        Each id's line in ``path``.
    """
    from pipeline.sources.csvfile import read_csv_records
    from pipeline.steps.openings import validate_openings

    records, lines = read_csv_records(path)
    openings = validate_openings(records, lines=lines, source=str(path), registry=registry,
                                 today=today)
    return openings, dict(zip(openings["id"].astype(str), lines, strict=True))


@dataclass(frozen=True, eq=False)
class Prepared:
    """The inputs validated, every site geocoded and placed, once per run.

    Attributes
    ----------
    registry
        The validated 2021 registry.
    openings
        The validated openings after the annex, or None when they were not asked for.
    placed
        One point per site id (registry rows, then openings rows), EPSG:4326: ``id``, the
        geocoder's columns, ``departement_spatial``, ``distance_departement_m``.
    departements
        ``code``, ``nom``, geometry (EPSG:4326), sorted by code.
    provenance
        Where the départements came from.
    registry_file, openings_file
        The input files, as the outputs credit them.
    communes
        The demand of every reach measure: one point per current commune with its RP 2021
        population and young people (:func:`pipeline.steps.reach.commune_points`).
    regions
        The région of each département (:func:`pipeline.sources.embedded.read_regions`).
    population_source
        Where the population comes from, as the GeoPackage metadata credits it.
    label_overrides
        Manual label offsets (site id → dx, dy in points), or None.
    """

    registry: pd.DataFrame
    openings: pd.DataFrame | None
    placed: gpd.GeoDataFrame
    departements: gpd.GeoDataFrame
    provenance: Provenance
    registry_file: InputFile
    openings_file: InputFile | None
    communes: pd.DataFrame
    regions: pd.DataFrame
    population_source: str
    label_overrides: Mapping[str, tuple[float, float]] | None = None

    @functools.cached_property
    def departement_of_site(self) -> dict[str, str]:
        """Site id → département its point lies in (the spatial join's)."""
        return dict(zip(self.placed["id"].astype(str),
                        self.placed["departement_spatial"].astype(str), strict=True))

    @functools.cached_property
    def places(self) -> pd.DataFrame:
        """``departement, nom_departement, code_region, nom_region`` of every département."""
        names = self.departements[["code", "nom"]].rename(
            columns={"code": "departement", "nom": "nom_departement"})
        return names.merge(self.regions, on="departement", how="left", validate="one_to_one")

    def require_openings(self) -> pd.DataFrame:
        """Return the openings; a date other than the annex cannot be drawn without them."""
        if self.openings is None:
            raise PipelineError("erreur interne : les ouvertures n'ont pas été lues")
        return self.openings


def _label_overrides(path: str | os.PathLike[str] | None, *, known_ids: set[str],
                     ) -> dict[str, tuple[float, float]] | None:
    """Read the manual label offsets when the file is there (anything there is checked)."""
    if path is None or not os.path.lexists(path):
        return None
    from pipeline.sources.labelfile import read_label_overrides

    return read_label_overrides(path, known_ids=known_ids)


def _or_none(value: object) -> str:
    """Return ``value`` as text, or "aucun" when missing."""
    import pandas as pd

    return "aucun" if value is None or value is pd.NA or value != value else str(value)


def prepare(registry_path: str | os.PathLike[str], *,
            openings_path: str | os.PathLike[str] | None = None,
            sources: Sources | None = None,
            label_overrides_path: str | os.PathLike[str] | None = DEFAULT_LABEL_OVERRIDES,
            today: dt.date | None = None) -> Prepared:
    """Validate the inputs, geocode every site once and place it in its département.

    Parameters
    ----------
    registry_path
        Registry CSV.
    openings_path
        Openings CSV, read when a date other than the annex will be drawn; None skips it.
    sources
        Boundaries and geocoder (default: embedded).
    label_overrides_path
        Manual label offsets file; ignored when it does not exist.
    today
        Dates of openings after this day are errors (default: today).

    Returns
    -------
    Prepared
        Inputs of :func:`snapshot` and :func:`publish_history`; the embedded gazetteer is
        read once, for the geocoder and for the commune points of the reach, and so is the
        population.

    Raises
    ------
    SourceDataError
        If a file is invalid, or a site's position falls outside its declared département
        (each problem located by file and line).
    GeocodingError
        If a commune is not found or ambiguous.
    """
    import pandas as pd

    from pipeline.schema import REGISTRY_COLUMNS
    from pipeline.sources.embedded import read_gazetteer, read_regions
    from pipeline.sources.population import population_provenance, read_population
    from pipeline.steps.geocode import geocoding_problems
    from pipeline.steps.join import place_sites
    from pipeline.steps.reach import commune_points

    sources = sources or Sources()
    registry, registry_lines = read_registry(registry_path)
    openings: pd.DataFrame | None = None
    opening_lines: dict[str, int] = {}
    if openings_path is not None:
        openings, opening_lines = read_openings(openings_path, registry, today=today)
    known = {*registry["id"].astype(str), *opening_lines}
    overrides = _label_overrides(label_overrides_path, known_ids=known)

    def where(site_id: str) -> tuple[str, int | None]:
        if site_id in opening_lines:
            return str(openings_path), opening_lines[site_id]
        return str(registry_path), registry_lines.get(site_id)

    # Every place any date can show: the registry's rows, then the openings' own sites.
    to_place = registry
    if openings is not None and len(openings):
        extra = openings.reindex(columns=list(REGISTRY_COLUMNS))
        to_place = pd.concat([registry, extra], ignore_index=True)
    gazetteer = read_gazetteer()
    geocoded = sources.geocode(to_place, gazetteer=gazetteer)
    located = [where(site_id) for site_id in geocoded["id"].astype(str)]
    unresolved: list[Problem] = []
    for file in dict.fromkeys(f for f, _ in located):  # each input file once, in order
        rows = [i for i, (f, _) in enumerate(located) if f == file]
        unresolved += geocoding_problems(geocoded.iloc[rows], path=file,
                                         lines=[located[i][1] or 0 for i in rows])
    if unresolved:
        raise GeocodingError(
            f"{len(unresolved)} commune(s) non placée(s) ; rien n'a été écrit\n"
            + "\n".join(f"  - {p}" for p in unresolved))
    departements, provenance = sources.read_departements()
    placement = place_sites(geocoded, departements)
    if not placement.mismatches.empty:
        problems = []
        for row in placement.mismatches.to_dict("records"):
            file, line = where(str(row["id"]))
            problems.append(Problem(
                file, line, "departement", str(row["departement"]),
                f"site {row['id']!r} : la commune {row['commune']!r} (INSEE "
                f"{row['code_insee']}) est dans le département "
                f"{_or_none(row['departement_spatial'])} ; corrigez le département, ou le nom "
                "de la commune si une autre commune était visée"))
        raise SourceDataError(problems, summary=f"{len(problems)} site(s) hors de leur "
                              "département déclaré ; rien n'a été écrit")
    placed = placement.points.drop(columns=[c for c in REGISTRY_COLUMNS if c != "id"])
    deps = departements[["code", "nom", departements.geometry.name]]
    deps = deps.sort_values("code", kind="stable").reset_index(drop=True)
    origin = population_provenance()
    population_source = (f"{origin['source']} — édition {origin['edition']}, fichier "
                         f"{origin['path']}, sha256 {origin['sha256']}, {origin['licence']}")
    return Prepared(
        registry=registry, openings=openings, placed=placed, departements=deps,
        provenance=provenance, registry_file=InputFile.of(registry_path, len(registry)),
        openings_file=(InputFile.of(openings_path, len(openings))
                       if openings_path is not None and openings is not None else None),
        communes=commune_points(gazetteer, read_population()), regions=read_regions(),
        population_source=population_source, label_overrides=overrides)


# --- Snapshots --------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutputNames:
    """The file names of one snapshot's set, so that no two snapshots share a name.

    Attributes
    ----------
    tag
        ``"2021"`` for the annex, else the date (``"2024-06-30"``).
    gpkg, ecoles_csv, ecoles_md, rapprochement, registre
        File names of the tables (``ecoles_md`` and ``registre`` may be None: not written).
    acces_departements, communes_eloignees, ou_ensuite
        File names of the reach tables (the annex's ``acces_departements.csv``,
        ``communes_les_plus_eloignees.csv``, ``ou_ensuite.csv``; a date's carry it).
    """

    tag: str
    day: dt.date | None
    gpkg: str
    ecoles_csv: str
    ecoles_md: str | None
    rapprochement: str
    registre: str | None
    acces_departements: str
    communes_eloignees: str
    ou_ensuite: str

    @classmethod
    def annex(cls) -> OutputNames:
        """Return the names of the 2021 annex, as they have always been."""
        return cls("2021", None, "couverture.gpkg", "ecoles.csv", "ecoles.md",
                   "rapprochement.md", "registre.csv", "acces_departements.csv",
                   "communes_les_plus_eloignees.csv", "ou_ensuite.csv")

    @classmethod
    def dated(cls, day: dt.date) -> OutputNames:
        """Return the names of the coverage on ``day``: each carries the date."""
        tag = day.isoformat()
        return cls(tag, day, f"couverture-{tag}.gpkg", f"ecoles-{tag}.csv", None,
                   f"rapprochement-{tag}.md", None, f"acces_departements-{tag}.csv",
                   f"communes_les_plus_eloignees-{tag}.csv", f"ou_ensuite-{tag}.csv")

    def map_stem(self, preset: str) -> str:
        """File name, without extension, of this snapshot's map in ``preset``."""
        return map_stem(preset, self.day)

    def reach_tables(self) -> list[str]:
        """Return the names of the reach tables, in order."""
        return [self.acces_departements, self.communes_eloignees, self.ou_ensuite]

    def tables(self, *, reach: bool = True) -> list[str]:
        """Return the names of the tables written beside the GeoPackage, in order."""
        names = [n for n in (self.ecoles_csv, self.ecoles_md, self.rapprochement,
                             self.registre) if n is not None]
        return names + (self.reach_tables() if reach else [])


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Everything one date produces, in memory; :func:`publish` writes it.

    Attributes
    ----------
    day
        The date described (the annex date for the annex).
    annex
        Whether this is the annex of 23 November 2021 (the press release's categories).
    names
        The file names of its set.
    sites, departements
        The layers ``ecoles`` and ``departements`` of its GeoPackage (EPSG:4326).
    history
        The table ``couverture_historique`` (dated snapshots), or None.
    map
        The map's data and texts.
    alt_text
        The map's alternative text (the A4 map's, which the press page carries).
    tables
        File name → bytes of each table (CSV, Markdown), ready to write.
    metadata
        Dataset metadata of the GeoPackage, provenance included.
    provenance
        Where the départements came from.
    summary
        What to tell the user on stderr (the reconciliation).
    labels
        Whether point labels are drawn by default (``"auto"`` on the annex, off on dated
        maps, where they would jump from one date to the next).
    label_overrides
        Manual label offsets, or None.
    counts
        The dated map's figures (empty on the annex).
    reach
        What its sites reach (:func:`pipeline.steps.reach.measure_reach`): on the annex,
        the 63 sites of the map, and the existing schools apart; on a date, only the sites
        open that day (closed schools and laureates not open yet reach no one). None when
        not measured (a snapshot read back, or a frame of the maps over time).
    """

    day: dt.date
    annex: bool
    names: OutputNames
    sites: gpd.GeoDataFrame
    departements: gpd.GeoDataFrame
    history: pd.DataFrame | None
    map: MapData
    alt_text: str
    tables: Mapping[str, bytes]
    metadata: Mapping[str, str]
    provenance: Provenance
    summary: str
    labels: Labels = "auto"
    label_overrides: Mapping[str, tuple[float, float]] | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    describe: Callable[[str], str] | None = None
    reach: Reach | None = None
    reach_map: ReachMap | None = None

    def alt_text_for(self, preset: str) -> str:
        """Return the alternative text sized for ``preset`` (a social post's is short)."""
        return self.describe(preset) if self.describe is not None else self.alt_text


def _open_sites(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the sites of a dated coverage open that day, the only ones that reach anyone."""
    return sites[sites["ouverte"].astype(bool)]


def _csv_bytes(frame: pd.DataFrame, *, bom: bool = False) -> bytes:
    """Encode a table as the CSV files are written: UTF-8, LF line ends, BOM if asked."""
    from pipeline.outputs.files import csv_text

    return ("\ufeff" if bom else "").encode() + csv_text(frame).encode("utf-8")


#: Marks "measure the reach with the default options" (None measures nothing).
DEFAULT_REACH: Final = "defaut"


def _reach_options(reach: ReachOptions | str | None) -> ReachOptions | None:
    """Return the options asked, the defaults for :data:`DEFAULT_REACH`, or None."""
    if reach == DEFAULT_REACH:
        from pipeline.steps.reach import ReachOptions

        return ReachOptions()
    assert not isinstance(reach, str), reach
    return reach


def snapshot(prepared: Prepared, day: dt.date | None = None, *,
             reach: ReachOptions | str | None = DEFAULT_REACH) -> Snapshot:
    """Make the snapshot of ``day``: the annex (None or 23 November 2021), or that date.

    This is the only place where the annex and another date part ways.

    Parameters
    ----------
    prepared
        From :func:`prepare` (with the openings for a date other than the annex).
    day
        The date; None or the annex date gives the annex of the press release.
    reach
        How to measure the reach (:class:`pipeline.steps.reach.ReachOptions`; default: 30
        and 45 km, straight line, 10 picks); None measures nothing (no reach layer,
        columns or tables).

    Returns
    -------
    Snapshot
        In memory; nothing is written.
    """
    if day is None or day == ANNEX_DATE:
        return _annex_snapshot(prepared, reach=_reach_options(reach))
    return dated_snapshot(prepared, day, reach=reach)


def _measure(prepared: Prepared, coverage: Coverage, options: ReachOptions | None, *,
             reaching: gpd.GeoDataFrame, existing: gpd.GeoDataFrame | None = None,
             ) -> tuple[Coverage, Reach | None]:
    """Name the coverage's places; measure what ``reaching`` reaches (None: nothing)."""
    from pipeline.steps.join import Coverage, add_places
    from pipeline.steps.reach import measure_reach, with_reach

    named = add_places(coverage, prepared.regions)
    if options is None:
        return named, None
    reach = measure_reach(prepared.communes, reaching, options=options, existing=existing,
                          places=prepared.places)
    return Coverage(named.sites, with_reach(named.departements, reach), named.mismatches), reach


def _reach_outputs(prepared: Prepared, names: OutputNames, reach: Reach | None,
                   departements: gpd.GeoDataFrame, metadata: dict[str, str]) -> dict[str, bytes]:
    """Add the reach's provenance to ``metadata``; return its tables (none without a reach)."""
    from pipeline.outputs.tables import (
        farthest_table,
        reach_departements_table,
        where_next_table,
    )
    from pipeline.steps.reach import REACH_CAVEATS

    metadata["POPULATION"] = prepared.population_source
    if reach is None:
        return {}
    thresholds = ", ".join(f"{t:g}" for t in reach.options.thresholds_km)
    metadata["METHODE_ACCES"] = (f"{reach.options.describe()} ; seuils {thresholds} km ; "
                                 "précautions : " + " ; ".join(REACH_CAVEATS))
    return {
        names.acces_departements: _csv_bytes(reach_departements_table(departements), bom=True),
        names.communes_eloignees: _csv_bytes(farthest_table(reach), bom=True),
        names.ou_ensuite: _csv_bytes(where_next_table(reach), bom=True),
    }


def _with_reach_section(markdown: str, reach: Reach | None, departements: pd.DataFrame,
                        names: OutputNames) -> bytes:
    """Return the Markdown report, with its reach section when measured."""
    from pipeline.outputs.tables import reach_markdown

    if reach is None:
        return markdown.encode()
    files = [names.gpkg, *names.reach_tables()]
    return (markdown + reach_markdown(reach, departements, files=files)).encode()


def _with_reach_text(summary: str, reach: Reach | None) -> str:
    from pipeline.outputs.tables import reach_text

    return summary if reach is None else f"{summary}\n{reach_text(reach)}"


def _annex_snapshot(prepared: Prepared, *, reach: ReachOptions | None = None) -> Snapshot:
    """Make the annex: the press release's categories and reconciliation (42/20/14/13).

    Its reach counts every site of the map (the existing schools and the laureates, as the
    annex shows them), and the existing schools alone, so that the call's effect is a
    number (``part_jeunes_30km_existantes``).
    """
    import geopandas as gpd

    from pipeline.outputs.gpkg import coverage_metadata
    from pipeline.outputs.maps.mapdata import map_data
    from pipeline.outputs.maps.reach_map import reach_map_of
    from pipeline.outputs.tables import registry_table, sites_markdown, sites_table
    from pipeline.steps.join import annex_coverage
    from pipeline.steps.report import reconcile

    placed = prepared.placed.set_index("id")
    geometry = placed.geometry.name
    registry = prepared.registry
    joined = registry.join(placed, on="id")
    points = gpd.GeoDataFrame(joined, geometry=geometry, crs=prepared.placed.crs)
    coverage = annex_coverage(points, prepared.departements)
    reconciliation = reconcile(coverage.sites, coverage.departements)
    sites = coverage.sites
    coverage, measured = _measure(prepared, coverage, reach, reaching=sites,
                                  existing=sites[sites["existante_2021"].astype(bool)])
    metadata = coverage_metadata(provenance=prepared.provenance)
    metadata["REGISTRE"] = prepared.registry_file.metadata_line()
    names = OutputNames.annex()
    assert names.ecoles_md is not None and names.registre is not None
    tables = {
        names.ecoles_csv: _csv_bytes(sites_table(coverage.sites), bom=True),
        names.ecoles_md: sites_markdown(coverage.sites, coverage.departements).encode(),
        names.rapprochement: _with_reach_section(reconciliation.markdown(), measured,
                                                 coverage.departements, names),
        # The validated registry as `ecoles-map ingest` writes it, to be ingested again.
        names.registre: _csv_bytes(registry_table(registry)),
        **_reach_outputs(prepared, names, measured, coverage.departements, metadata),
    }
    data = map_data(coverage.sites, coverage.departements, provenance=prepared.provenance)
    return Snapshot(
        day=ANNEX_DATE, annex=True, names=names, sites=coverage.sites,
        departements=coverage.departements, history=None, map=data,
        alt_text=_annex_alt_text(coverage.sites, coverage.departements, data, "a4"),
        tables=tables, metadata=metadata, provenance=prepared.provenance,
        summary=_with_reach_text(reconciliation.text(), measured),
        labels="auto", label_overrides=prepared.label_overrides, reach=measured,
        describe=functools.partial(_annex_alt_text, coverage.sites, coverage.departements,
                                   data),
        reach_map=reach_map_of(coverage.departements, coverage.sites, day=None,
                             provenance=prepared.provenance))


def _annex_alt_text(sites: gpd.GeoDataFrame, departements: gpd.GeoDataFrame, data: MapData,
                    preset: str) -> str:
    """Return the annex map's alternative text for ``preset``, naming the zooms it has."""
    from pipeline.outputs.maps.frames import MAX_DECLUTTER_SITES, zoom_names
    from pipeline.outputs.maps.texts import alt_text

    zooms = zoom_names(data, preset) if len(data.site_ids) <= MAX_DECLUTTER_SITES else []
    return alt_text(sites, departements, preset=preset, zooms=zooms)


def coverage_on(prepared: Prepared, day: dt.date) -> Coverage:
    """Return the sites and département statuses of ``day``, with their geometries.

    Parameters
    ----------
    prepared
        From :func:`prepare`, with the openings.
    day
        The date.

    Returns
    -------
    Coverage
        ``sites``: :func:`pipeline.steps.history.sites_as_of` columns plus the geocoder's,
        ``departement_spatial``, ``etiquette``, ``categorie`` (dated categories) and the
        point; ``departements``: ``code``, ``nom``, ``statut`` (dated statuses), the counts
        and ``premiere_ouverture``.
    """
    import geopandas as gpd
    import pandas as pd

    from pipeline.schema import DATED_DEPARTEMENTS_COLUMNS
    from pipeline.steps.history import coverage_as_of, site_categories, sites_as_of
    from pipeline.steps.join import Coverage, site_labels

    placed = prepared.placed.set_index("id")
    sites = sites_as_of(prepared.registry, prepared.require_openings(), day)
    geometry = placed.geometry.name
    joined = sites.join(placed, on="id")
    joined["etiquette"] = site_labels(sites)
    joined["categorie"] = site_categories(sites)
    points = gpd.GeoDataFrame(joined, geometry=geometry, crs=prepared.placed.crs)
    codes = prepared.departements["code"].astype(str).tolist()
    status = coverage_as_of(sites, departement_of_site=prepared.departement_of_site,
                            departements=codes)
    deps = prepared.departements.merge(status.rename(columns={"departement": "code"}),
                                       on="code", how="left", validate="one_to_one")
    deps = deps[[*DATED_DEPARTEMENTS_COLUMNS, deps.geometry.name]]
    return Coverage(points, deps, pd.DataFrame())


def _dated_map(coverage: Coverage, day: dt.date,
               provenance: Provenance) -> tuple[MapData, str, dict[str, int]]:
    """Map data, alternative text and figures of the coverage on ``day``."""
    from pipeline.outputs.maps.mapdata import map_data
    from pipeline.outputs.maps.texts import dated_alt_text, dated_map_texts
    from pipeline.steps.history import dated_counts

    counts = dated_counts(coverage.sites, coverage.departements)
    data = map_data(coverage.sites, coverage.departements, provenance=provenance,
                    **dated_map_texts(day, counts, provenance))  # type: ignore[arg-type]
    return data, dated_alt_text(day, counts), counts


def _history_table(prepared: Prepared, dates: Iterable[dt.date]) -> pd.DataFrame:
    """Return the table ``couverture_historique`` for ``dates``."""
    from pipeline.steps.history import coverage_history

    return coverage_history(prepared.registry, prepared.require_openings(), sorted(set(dates)),
                            departement_of_site=prepared.departement_of_site,
                            departements=prepared.departements["code"].astype(str).tolist())


def _dated_metadata(prepared: Prepared, day: dt.date) -> dict[str, str]:
    """GeoPackage metadata of a dated coverage: sources, both input files, the date."""
    from pipeline.outputs.gpkg import coverage_metadata

    metadata = coverage_metadata(provenance=prepared.provenance)
    metadata["REGISTRE"] = prepared.registry_file.metadata_line()
    if prepared.openings_file is not None:
        metadata["OUVERTURES"] = prepared.openings_file.metadata_line()
    metadata["DATE_COUVERTURE"] = day.isoformat()
    return metadata


def dated_snapshot(prepared: Prepared, day: dt.date, *,
                   reach: ReachOptions | str | None = DEFAULT_REACH) -> Snapshot:
    """Make the snapshot of the coverage on ``day``, in the dated categories.

    The frames of ``ecoles-map history`` are dated snapshots, the annex date's included (it
    then shows the schools open that day, not the press release's categories).

    Parameters
    ----------
    prepared
        From :func:`prepare`, with the openings.
    day
        The date.
    reach
        As in :func:`snapshot`. Only the sites open on ``day`` reach anyone: a closed
        school no longer trains, a laureate not open yet does not train yet.

    Returns
    -------
    Snapshot
        Tables ``ecoles-<date>.csv``, ``rapprochement-<date>.md`` and the reach tables, the
        GeoPackage with DATE columns and the table ``couverture_historique`` up to ``day``.
    """
    from pipeline.outputs.maps.reach_map import reach_map_of
    from pipeline.outputs.tables import sites_table
    from pipeline.schema import CATEGORY_CLOSED
    from pipeline.steps.history import history_dates
    from pipeline.steps.report import (
        reconcile_openings,
        reconcile_over_time,
        reconciliation_markdown,
        reconciliation_text,
    )

    openings = prepared.require_openings()
    coverage = coverage_on(prepared, day)
    data, description, counts = _dated_map(coverage, day, prepared.provenance)
    coverage, measured = _measure(prepared, coverage, _reach_options(reach),
                                  reaching=_open_sites(coverage.sites))
    dates = [d for d in history_dates(openings, until=day) if d <= day] + [day]
    reconciled = reconcile_over_time(prepared.registry, openings,
                                     departement_of_site=prepared.departement_of_site)
    findings = reconcile_openings(prepared.registry, openings)
    names = OutputNames.dated(day)
    drawn = coverage.sites[coverage.sites["categorie"].ne(CATEGORY_CLOSED)]
    metadata = _dated_metadata(prepared, day)
    tables = {
        names.ecoles_csv: _csv_bytes(sites_table(drawn), bom=True),
        names.rapprochement: _with_reach_section(
            reconciliation_markdown(reconciled, findings), measured, coverage.departements,
            names),
        **_reach_outputs(prepared, names, measured, coverage.departements, metadata),
    }
    summary = (f"Couverture au {day.isoformat()} : {counts['ecoles_ouvertes']} écoles "
               f"ouvertes dans le registre\n" + reconciliation_text(reconciled))
    return Snapshot(
        day=day, annex=False, names=names, sites=coverage.sites,
        departements=coverage.departements, history=_history_table(prepared, dates),
        map=data, alt_text=description, tables=tables, metadata=metadata,
        provenance=prepared.provenance, summary=_with_reach_text(summary, measured),
        labels=False, label_overrides=None, counts=counts, reach=measured,
        reach_map=reach_map_of(coverage.departements, _open_sites(coverage.sites),
                             day=day, provenance=prepared.provenance))


# --- Reading a snapshot back ----------------------------------------------------------------
def read_snapshot(path: str | os.PathLike[str], *,
                  label_overrides_path: str | os.PathLike[str] | None = DEFAULT_LABEL_OVERRIDES,
                  ) -> Snapshot:
    """Read a coverage GeoPackage back into a snapshot that :func:`publish` can draw.

    Parameters
    ----------
    path
        A GeoPackage written by ``ecoles-map join``, ``build`` or ``history``.
    label_overrides_path
        Manual label offsets file for the annex; ignored when it does not exist.

    Returns
    -------
    Snapshot
        Its map data and texts (no tables: ``render`` writes maps only).

    Raises
    ------
    RenderError
        If ``path`` is not such a GeoPackage (another file, a layer or column missing, an
        unknown category or status); the message says what to pass instead.
    """
    from pipeline.outputs.gpkg import read_coverage
    from pipeline.outputs.maps.mapdata import map_data
    from pipeline.outputs.maps.reach_map import reach_map_of

    read = read_coverage(path)
    provenance = read.provenance
    if read.day is None:  # the annex
        overrides = _label_overrides(label_overrides_path,
                                     known_ids=set(read.sites["id"].astype(str)))
        data = map_data(read.sites, read.departements, provenance=provenance)
        return Snapshot(
            day=ANNEX_DATE, annex=True, names=OutputNames.annex(), sites=read.sites,
            departements=read.departements, history=None, map=data,
            alt_text=_annex_alt_text(read.sites, read.departements, data, "a4"), tables={},
            describe=functools.partial(_annex_alt_text, read.sites, read.departements, data),
            metadata=read.metadata, provenance=provenance or Provenance("", "", "", ""),
            summary="", labels="auto", label_overrides=overrides,
            reach_map=reach_map_of(read.departements, read.sites, day=None,
                                 provenance=provenance or Provenance("", "", "", "")))
    import pandas as pd

    from pipeline.steps.join import Coverage

    data, description, counts = _dated_map(Coverage(read.sites, read.departements,
                                                    pd.DataFrame()),
                                           read.day, provenance or Provenance("", "", "", ""))
    return Snapshot(
        day=read.day, annex=False, names=OutputNames.dated(read.day), sites=read.sites,
        departements=read.departements, history=None, map=data, alt_text=description,
        tables={}, metadata=read.metadata, provenance=provenance or Provenance("", "", "", ""),
        summary="", labels=False, counts=counts,
        reach_map=reach_map_of(read.departements, _open_sites(read.sites), day=read.day,
                             provenance=provenance or Provenance("", "", "", "")))


# --- Drawing in parallel -------------------------------------------------------------------
#: How often a drawing worker checks that the process that started it is alive.
_ORPHAN_CHECK_S: Final = 0.2


def _exit_when_orphaned(parent: int) -> None:
    """End this worker once its parent is gone (killed): nothing will ever collect its work."""
    while os.getppid() == parent:
        time.sleep(_ORPHAN_CHECK_S)
    os._exit(1)


def _worker_ready() -> None:
    """Initialise a drawing worker: matplotlib imported at once; Ctrl-C is the parent's.

    A worker whose parent is killed (SIGKILL, the OOM killer) would wait for jobs forever:
    a queue's writers include the other workers, so it never reads an end of file. A watcher
    thread ends it instead.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    import pipeline.outputs.maps.save  # noqa: F401


def _noop() -> None:
    """Do nothing: a task that makes the pool start its workers now."""


class Drawing:
    """Draw and save maps in worker processes, or in this process with ``jobs=1``.

    The workers are forked when the object is made, before the heavy imports, and import
    matplotlib while this process imports pandas and geopandas: importing both costs more
    than all the pipeline's own work. A standard
    :class:`concurrent.futures.ProcessPoolExecutor` carries the jobs (plain
    :class:`~pipeline.outputs.maps.save.MapJob` objects) and their errors. Where ``fork``
    does not exist, everything runs here, with the same bytes.

    Parameters
    ----------
    jobs
        Worker processes; 1 draws in this process.
    """

    def __init__(self, jobs: int = 2) -> None:
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._futures: list[concurrent.futures.Future[list[Path]]] = []
        if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                initializer=_worker_ready)
            self._pool.submit(_noop)

    def submit(self, job: MapJob) -> None:
        """Draw and save ``job`` now (``jobs=1``) or in a worker."""
        from pipeline.outputs.maps.save import draw_and_save

        if self._pool is None:
            draw_and_save(job)
        else:
            self._futures.append(self._pool.submit(draw_and_save, job))

    def wait(self) -> None:
        """Wait for every submitted map; raise the first failure."""
        futures, self._futures = self._futures, []
        for future in futures:
            try:
                future.result()
            except concurrent.futures.process.BrokenProcessPool as exc:
                raise RenderError("le processus de dessin s'est arrêté ; aucune carte n'a été "
                                  "écrite") from exc

    def close(self, *, failed: bool = False) -> None:
        """Stop the workers; after a failure, at once (their work is not wanted)."""
        if self._pool is None:
            return
        if failed:
            for child in multiprocessing.active_children():
                child.terminate()
        self._pool.shutdown(wait=True, cancel_futures=failed)
        self._pool = None

    def __enter__(self) -> Drawing:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        self.close(failed=kind is not None)


# --- Publishing ----------------------------------------------------------------------------
def _stage_map(staging: Staging, drawing: Drawing, stem: Path, data: MapData, alt: str, *,
               preset: str, labels: Labels,
               overrides: Mapping[str, tuple[float, float]] | None, basemap: Basemap | None,
               font: str | None, pdf_title: str | None = None) -> list[Path]:
    """Stage one map's files (PNG, SVG, the print PDF for A4, alternative text).

    The one place that writes a map, whichever command draws it.
    """
    from pipeline.outputs.files import write_text
    from pipeline.outputs.maps.save import MapJob, map_formats

    files = tuple((fmt, stem.with_name(f"{stem.name}.{fmt}")) for fmt in map_formats(preset))
    drawing.submit(MapJob(data, preset, tuple((f, staging.path(t)) for f, t in files),
                          labels=labels, label_overrides=overrides, basemap=basemap,
                          font=font, pdf_title=pdf_title))
    text = stem.with_name(f"{stem.name}.txt")
    write_text(alt, staging.path(text))
    return [*(t for _, t in files), text]


def _check_presets(presets: Sequence[str]) -> list[str]:
    """Return the presets asked, each once; an unknown one is refused before any work."""
    from pipeline.outputs.maps.layout import PRESETS

    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        raise RenderError(f"cadre inconnu {unknown[0]!r} ; cadres : {', '.join(PRESETS)}")
    return list(dict.fromkeys(presets))


def publish(snap: Snapshot, *, processed_dir: str | os.PathLike[str],
            maps_dir: str | os.PathLike[str], parts: Sequence[str] = PARTS,
            presets: Sequence[str] = ("a4",), labels: Labels | None = None,
            basemap: str | None = None, cache_dir: str | os.PathLike[str] | None = None,
            font: str | None = None,
            drawing: Drawing | None = None,
            progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write a snapshot's set: its GeoPackage and tables, its maps, or both, all or nothing.

    Parameters
    ----------
    snap
        From :func:`snapshot` or :func:`read_snapshot`.
    processed_dir
        Folder of the GeoPackage and tables.
    maps_dir
        Folder of the maps.
    parts
        ``"tables"`` (GeoPackage and tables) and/or ``"maps"``.
    presets
        Frames of the maps (see :mod:`pipeline.outputs.maps.layout`).
    labels
        Point labels: None for the snapshot's default, ``"auto"``, True or False.
    basemap
        ``"plan-ign"`` or the path of a GeoTIFF (:func:`pipeline.sources.tiles.basemap_source`).
    cache_dir
        Cache folder of the basemap tiles (default: ``$ECOLES_MAP_CACHE``, else the user cache).
    font
        As for :func:`pipeline.outputs.maps.render.draw_map`.
    drawing
        Where to draw (default: in this process).
    progress
        Called with a short French description of each stage, for ``-v``.

    Returns
    -------
    list of Path
        The files written, maps first.

    Raises
    ------
    PipelineError
        If anything cannot be drawn or written; no file is changed then.
    """
    from pipeline.outputs.files import staged_outputs, write_bytes
    from pipeline.outputs.gpkg import write_coverage_gpkg

    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise PipelineError(f"erreur interne : partie inconnue {unknown[0]!r}")
    chosen = _check_presets(presets) if "maps" in parts else []
    tiles = None
    if basemap is not None and chosen:
        from pipeline.sources.tiles import basemap_source

        tiles = basemap_source(basemap, cache_dir=cache_dir)
    drawing = drawing or Drawing(jobs=1)
    written: list[Path] = []
    with staged_outputs() as staging:
        for preset in chosen:
            written += _stage_map(
                staging, drawing, Path(maps_dir) / snap.names.map_stem(preset), snap.map,
                snap.alt_text_for(preset), preset=preset,
                labels=snap.labels if labels is None else labels,
                overrides=snap.label_overrides, basemap=tiles, font=font,
                pdf_title=None if snap.annex else snap.map.title)
            if snap.reach_map is not None:
                reach_map = snap.reach_map
                stem = reach_map_stem(preset, None if snap.annex else snap.day,
                                      reach_map.threshold_km)
                written += _stage_map(
                    staging, drawing, Path(maps_dir) / stem, reach_map.map,
                    reach_map.alt_text, preset=preset, labels=False, overrides=None,
                    basemap=tiles, font=font, pdf_title=reach_map.map.title)
        if "tables" in parts:
            folder = Path(processed_dir)
            gpkg = folder / snap.names.gpkg
            write_coverage_gpkg(snap.sites, snap.departements, staging.path(gpkg),
                                metadata=snap.metadata,
                                as_of=None if snap.annex else snap.day, history=snap.history,
                                **_reach_layer(snap.reach))
            written.append(gpkg)
            for name in snap.names.tables(reach=snap.reach is not None):
                write_bytes(snap.tables[name], staging.path(folder / name))
                written.append(folder / name)
        if progress is not None:
            progress("tables écrites")
        drawing.wait()
        if progress is not None:
            progress("cartes dessinées")
        if "page" in parts:
            written.append(_stage_page(staging, snap, maps_dir=Path(maps_dir),
                                       processed_dir=Path(processed_dir)))
    return written


class _ReachLayer(TypedDict, total=False):
    """Arguments of :func:`~pipeline.outputs.gpkg.write_coverage_gpkg` for a reach layer."""

    communes: gpd.GeoDataFrame
    thresholds_km: tuple[float, ...]
    distance_column: str


def _reach_layer(reach: Reach | None) -> _ReachLayer:
    """Return the arguments that write ``reach`` as the layer ``communes_acces``, if any."""
    from pipeline.steps.reach import communes_layer

    if reach is None:
        return {}
    road = reach.options.detour_factor is not None
    return {"communes": communes_layer(reach), "thresholds_km": reach.options.thresholds_km,
            "distance_column": "distance_route_estimee_km" if road else "distance_km"}


def _download(staging: Staging, target: Path, label: str, page: Path) -> Download | None:
    """Link to ``target``, staged in this publish or already on disk; None if neither."""
    from pipeline.outputs.web import Download

    path = staging.find(target) or (target if target.is_file() else None)
    if path is None:
        return None
    return Download(label, os.path.relpath(target, page.parent), path.stat().st_size)


def _stage_page(staging: Staging, snap: Snapshot, *, maps_dir: Path,
                processed_dir: Path) -> Path:
    """Stage the press page of ``snap``: the map, its texts and table, links to its files."""
    from pipeline.outputs.files import write_text
    from pipeline.outputs.maps.texts import page_note
    from pipeline.outputs.web import render_page, site_records

    stem = maps_dir / snap.names.map_stem("a4")
    page = stem.with_name(f"{stem.name}.html")
    offers = [(stem.with_name(f"{stem.name}.{ext}"), label) for ext, label in _MAP_DOWNLOADS]
    offers += [(processed_dir / snap.names.ecoles_csv, "les données"),
               (processed_dir / snap.names.gpkg, "la couverture pour les SIG")]
    downloads = [d for d in (_download(staging, t, label, page) for t, label in offers) if d]
    html = render_page(snap.map, alt_text=snap.alt_text,
                       sites=site_records(snap.sites.to_dict("records")),
                       note=page_note(None if snap.annex else snap.day), downloads=downloads)
    write_text(html, staging.path(page))
    return page


def publish_history(prepared: Prepared, *, dates: Sequence[dt.date],
                    outdir: str | os.PathLike[str], gpkg_path: str | os.PathLike[str],
                    preset: str = "square", font: str | None = None,
                    drawing: Drawing | None = None,
                    reach: ReachOptions | str | None = DEFAULT_REACH,
                    ) -> tuple[list[Path], str]:
    """Write the coverage over time: a map per date, the GIF, the chart, the reconciliation.

    All files are one set, published together: per date PNG, SVG and alternative text
    (``ecoles-de-production-<date>``, one frame for every date, so they can be flipped
    through), the animated GIF, the chart of counts by date, the dated reconciliation and the
    history GeoPackage (the last date's coverage, its reach as a dated ``couverture``
    GeoPackage has it, the table ``couverture_historique`` and, with a reach, the table
    ``acces_historique``: the shares within reach at every date).

    Parameters
    ----------
    prepared
        From :func:`prepare`, with the openings.
    dates
        Dates of the maps.
    outdir
        Folder of the maps, GIF, chart and reconciliation.
    gpkg_path
        The history GeoPackage.
    preset
        Frame of every map.
    font
        Font family.
    drawing
        Where to draw (default: in this process).
    reach
        As in :func:`snapshot`; None measures nothing.

    Returns
    -------
    written : list of Path
        The files written.
    text : str
        The dated reconciliation, for stderr.
    """
    from pipeline.outputs.files import staged_outputs, write_text
    from pipeline.outputs.gpkg import write_coverage_gpkg
    from pipeline.outputs.maps.chart import plot_timeline
    from pipeline.outputs.maps.save import save_chart, write_gif
    from pipeline.outputs.maps.texts import page_note
    from pipeline.outputs.web import (
        DatedPage,
        history_figures,
        render_history_page,
        render_page,
        site_records,
    )
    from pipeline.steps.history import counts_over_time
    from pipeline.steps.reach import reach_over_time
    from pipeline.steps.report import (
        reconcile_openings,
        reconcile_over_time,
        reconciliation_markdown,
        reconciliation_text,
    )

    [preset] = _check_presets([preset])
    openings = prepared.require_openings()
    days = sorted(set(dates))
    if not days:
        raise PipelineError("aucune date à dessiner")
    out = Path(outdir)
    drawing = drawing or Drawing(jobs=1)
    written: list[Path] = []
    frames: list[Path] = []
    pages: list[DatedPage] = []
    snaps: list[Snapshot] = []
    spatial = prepared.departement_of_site
    options = _reach_options(reach)
    with staged_outputs() as staging:
        for day in days:
            # Every frame is a map; only the last date's reach goes into the GeoPackage.
            snap = dated_snapshot(prepared, day, reach=options if day == days[-1] else None)
            stem = out / map_stem("a4", day)  # one frame for every date: no preset suffix
            files = _stage_map(staging, drawing, stem, snap.map, snap.alt_text, preset=preset,
                               labels=False, overrides=None, basemap=None, font=font)
            written += files
            frames.append(staging.path_of(next(f for f in files if f.suffix == ".png")))
            snaps.append(snap)
            pages.append(DatedPage(day, snap.map, snap.alt_text,
                                   site_records(snap.sites.to_dict("records")),
                                   f"{stem.name}.html", history_figures(day, snap.counts)))
            log.info("carte du %s : %d écoles ouvertes", day.isoformat(),
                     snap.counts["ecoles_ouvertes"])
        chart = plot_timeline(counts_over_time(prepared.registry, openings,
                                               departement_of_site=spatial))
        chart_png, chart_svg = out / f"{CHART_STEM}.png", out / f"{CHART_STEM}.svg"
        save_chart(chart, staging.path(chart_png), staging.path(chart_svg))
        reconciled = reconcile_over_time(prepared.registry, openings,
                                         departement_of_site=spatial)
        write_text(reconciliation_markdown(reconciled,
                                           reconcile_openings(prepared.registry, openings)),
                   staging.path(out / HISTORY_RECONCILIATION))
        last = snaps[-1]
        over_time = None
        if options is not None:
            reaching = {s.day: _open_sites(s.sites) for s in snaps}
            over_time = reach_over_time(prepared.communes, reaching, options=options)
        gpkg = Path(gpkg_path)
        write_coverage_gpkg(last.sites, last.departements, staging.path(gpkg),
                            metadata=dict(last.metadata), as_of=last.day,
                            history=_history_table(prepared, days), reach_history=over_time,
                            **_reach_layer(last.reach))
        drawing.wait()
        gif = out / GIF_NAME
        write_gif(frames, staging.path(gif))
        written += [gif, chart_png, chart_svg, out / HISTORY_RECONCILIATION, gpkg]
        # The press pages: one per date, then the page over time with its date control.
        for snap, dated in zip(snaps, pages, strict=True):
            page = out / dated.href
            offers = [(page.with_suffix(f".{ext}"), label) for ext, label in _MAP_DOWNLOADS]
            downloads = [d for d in (_download(staging, t, label, page) for t, label in offers)
                         if d]
            write_text(render_page(snap.map, alt_text=snap.alt_text, sites=dated.sites,
                                   note=page_note(snap.day), downloads=downloads,
                                   history_href=HISTORY_PAGE), staging.path(page))
            written.append(page)
        overview = out / HISTORY_PAGE
        offers = [(gif, "l'animation"), (chart_png, "le graphique"),
                  (gpkg, "la couverture par date pour les SIG")]
        downloads = [d for d in (_download(staging, t, label, overview) for t, label in offers)
                     if d]
        write_text(render_history_page(pages, note=page_note(days[-1]), downloads=downloads),
                   staging.path(overview))
        written.append(overview)
    return written, reconciliation_text(reconciled)


def recover_outputs(folders: Iterable[str | os.PathLike[str]]) -> None:
    """Finish, in each existing folder, what a run killed while publishing left there."""
    from pipeline.outputs.files import recover

    for folder in folders:
        if Path(folder).is_dir():
            recover(folder)


__all__ = [
    "Drawing", "InputFile", "OutputNames", "Prepared", "Snapshot", "coverage_on",
    "dated_snapshot", "load_registry", "prepare", "publish", "publish_history",
    "read_openings", "read_registry", "read_snapshot", "recover_outputs", "snapshot",
]
