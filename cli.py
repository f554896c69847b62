"""Command-line interface of the écoles de production coverage pipeline.

Thin by design: each command parses its options, calls the orchestrator
(:mod:`pipeline.run`) and reports. Shared options are defined once below, their choices come
from the library's own constants, and a bad value is a usage error (exit 2) before any work.
Heavy imports (pandas, geopandas, matplotlib) happen inside the commands, so that
``ecoles-map --help`` answers at once. What users read at run time is in French; ``--help``
is in English, like the docs.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pipeline import __version__
from pipeline.config import (
    ANNEX_DATE,
    BOUNDARY_SOURCES,
    DEFAULT_IGN_EDITION,
    DEFAULT_OPENINGS,
    DEFAULT_REGISTRY,
    GEOCODERS,
    MAPS_DIR,
    PROCESSED_DIR,
    REACH_THRESHOLDS_KM,
    WHERE_NEXT_PICKS,
    ign_edition_names,
)
from pipeline.errors import PipelineError
from pipeline.outputs.maps.layout import PRESETS

if TYPE_CHECKING:
    from pipeline.run import Drawing
    from pipeline.sources.inputs import Sources
    from pipeline.steps.reach_options import ReachOptions

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("ecoles_map")
ALL_PRESETS = "all"
HISTORY_SUBDIR = "historique"
HISTORY_GPKG = "historique.gpkg"


# --- Option values checked at parse time ----------------------------------------------------
def _date(ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    """Parse a real calendar day between the annex and today, written YYYY-MM-DD."""
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} n'est pas une date AAAA-MM-JJ (par exemple "
                                 f"{ANNEX_DATE.isoformat()})") from None
    today = dt.date.today()
    if not ANNEX_DATE <= day <= today:
        raise click.BadParameter(f"{value} n'est pas entre l'annexe ({ANNEX_DATE.isoformat()}) "
                                 f"et aujourd'hui ({today.isoformat()})")
    return day


def _boundaries(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``embedded``, ``ign``, or an existing file."""
    if value in BOUNDARY_SOURCES or Path(value).is_file():
        return value
    raise click.BadParameter(f"{value!r} n'est ni {' ni '.join(BOUNDARY_SOURCES)} ni un fichier "
                             "existant (GeoPackage, shapefile ou GeoJSON de départements)")


def _basemap(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``plan-ign`` or an existing GeoTIFF."""
    if value is None or value == "plan-ign" or Path(value).is_file():
        return value
    raise click.BadParameter(f"{value!r} n'est ni plan-ign ni un fichier GeoTIFF existant")


#: Bounds of the reach options, checked before any work (a reach beyond 300 km, or a detour
#: above 3, is a typing error rather than a question).
MAX_REACH_KM = 300.0
MAX_DETOUR = 3.0
MAX_WHERE_NEXT = 100


def _reach_km(ctx: click.Context, param: click.Parameter,
              value: Sequence[float]) -> tuple[float, ...]:
    """Distances in km, each in (0, 300], kept sorted and once each; default 30 and 45."""
    if not value:
        return REACH_THRESHOLDS_KM
    bad = [v for v in value if not 0 < v <= MAX_REACH_KM]
    if bad:
        raise click.BadParameter(f"{bad[0]:g} km : une distance d'accès est entre 0 et "
                                 f"{MAX_REACH_KM:g} km (par exemple --reach-km 30)")
    return tuple(sorted(set(value)))


def _detour(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """Check a detour factor: between 1 and 3 (road distance / straight line), or None."""
    if value is not None and not 1 <= value <= MAX_DETOUR:
        raise click.BadParameter(f"{value:g} : un facteur de détour est entre 1 et "
                                 f"{MAX_DETOUR:g} (1,3 est un ordre de grandeur courant)")
    return value


def _presets(ctx: click.Context, param: click.Parameter,
             value: Sequence[str]) -> tuple[str, ...]:
    """Return the presets asked, in order, ``all`` standing for every one."""
    return tuple(PRESETS) if ALL_PRESETS in value else tuple(dict.fromkeys(value))


# --- Shared options (defined once, used by several commands) ------------------------------
registry_arg = click.argument(
    "registry", required=False, default=str(DEFAULT_REGISTRY),
    type=click.Path(dir_okay=False, path_type=Path))
as_of_opt = click.option(
    "--as-of", "as_of", metavar="YYYY-MM-DD", callback=_date, default=None,
    help="Coverage on this date, between the annex (2021-11-23, the default) and today; a "
         "date after the annex also reads --openings and names every file after the date.")
openings_opt = click.option(
    "--openings", type=click.Path(dir_okay=False, path_type=Path),
    default=str(DEFAULT_OPENINGS), show_default=True,
    help="Openings after the annex (read only for a date after the annex).")
labels_opt = click.option(
    "--labels/--no-labels", "labels", default=None,
    help="Force point labels on or off (default: on the annex when the frame has room and "
         "there are at most 300 sites; off on dated maps).")
presets_opt = click.option(
    "--preset", "presets", multiple=True, default=["a4"], show_default=True,
    type=click.Choice([*PRESETS, ALL_PRESETS]), callback=_presets,
    help="Map frame: A4 print (300 dpi), 16:9 slide, social card 1200x630, square "
         "1080x1080, or all; repeat for several.")
processed_dir_opt = click.option(
    "--processed-dir", type=click.Path(file_okay=False, path_type=Path),
    default=str(PROCESSED_DIR), show_default=True,
    help="Folder of the GeoPackages and tables.")
maps_dir_opt = click.option(
    "--maps-dir", type=click.Path(file_okay=False, path_type=Path),
    default=str(MAPS_DIR), show_default=True, help="Folder of the maps.")
basemap_opt = click.option(
    "--basemap", default=None, metavar="plan-ign|FILE.tif", callback=_basemap,
    help="Draw a basemap: IGN Plan tiles (network, cached) or a local GeoTIFF.")
font_opt = click.option("--font", default=None, help="Font family (default DejaVu Sans).")
jobs_opt = click.option(
    "-j", "--jobs", type=click.IntRange(1, 8), default=2, show_default=True,
    help="Processes drawing the maps (1 draws everything in this one).")
boundaries_opt = click.option(
    "--boundaries", default="embedded", show_default=True, metavar="embedded|ign|FILE",
    callback=_boundaries,
    help="Départements: embedded in the package (offline), IGN ADMIN EXPRESS COG CARTO "
         "(downloaded once, cached), or a file of either IGN schema.")
edition_opt = click.option(
    "--edition", type=click.Choice(ign_edition_names()), default=DEFAULT_IGN_EDITION,
    show_default=True,
    help="IGN edition with --boundaries ign (2021 is the annex's; latest asks the WFS).")
geocoder_opt = click.option(
    "--geocoder", type=click.Choice(GEOCODERS), default="embedded", show_default=True,
    help="Communes: the gazetteer embedded in the package (INSEE COG, offline) or "
         "geo.api.gouv.fr (cached).")
cache_dir_opt = click.option(
    "--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Cache of the online sources (default: $ECOLES_MAP_CACHE, else the user cache "
         "folder).")


reach_km_opt = click.option(
    "--reach-km", "reach_km", type=float, multiple=True, callback=_reach_km, metavar="KM",
    help="Distance of the shares of young people within reach of a site, in km; repeat for "
         "several (default: 30 and 45). The first is the radius of the where-next ranking, "
         "the last bounds the farthest communes.")
detour_opt = click.option(
    "--detour", "detour", type=float, default=None, callback=_detour, metavar="FACTOR",
    help="Estimate road distances as straight line x FACTOR (1 to 3; about 1.3 is usual); "
         "labelled as an estimate in every output. Default: straight line.")
where_next_opt = click.option(
    "--where-next", "where_next", type=click.IntRange(1, MAX_WHERE_NEXT),
    default=WHERE_NEXT_PICKS,
    show_default=True, metavar="K",
    help="Number of places ranked by where a new school would reach the most young people "
         "(greedy, towns of 10,000 inhabitants or more).")


def reach_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --reach-km, --detour, --where-next; pass them as ``reach`` (ReachOptions)."""

    @functools.wraps(func)
    def wrapper(*args: Any, reach_km: tuple[float, ...], detour: float | None,
                where_next: int, **kwargs: Any) -> Any:
        return func(*args, reach=_reach(reach_km, detour, where_next), **kwargs)

    for option in (where_next_opt, detour_opt, reach_km_opt):
        wrapper = option(wrapper)
    return wrapper


def distance_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --reach-km and --detour (no ranking is written); pass them as ``reach``."""

    @functools.wraps(func)
    def wrapper(*args: Any, reach_km: tuple[float, ...], detour: float | None,
                **kwargs: Any) -> Any:
        return func(*args, reach=_reach(reach_km, detour, WHERE_NEXT_PICKS), **kwargs)

    for option in (detour_opt, reach_km_opt):
        wrapper = option(wrapper)
    return wrapper


def _reach(reach_km: tuple[float, ...], detour: float | None, where_next: int) -> ReachOptions:
    """Build the library's ReachOptions (values already checked at parse time)."""
    from pipeline.steps.reach_options import ReachOptions

    return ReachOptions(thresholds_km=reach_km, detour_factor=detour, where_next=where_next)


def sources_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --boundaries, --edition, --geocoder, --cache-dir; pass them as ``sources``."""

    @functools.wraps(func)
    def wrapper(*args: Any, boundaries: str, edition: str, geocoder: str,
                cache_dir: Path | None, **kwargs: Any) -> Any:
        return func(*args, sources=_sources(boundaries, edition, geocoder, cache_dir), **kwargs)

    for option in (cache_dir_opt, geocoder_opt, edition_opt, boundaries_opt):
        wrapper = option(wrapper)
    return wrapper


def _sources(boundaries: str, edition: str, geocoder: str, cache_dir: Path | None) -> Sources:
    """Build the library's Sources, with a download bar on stderr for IGN archives."""
    from pipeline.sources.inputs import Sources

    return Sources(boundaries=boundaries, edition=edition, geocoder=geocoder,
                   cache_dir=cache_dir, progress=_download_bar())


def _quiet() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.find_root().meta.get("quiet"))


def _download_bar() -> Callable[[int, int | None], None] | None:
    """Return a progress callback drawing a bar on stderr, or None with --quiet."""
    if _quiet():
        return None
    state: dict[str, Any] = {}

    def update(done: int, total: int | None) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = click.progressbar(length=total or 0, label="téléchargement IGN",
                                    file=sys.stderr)
            bar.__enter__()
            state["bar"] = bar
        bar.update(done - bar.pos)
        if total is not None and done >= total:
            bar.__exit__(None, None, None)

    return update


def handle_errors(func: F) -> F:
    """Turn the library's domain exceptions into click errors (exit status 1)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PipelineError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def echo_err(message: str) -> None:
    """Print a message for people on stderr, unless --quiet was given."""
    if not _quiet():
        click.echo(message, err=True)


def report(written: Sequence[Path]) -> None:
    """List the files written, one per line."""
    for path in written:
        echo_err(f"→ {path}")


_START = time.perf_counter()


def _step(what: str) -> None:
    """Log the time since the command started (``-vv``)."""
    log.debug("%.3f s : %s", time.perf_counter() - _START, what)


def _drawing(jobs: int) -> Drawing:
    """Start the drawing workers now, before the heavy imports (see pipeline.run.Drawing)."""
    from pipeline.run import Drawing

    return Drawing(jobs=jobs)


def _recover(*folders: Path) -> None:
    """Finish a publish that a killed run left in these folders (see Staging)."""
    from pipeline.run import recover_outputs

    recover_outputs(folders)


# --- The group ----------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More detail on stderr (repeat for timings).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.version_option(__version__, "--version", prog_name="ecoles-map")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Build the coverage map of France's écoles de production (annex of 23 Nov 2021).

    Steps: ingest the registry, geocode its communes, join them with IGN départements,
    render the map. `build` runs them all; `history` draws the coverage over time.
    """
    ctx.meta["quiet"] = quiet
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[
        min(verbose, 2)]
    # Libraries (matplotlib, pyogrio...) keep to warnings; -v and -vv speak of the pipeline.
    logging.basicConfig(level=max(level, logging.WARNING),
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("pipeline").setLevel(level)
    log.setLevel(level)


@main.command()
@registry_arg
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=str(PROCESSED_DIR / "registre.csv"), show_default=True,
              help="Where to write the validated, normalised copy of the registry.")
@handle_errors
def ingest(registry: Path, output: Path) -> None:
    """Validate the registry REGISTRY and write a clean, normalised copy.

    Every problem (file, line, column, value) is listed in one run; nothing is written when
    any row is invalid. The copy is itself a valid registry (yes/no as oui/non): `ingest`
    reads it back unchanged.
    """
    from pipeline.outputs.files import write_csv
    from pipeline.outputs.tables import registry_table
    from pipeline.run import load_registry
    from pipeline.steps.report import reconcile

    sites = load_registry(registry)
    write_csv(registry_table(sites), output)
    echo_err(reconcile(sites).text())
    echo_err(f"{len(sites)} sites validés → {output}")


@main.command()
@click.argument("input_csv", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("output_csv", type=click.Path(dir_okay=False, path_type=Path))
@geocoder_opt
@cache_dir_opt
@click.option("--commune-column", default="commune", show_default=True,
              help="Column holding the commune names.")
@click.option("--departement-column", default="departement", show_default=True,
              help="Column holding the département codes (optional in the file).")
@handle_errors
def geocode(input_csv: Path, output_csv: Path, geocoder: str, cache_dir: Path | None,
            commune_column: str, departement_column: str) -> None:
    """Add INSEE code and point of each row's commune to INPUT_CSV, write OUTPUT_CSV.

    INPUT_CSV is any CSV with a commune column (and optionally a département column); every
    row and column is kept, and code_insee, nom_commune, longitude, latitude, methode and
    statut_geocodage are added. Exit status 1 when a row is ambiguous or not found (the
    output is still written; those rows are listed with their line).
    """
    from pipeline.outputs.files import write_csv
    from pipeline.sources.csvfile import read_csv_records
    from pipeline.steps.geocode import count_statuses, geocoding_problems

    records, lines = read_csv_records(input_csv)
    if geocoder == "online":
        from pipeline.sources.geoapi import geocode_online

        renamed = records.rename(columns={commune_column: "commune",
                                          departement_column: "departement"})
        geocoded = geocode_online(renamed, cache_dir=cache_dir).rename(
            columns={"commune": commune_column, "departement": departement_column})
    else:
        from pipeline.sources.embedded import read_gazetteer
        from pipeline.steps.geocode import geocode_sites

        geocoded = geocode_sites(records, read_gazetteer(), commune_column=commune_column,
                                 departement_column=departement_column)
    write_csv(geocoded, output_csv)
    counts = count_statuses(geocoded)
    echo_err(f"{len(geocoded)} lignes géocodées ({geocoder}) → {output_csv} : "
             + ", ".join(f"{status} {n}" for status, n in counts.items()))
    problems = geocoding_problems(geocoded, path=str(input_csv), lines=lines,
                                  commune_column=commune_column)
    for problem in problems:
        click.echo(f"  - {problem}", err=True)
    if problems:
        raise click.exceptions.Exit(1)


@main.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=str(PROCESSED_DIR / "departements.gpkg"), show_default=True,
              help="GeoPackage to write (layer 'departements').")
@boundaries_opt
@edition_opt
@cache_dir_opt
@handle_errors
def boundaries(output: Path, boundaries: str, edition: str, cache_dir: Path | None) -> None:
    """Export the départements the pipeline uses (code, nom, EPSG:4326) to a GeoPackage."""
    from pipeline.outputs.gpkg import write_departements

    departements, provenance = _sources(boundaries, edition, "embedded",
                                        cache_dir).read_departements()
    write_departements(departements, output, provenance=provenance)
    echo_err(f"{len(departements)} départements ({provenance.source}) → {output}")


@main.command()
@registry_arg
@processed_dir_opt
@as_of_opt
@openings_opt
@sources_options
@reach_options
@handle_errors
def join(registry: Path, processed_dir: Path, as_of: dt.date | None, openings: Path,
         sources: Sources, reach: ReachOptions) -> None:
    """Place the sites of REGISTRY in their départements and write the coverage data.

    Writes the analysts' GeoPackage (layers ecoles, departements and communes_acces, QGIS
    styles inside), the table behind the map (CSV and Markdown), the reach tables and the
    reconciliation with the press release, all together. Nothing is written when a commune
    is not found or a site falls outside its declared département.
    """
    from pipeline.run import prepare, publish, snapshot

    _recover(processed_dir)
    prepared = prepare(registry, openings_path=_openings_for(as_of, openings),
                       sources=sources)
    snap = snapshot(prepared, as_of, reach=reach)
    written = publish(snap, processed_dir=processed_dir, maps_dir=MAPS_DIR, parts=("tables",))
    echo_err(snap.summary)
    report(written)


def _openings_for(day: dt.date | None, openings: Path) -> Path | None:
    """Return the openings file when the date needs it (any date after the annex)."""
    return openings if day is not None and day != ANNEX_DATE else None


@main.command()
@click.argument("couverture", required=False,
                default=str(PROCESSED_DIR / "couverture.gpkg"),
                type=click.Path(dir_okay=False, path_type=Path))
@presets_opt
@basemap_opt
@cache_dir_opt
@font_opt
@labels_opt
@maps_dir_opt
@jobs_opt
@handle_errors
def render(couverture: Path, presets: tuple[str, ...], basemap: str | None,
           cache_dir: Path | None, font: str | None, labels: bool | None, maps_dir: Path,
           jobs: int) -> None:
    """Draw the maps of the coverage GeoPackage COUVERTURE (PNG, SVG, PDF, alternative text).

    COUVERTURE is a GeoPackage written by `join`, `build` or `history`: the annex gives
    ecoles-de-production-2021[-<preset>].*, a dated one ecoles-de-production-<date>[-<preset>].*;
    with its reach columns, also the reach map acces-<km>km-2021[-<preset>].* (or -<date>).
    A4 adds the print PDF. Manual label offsets are read from data/raw/etiquettes.csv when it
    exists.
    """
    drawing = _drawing(jobs)
    with drawing:
        from pipeline.run import publish, read_snapshot

        _recover(maps_dir)
        snap = read_snapshot(couverture)
        written = publish(snap, processed_dir=PROCESSED_DIR, maps_dir=maps_dir, parts=("maps",),
                          presets=presets, labels=labels, basemap=basemap,
                          cache_dir=cache_dir, font=font, drawing=drawing)
    report(written)


@main.command()
@registry_arg
@openings_opt
@click.option("--until", metavar="YYYY-MM-DD", callback=_date, default=None,
              help="Last date of interest (default: the latest opening or closing); maps run "
                   "through its year.")
@click.option("--preset", default="square", show_default=True, type=click.Choice(PRESETS),
              help="Frame of every dated map (one frame for all, so they can be flipped "
                   "through; the GIF is made of them, square for social feeds).")
@processed_dir_opt
@maps_dir_opt
@font_opt
@sources_options
@distance_options
@jobs_opt
@handle_errors
def history(registry: Path, openings: Path, until: dt.date | None, preset: str,
            processed_dir: Path, maps_dir: Path, font: str | None, sources: Sources,
            reach: ReachOptions, jobs: int) -> None:
    """Draw the coverage at the annex date and at each 31 December since, with a GIF and chart.

    Writes, in <maps-dir>/historique/, ecoles-de-production-YYYY-MM-DD.{png,svg,txt} per
    date, an animated GIF, the chart of schools and départements over time beside the
    published counts and the dated reconciliation (also printed); and
    <processed-dir>/historique.gpkg (the last date's coverage and reach, and the reach at
    every date in its table acces_historique). All together: a failed run changes none of
    them.
    """
    drawing = _drawing(jobs)
    with drawing:
        from pipeline.run import prepare, publish_history
        from pipeline.steps.history import history_dates

        outdir = maps_dir / HISTORY_SUBDIR
        _recover(outdir, processed_dir)
        prepared = prepare(registry, openings_path=openings, sources=sources)
        dates = history_dates(prepared.require_openings(), until=until)
        written, text = publish_history(prepared, dates=dates, outdir=outdir,
                                        gpkg_path=processed_dir / HISTORY_GPKG, preset=preset,
                                        font=font, drawing=drawing, reach=reach)
    echo_err(text)
    report(written)


@main.command()
@registry_arg
@processed_dir_opt
@maps_dir_opt
@presets_opt
@labels_opt
@as_of_opt
@openings_opt
@click.option("--history/--no-history", "with_history", default=False,
              help="Also draw the coverage over time (what `history` writes), in the same "
                   "run.")
@sources_options
@reach_options
@jobs_opt
@handle_errors
def build(registry: Path, processed_dir: Path, maps_dir: Path, presets: tuple[str, ...],
          labels: bool | None, as_of: dt.date | None, openings: Path, with_history: bool,
          sources: Sources, reach: ReachOptions, jobs: int) -> None:
    """Run every step on REGISTRY: the GeoPackage, the tables and the maps, all together.

    Without --as-of, the annex of 23 November 2021 (the paths `make map` keeps); with a later
    date, the same set under names carrying the date, beside the annex's, never over them.
    A failed or interrupted build leaves the previous files untouched.
    """
    drawing = _drawing(jobs)
    with drawing:
        from pipeline.run import prepare, publish, publish_history, snapshot

        _step("drawing workers started")
        history_dir = maps_dir / HISTORY_SUBDIR
        _recover(processed_dir, maps_dir, *((history_dir,) if with_history else ()))
        needs_openings = with_history or _openings_for(as_of, openings) is not None
        prepared = prepare(registry, openings_path=openings if needs_openings else None,
                           sources=sources)
        _step("sites placed")
        snap = snapshot(prepared, as_of, reach=reach)
        _step("snapshot made")
        written = publish(snap, processed_dir=processed_dir, maps_dir=maps_dir,
                          presets=presets, labels=labels, drawing=drawing, progress=_step)
        summary = snap.summary
        if with_history:
            from pipeline.steps.history import history_dates

            more, summary_history = publish_history(
                prepared, dates=history_dates(prepared.require_openings()),
                outdir=history_dir, gpkg_path=processed_dir / HISTORY_GPKG, drawing=drawing,
                reach=reach)
            written += more
            summary += "\n" + summary_history
        _step("published")
    echo_err(summary)
    report(written)


def run() -> None:
    """Console entry point: run the CLI, then exit without the final garbage collection.

    At exit the interpreter would walk the million objects that geopandas and matplotlib
    leave behind, for nothing: ``gc.freeze`` takes them out of the collector's sight
    (about 0.15 s saved on a 1.7 s build). Files are all closed by then.
    """
    try:
        main()
    finally:
        gc.freeze()
