"""Coverage over time: the dated maps, their animated GIF and the chart of counts by date.

:func:`render_history` draws the map at the annex date and at each 31 December (same preset
and layout, so the files can be flipped through), writes each as PNG, SVG and alternative
text, chains them into an animated GIF (:func:`write_gif`) and draws :func:`plot_timeline`:
the schools open and the départements covered by date, the network's published counts beside
the registry's, so the gap is visible. Every file is written atomically and byte for byte the
same from the same inputs (no timestamps).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, NamedTuple

import matplotlib as mpl
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter, YearLocator
from matplotlib.figure import Figure

from pipeline.config import ANNEX_DATE, BLUE_FRANCE, RED_MARIANNE
from pipeline.errors import RenderError
from pipeline.history import (
    COVERED_BEFORE,
    COVERED_SINCE,
    PublishedCount,
    coverage_as_of,
    dated_alt_text,
    dated_counts,
    dated_legend,
    dated_title,
    french_date,
    published_counts,
    sites_as_of,
)
from pipeline.io import atomic_path
from pipeline.mapdata import MapData, default_source_line, map_data, map_stem

if TYPE_CHECKING:
    from pipeline.join import Coverage
    from pipeline.workflow import HistoryInputs

log = logging.getLogger(__name__)

GIF_NAME: Final = "ecoles-de-production-historique.gif"
CHART_STEM: Final = "ecoles-de-production-evolution"
RECONCILIATION_NAME: Final = "rapprochement-historique.md"
#: GIF frames: width in pixels (a social post shows about 1000 px), time per frame, and a
#: longer pause on the last one before the loop starts again.
GIF_WIDTH: Final = 960
GIF_FRAME_MS: Final = 1500
GIF_LAST_FRAME_MS: Final = 4000
TEAL: Final = "#00A0A0"
_SVG_SALT: Final = "ecoles-map-evolution"


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
        Ready for :func:`pipeline.render.draw_map` (labels off: they would jump from one
        date to the next).
    """
    counts = dated_counts(coverage.sites, coverage.departements)
    source = default_source_line(coverage.departements).replace(
        "Sources : dossier de presse du 23 novembre 2021 ;",
        "Sources : dossier de presse du 23 novembre 2021 ; ouvertures documentées depuis "
        "(presse, écoles) ;")
    data = map_data(coverage.sites, coverage.departements, title=dated_title(day, counts),
                    legend=dated_legend(counts), source_line=source)
    return DatedMap(data, dated_alt_text(day, counts), counts)


def counts_over_time(registry: pd.DataFrame, openings: pd.DataFrame, *,
                     departement_of_site: str | dict[str, str] = "departement",
                     until: dt.date | None = None) -> pd.DataFrame:
    """Return the schools open and départements covered on each day something changed.

    Parameters
    ----------
    registry, openings
        The validated inputs (:mod:`pipeline.history`).
    departement_of_site
        As in :func:`pipeline.history.coverage_as_of`.
    until
        Last day (default: the later of the last opening or closing and the last published
        count).

    Returns
    -------
    pandas.DataFrame
        ``date`` (``datetime64[s]``), ``ecoles_ouvertes``, ``departements_couverts``, one row
        per event day from the annex on, plus ``until``.
    """
    events = pd.concat([openings["date_ouverture"], openings["date_fermeture"]]).dropna()
    days = {ANNEX_DATE, *(d.date() for d in events)}
    days |= {p.date for p in published_counts() if p.date >= ANNEX_DATE}
    last = until or max(days)
    rows = []
    for day in sorted(d for d in {*days, last} if ANNEX_DATE <= d <= last):
        sites = sites_as_of(registry, openings, day)
        cov = coverage_as_of(sites, departement_of_site=departement_of_site)
        rows.append({"date": pd.Timestamp(day), "ecoles_ouvertes": int(sites["ouverte"].sum()),
                     "departements_couverts": int(cov["statut"].isin(
                         [COVERED_BEFORE, COVERED_SINCE]).sum())})
    out = pd.DataFrame(rows)
    out["date"] = out["date"].astype("datetime64[s]")
    return out


def plot_timeline(counts: pd.DataFrame,
                  published: Sequence[PublishedCount] | None = None) -> Figure:
    """Draw the schools open and départements covered by date, beside the published counts.

    Parameters
    ----------
    counts
        From :func:`counts_over_time`.
    published
        Published sizes of the network (default :func:`pipeline.history.published_counts`
        from the annex on), drawn as labelled points.

    Returns
    -------
    matplotlib.figure.Figure
        A 1200 × 675 px chart (16:9) on an Agg canvas; save it with :func:`save_chart`.
    """
    if published is None:
        published = [p for p in published_counts() if p.date >= ANNEX_DATE]
    with mpl.rc_context({"font.family": "DejaVu Sans", "axes.spines.top": False,
                         "axes.spines.right": False}):
        fig = Figure(figsize=(8, 4.5), dpi=150, facecolor="white")
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.08, 0.2, 0.66, 0.66))
        dates = counts["date"].dt.to_pydatetime()
        ax.step(dates, counts["ecoles_ouvertes"], where="post", color=BLUE_FRANCE,
                linewidth=2, label="Écoles ouvertes (registre)", gid="ecoles-registre")
        ax.step(dates, counts["departements_couverts"], where="post", color=TEAL,
                linewidth=2, label="Départements couverts", gid="departements")
        pub_x = pd.to_datetime([p.date for p in published]).to_pydatetime()
        pub_y = [p.ecoles for p in published]
        ax.plot(pub_x, pub_y, linestyle=(0, (3, 2)), color=RED_MARIANNE, marker="^",
                markersize=7, linewidth=1.2, label="Écoles selon le réseau",
                gid="ecoles-publiees")
        for x, p in zip(pub_x, published, strict=True):
            registry_then = int(counts.loc[counts["date"] <= pd.Timestamp(p.date),
                                           "ecoles_ouvertes"].iloc[-1])
            gap = registry_then - p.ecoles
            ax.annotate(f"{p.ecoles}" + (f" ({gap:+d})" if gap else ""), (x, p.ecoles),
                        xytext=(-4, 6), textcoords="offset points", ha="right", fontsize=7.5,
                        color=RED_MARIANNE)
        last = counts.iloc[-1]
        for column, colour in (("ecoles_ouvertes", BLUE_FRANCE),
                               ("departements_couverts", TEAL)):
            ax.annotate(str(int(last[column])), (last["date"].to_pydatetime(), last[column]),
                        xytext=(4, 0), textcoords="offset points", va="center", fontsize=8,
                        color=colour, fontweight="bold")
        ax.set_ylim(0, max(max(pub_y, default=0), int(counts["ecoles_ouvertes"].max())) * 1.15)
        ax.set_ylabel("nombre")
        ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.xaxis.set_major_locator(YearLocator())
        ax.xaxis.set_major_formatter(DateFormatter("%Y"))
        ax.tick_params(labelsize=8)
        fig.text(0.08, 0.95, "Écoles de production depuis l'AMI : registre et chiffres publiés",
                 fontsize=11, fontweight="bold", va="top", gid="titre")
        fig.legend(loc="upper left", bbox_to_anchor=(0.76, 0.86), frameon=False, fontsize=8)
        fig.text(0.76, 0.6, "Entre parenthèses : écart\ndu registre au chiffre publié\n"
                 "(négatif : écoles absentes\ndu registre).", fontsize=7.5, va="top",
                 color="#444444")
        fig.text(0.08, 0.04, f"Registre : 42 écoles du communiqué du {french_date(ANNEX_DATE)} "
                 "et ouvertures documentées depuis (data/raw/ouvertures.csv). Chiffres publiés :"
                 " ministère, Fondation TotalEnergies, FNEP, presse.", fontsize=6.5,
                 color="#444444", wrap=True, gid="sources")
    return fig


def save_chart(fig: Figure, png_path: str | os.PathLike[str],
               svg_path: str | os.PathLike[str]) -> None:
    """Write the chart as PNG and SVG, atomically, with deterministic bytes.

    Parameters
    ----------
    fig
        From :func:`plot_timeline`.
    png_path, svg_path
        Destinations.

    Raises
    ------
    RenderError
        If a file cannot be written.
    """
    try:
        with mpl.rc_context({"svg.hashsalt": _SVG_SALT, "svg.fonttype": "none"}):
            with atomic_path(png_path) as tmp:
                fig.savefig(tmp, format="png", metadata={"Software": None})
            with atomic_path(svg_path) as tmp:
                fig.savefig(tmp, format="svg", metadata={"Date": None})
    except OSError as exc:
        raise RenderError(f"cannot write the chart: {exc}") from exc


def write_gif(frames: Sequence[str | os.PathLike[str]], path: str | os.PathLike[str], *,
              width: int = GIF_WIDTH, frame_ms: int = GIF_FRAME_MS,
              last_frame_ms: int = GIF_LAST_FRAME_MS) -> Path:
    """Chain PNG maps into a looping animated GIF, atomically and deterministically.

    Parameters
    ----------
    frames
        PNG files, in order; all of the same size.
    path
        Destination ``.gif``.
    width
        Width of the GIF in pixels (height keeps the ratio).
    frame_ms, last_frame_ms
        Time each frame shows, and the last one before the loop restarts.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    RenderError
        If there is no frame or the frames differ in size.
    """
    from PIL import Image

    if not frames:
        raise RenderError("no map to animate; render at least one date")
    images = []
    size = None
    for frame in frames:
        with Image.open(frame) as img:
            if size is not None and img.size != size:
                raise RenderError(f"{frame}: {img.size[0]}×{img.size[1]} px, but the first "
                                  f"frame is {size[0]}×{size[1]}; render all dates with the "
                                  "same preset")
            size = img.size
            height = round(img.size[1] * width / img.size[0])
            rgb = img.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
        # One adaptive palette per frame, no dithering: flat map colours stay flat.
        images.append(rgb.quantize(colors=128, method=Image.Quantize.MEDIANCUT,
                                   dither=Image.Dither.NONE))
    durations = [frame_ms] * (len(images) - 1) + [last_frame_ms]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=durations, loop=0, optimize=False, disposal=1)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())
    return Path(path)


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
        Dates of the maps (default :func:`pipeline.history.history_dates`: the annex, then
        each 31 December through the latest opening or closing).
    preset
        Frame of the maps (see :mod:`pipeline.layout`).
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
    from pipeline.history import (
        history_dates,
        reconcile_openings,
        reconcile_over_time,
        reconciliation_markdown,
        reconciliation_text,
    )
    from pipeline.io import write_text
    from pipeline.render import draw_map, save_map
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
    :func:`pipeline.render.render_maps`.

    Parameters
    ----------
    inputs
        From :func:`pipeline.workflow.prepare_history`.
    day
        Date of the map.
    outdir
        Folder of the maps.
    presets, basemap, font
        As for :func:`pipeline.render.render_maps`.

    Returns
    -------
    list of Path
        The files written.
    """
    from pipeline.io import write_text
    from pipeline.render import draw_map, save_map
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
