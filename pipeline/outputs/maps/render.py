"""The annex map as a matplotlib ``Figure`` (print, slides, social cards); saving is separate.

:func:`draw_map` draws metropolitan France and Corsica in Lambert-93, the five overseas
départements as boxed, named insets each in its own projection, an Île-de-France zoom, the
sites (colour and shape by category), their labels (placed by
:mod:`pipeline.outputs.maps.labels`), the legend with counts computed from the data, the
title, the scale bar and the source line. Saving is :mod:`pipeline.outputs.maps.save`.

Preparing and drawing are two steps, so that the map can be drawn in a process that never
imports pandas or geopandas: :func:`pipeline.outputs.maps.mapdata.map_data` turns the
GeoDataFrames into a :class:`MapData` of plain Python, numpy and shapely objects (cheap to
pickle), and :func:`draw_map` draws a :class:`MapData`; :func:`plot_coverage` is the two in
one. This module imports neither pandas nor geopandas.

The figure is built without pyplot (no global state) on an Agg canvas, laid out by hand
(:mod:`pipeline.outputs.maps.layout`), and draws each fill class of départements as one
compound path, so a render costs a fraction of a second and the SVG stays small. In the SVG,
text stays text and the parts are named groups (``<g id="...">``) a designer can select:
``titre``, ``departements``, ``departements-nouvellement-couverts``, ``ecoles-existantes``,
``laureats-ingenierie``, ``laureats-investissement``, ``etiquettes``, ``legende``,
``echelle``, ``zoom-ile-de-france``, ``encarts-outre-mer`` (one ``encart-<code>`` each) and
``sources``.

Labels: ``labels="auto"`` draws them when the preset has room for them (not on the social
cards) and there are at most :data:`MAX_AUTO_LABELS` sites; ``True`` forces them, ``False``
removes them. Sites of the category ``autre`` (neither existing in 2021 nor laureate) are
not on the 2021 annex and are not drawn.
"""

from __future__ import annotations

import logging
import math
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import matplotlib as mpl
import numpy as np
import shapely
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure, SubFigure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Transform

from pipeline import config
from pipeline.errors import RenderError
from pipeline.outputs.maps.frames import Frame as FrameSpec
from pipeline.outputs.maps.frames import map_frames
from pipeline.outputs.maps.labels import Placement, leader_anchor, place_labels
from pipeline.outputs.maps.layout import Box, Preset, get_preset
from pipeline.outputs.maps.mapdata import MapData, map_data
from pipeline.provenance import Provenance

if TYPE_CHECKING:  # pandas and geopandas are not imported to draw (see the module docstring)
    import geopandas as gpd

log = logging.getLogger(__name__)

#: Above this many sites, ``labels="auto"`` leaves the labels out (they could not all fit).
MAX_AUTO_LABELS: Final = 300
DEFAULT_FONT: Final = "DejaVu Sans"
#: Marker area factors, so that circle, triangle and square look the same size.
_MARKER_AREA: Final[dict[str, float]] = {"o": 1.0, "^": 1.25, "s": 0.8}
BASEMAP_CREDIT: Final = "© IGN – Plan IGN"
EDGE_COLOUR: Final = "#7F8790"
TEXT_COLOUR: Final = "#1E1E1E"


class _Group(Artist):
    """Artist drawing its children inside one named group (``<g id=...>`` in SVG)."""

    def __init__(self, gid: str, children: Sequence[Artist], zorder: float = 3) -> None:
        super().__init__()
        self.set_gid(gid)
        self.set_zorder(zorder)
        self.children = list(children)

    def get_children(self) -> list[Artist]:
        return list(self.children)

    def draw(self, renderer: Any) -> None:
        if not self.get_visible():
            return
        renderer.open_group("g", gid=self.get_gid())
        for child in sorted(self.children, key=lambda a: a.get_zorder()):
            child.draw(renderer)
        renderer.close_group("g")
        self.stale = False


# --- Geometry ---------------------------------------------------------------------------------
def _compound_path(geoms: np.ndarray) -> MplPath:
    """One matplotlib path for many (multi)polygons: holes kept with the non-zero rule."""
    polys = shapely.get_parts(shapely.orient_polygons(geoms))
    rings = shapely.get_rings(polys)
    if len(rings) == 0:
        return MplPath(np.zeros((0, 2)))
    coords = shapely.get_coordinates(rings)
    counts = shapely.get_num_coordinates(rings)
    codes = np.full(len(coords), MplPath.LINETO, dtype=MplPath.code_type)
    ends = np.cumsum(counts)
    codes[ends - counts] = MplPath.MOVETO
    codes[ends - 1] = MplPath.CLOSEPOLY
    return MplPath(coords, codes)


# --- Drawing ----------------------------------------------------------------------------------
class _Frame:
    """One drawn frame: its axes and its geometry (:class:`~pipeline.outputs.maps.frames.Frame`)."""

    def __init__(self, ax: Any, spec: FrameSpec) -> None:
        self.ax = ax
        self.spec = spec
        self.site_index = spec.site_index
        self.xy = spec.site_xy
        self.labelled = spec.labelled
        #: Data bounds of what the frame draws, which labels of other frames must avoid.
        self.content = spec.content if spec.kind in ("inset", "strip") else None


def _gid(key: str, style: Mapping[str, str]) -> str:
    """SVG id of a category or status: its style's ``gid``, else the key itself."""
    return style.get("gid", key)


def _draw_departements(ax: Any, geoms: np.ndarray, statut: np.ndarray, *, gid_suffix: str,
                       alpha: float, linewidth: float) -> None:
    """Draw départements in a group ``departements``: one compound path per status.

    Statuses are drawn in the reverse order of :data:`pipeline.config.STATUS_STYLE`, so the
    first one (the key message) is drawn last, its outlines on top; each is named by its
    style's ``gid`` (e.g. ``departements-nouvellement-couverts``); absent ones are left out.
    """
    children: list[Artist] = []
    for status, style in reversed(config.STATUS_STYLE.items()):
        here = statut == status
        if not here.any():
            continue
        collection = PathCollection([_compound_path(geoms[here])],
                                    facecolors=[style["colour"]], edgecolors=EDGE_COLOUR,
                                    linewidths=linewidth, alpha=alpha, zorder=1)
        collection.set_gid(_gid(status, style) + gid_suffix)
        # What Axes.add_collection would do, but drawn by the group, not by the axes.
        collection.axes = ax
        collection.set_figure(ax.get_figure(root=False))
        collection.set_transform(ax.transData)
        collection.set_clip_path(ax.patch)
        children.append(collection)
    ax.add_artist(_Group("departements" + gid_suffix, children, zorder=1))


def _draw_sites(ax: Any, xy: np.ndarray, categorie: np.ndarray, *, marker: float,
                gid_suffix: str) -> None:
    """One scatter per category, in the order of :data:`pipeline.config.CATEGORY_STYLE`."""
    for rank, (cat, style) in enumerate(config.CATEGORY_STYLE.items()):
        mask = categorie == cat
        if not mask.any():
            continue
        area = marker * marker * _MARKER_AREA.get(style["marker"], 1.0)
        ax.scatter(xy[mask, 0], xy[mask, 1], s=area, marker=style["marker"],
                   c=style["colour"], edgecolors="white", linewidths=0.5, zorder=3 + rank,
                   gid=_gid(cat, style) + gid_suffix)


def _frame_box(ax: Any, name: str | None, fontsize: float, gid: str) -> None:
    """Box around an inset and its name in the upper-left corner."""
    children: list[Artist] = [Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False,
                                        edgecolor=TEXT_COLOUR, linewidth=0.6, clip_on=False,
                                        zorder=6)]
    if name:
        children.append(Text(0.04, 0.96, name, transform=ax.transAxes, ha="left", va="top",
                             fontsize=fontsize, fontweight="bold", color=TEXT_COLOUR,
                             zorder=6, parse_math=False))
    for child in children:
        child.set_figure(ax.get_figure(root=False))
    group = _Group(gid, children, zorder=6)
    ax.add_artist(group)


def _scale_bar(ax: Any, fontsize: float) -> None:
    """Draw a 100 km bar in the lower-left corner of the main frame (Lambert-93 metres)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    length = 100_000.0
    left, bottom = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    height = 0.006 * (y1 - y0)
    bar = Rectangle((left, bottom), length, height, facecolor=TEXT_COLOUR,
                    edgecolor="none", transform=ax.transData)
    label = Text(left + length / 2, bottom + 2.2 * height, "100 km", ha="center",
                 va="bottom", fontsize=fontsize, color=TEXT_COLOUR, transform=ax.transData)
    for child in (bar, label):
        child.set_figure(ax.get_figure(root=False))
    ax.add_artist(_Group("echelle", [bar, label], zorder=6))


def _add_basemap(ax: Any, basemap: str, crs: str, *,
                 cache_dir: str | Path | None = None) -> str:
    """Draw a basemap under the main frame; return its credit for the source line.

    Plan IGN tiles are cached in ``tiles/`` of the cache folder (``cache_dir``, else
    ``$ECOLES_MAP_CACHE``, else the user cache), and fetched from ``$ECOLES_MAP_PLAN_IGN_URL``
    instead of the Géoplateforme when it is set (a mirror).
    """
    import contextily  # slow to import: only when a basemap is asked

    if basemap == "plan-ign":
        import requests
        import xyzservices.providers as xyz

        from pipeline.sources.http import (
            PLAN_IGN_URL_ENV,
            base_url_from_env,
            rebase,
            resolve_cache_dir,
        )

        cache = resolve_cache_dir(cache_dir) / "tiles"
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RenderError(
                f"le dossier de cache des tuiles {cache} est inutilisable ({exc.strerror}) ; "
                "choisissez un autre dossier de cache avec --cache-dir ou la variable "
                "ECOLES_MAP_CACHE. Aucune carte n'a été écrite."
            ) from exc
        contextily.set_cache_dir(str(cache))
        provider = xyz.GeoportailFrance.plan
        mirror = base_url_from_env(PLAN_IGN_URL_ENV)
        if mirror is not None:
            provider = provider.copy()
            provider["url"] = rebase(provider["url"], mirror)
        try:
            contextily.add_basemap(ax, source=provider, crs=crs,
                                   attribution=False, timeout=20, zorder=0)
        except (requests.RequestException, OSError) as exc:
            raise RenderError(
                f"cannot download the Plan IGN basemap tiles ({exc.__class__.__name__}: "
                f"{exc}). Check the network connection, render without --basemap, or pass "
                "a local GeoTIFF with --basemap FILE.tif. No map was written."
            ) from exc
        return BASEMAP_CREDIT
    path = Path(basemap)
    if not path.is_file():
        raise RenderError(
            f"basemap {basemap!r} is neither 'plan-ign' nor an existing GeoTIFF file; "
            "give the path of a .tif or use --basemap plan-ign. No map was written."
        )
    try:
        with warnings.catch_warnings():
            # rasterio's warping multiplies affine matrices with the deprecated `*`.
            warnings.filterwarnings("ignore", message="Use `@` matmul",
                                    category=PendingDeprecationWarning)
            contextily.add_basemap(ax, source=str(path), crs=crs, attribution=False,
                                   zorder=0)
    except Exception as exc:  # rasterio raises many types for unreadable rasters
        raise RenderError(
            f"{path}: cannot read this basemap raster ({exc}); give a GeoTIFF with a CRS "
            "covering metropolitan France. No map was written."
        ) from exc
    return f"Fond de carte : {path.name}"


def _check_font(font: str) -> None:
    try:
        findfont(FontProperties(family=font), fallback_to_default=False)
    except ValueError as exc:
        raise RenderError(
            f"font {font!r} is not installed or not known to matplotlib; install it or "
            f"choose another (default {DEFAULT_FONT!r}). Matplotlib lists the fonts it knows "
            "with: python -c \"import matplotlib.font_manager as f; "
            "print(sorted({x.name for x in f.fontManager.ttflist}))\""
        ) from exc


def plot_coverage(
    sites: gpd.GeoDataFrame,
    departements: gpd.GeoDataFrame,
    *,
    preset: str = "a4",
    provenance: Provenance | None = None,
    title: str | None = None,
    source_line: str | None = None,
    legend: Sequence[tuple[str, str]] | None = None,
    basemap: str | None = None,
    label_overrides: Mapping[str, tuple[float, float]] | None = None,
    font: str | None = None,
    labels: bool | Literal["auto"] = "auto",
) -> Figure:
    """Draw the coverage map of the 2021 annex: :func:`draw_map` of :func:`map_data`.

    Parameters
    ----------
    sites
        Point GeoDataFrame in EPSG:4326 with ``id``, ``categorie``, ``etiquette``,
        ``departement`` (and ``departement_spatial``, ``existante_2021`` when known). Every
        ``categorie`` with an entry in :data:`pipeline.config.CATEGORY_STYLE` is drawn, in
        that mapping's order; other sites (``autre``) are not.
    departements
        GeoDataFrame in EPSG:4326 with ``code``, ``nom`` and ``statut``; every ``statut``
        needs an entry in :data:`pipeline.config.STATUS_STYLE` (its fill).
    preset
        Frame: ``a4`` (2481 × 3508 px), ``slide`` (1920 × 1080), ``social`` (1200 × 630)
        or ``square`` (1080 × 1080).
    provenance
        Where the départements came from, credited on the source line.
    title
        Title; default :func:`default_title`.
    source_line
        Source line; default :func:`default_source_line`. A basemap credit is appended.
    legend
        None (the annex legend, :func:`legend_entries`) or ``(key, text)`` pairs, where
        ``key`` is a key of :data:`pipeline.config.CATEGORY_STYLE` (drawn as that marker)
        or of :data:`pipeline.config.STATUS_STYLE` (drawn as that fill).
    basemap
        None (default, no basemap), ``"plan-ign"`` (IGN tiles, cached, needs the network)
        or the path of a local GeoTIFF.
    label_overrides
        Manual label offsets, site id → (dx, dy) in points (see
        :mod:`pipeline.outputs.maps.labels`).
    font
        Font family name; default DejaVu Sans (ships with matplotlib).
    labels
        ``"auto"`` (labels when the preset has room and there are at most
        :data:`MAX_AUTO_LABELS` sites), True or False.

    Returns
    -------
    matplotlib.figure.Figure
        The map, on an Agg canvas, ready for :func:`save_map`.

    Raises
    ------
    RenderError
        If the preset, font or basemap is unknown or unavailable, a column is missing, a
        ``statut`` has no style or a legend key is unknown.
    """
    _layout(preset)  # an unknown preset is refused before the data is checked
    data = map_data(sites, departements, provenance=provenance, title=title, legend=legend,
                    source_line=source_line)
    return draw_map(data, preset=preset, basemap=basemap, label_overrides=label_overrides,
                    font=font, labels=labels)


def _layout(preset: str) -> Preset:
    try:
        return get_preset(preset)
    except KeyError as exc:
        raise RenderError(str(exc.args[0])) from None


def draw_map(data: MapData, *, preset: str = "a4", basemap: str | None = None,
             label_overrides: Mapping[str, tuple[float, float]] | None = None,
             font: str | None = None, labels: bool | Literal["auto"] = "auto") -> Figure:
    """Draw the coverage map of a :class:`MapData` (no pandas needed).

    Parameters
    ----------
    data
        From :func:`map_data`, possibly unpickled in another process.
    preset, basemap, label_overrides, font, labels
        As for :func:`plot_coverage`.

    Returns
    -------
    matplotlib.figure.Figure
        The map, on an Agg canvas, ready for :func:`save_map`.

    Raises
    ------
    RenderError
        If the preset, font or basemap is unknown or unavailable.
    """
    layout = _layout(preset)
    family = font or DEFAULT_FONT
    if font:
        _check_font(font)
    with mpl.rc_context({"font.family": [family, DEFAULT_FONT], "text.color": TEXT_COLOUR,
                         "path.simplify": True}):
        return _plot(data, layout, basemap=basemap, label_overrides=label_overrides or {},
                     labels=labels)


def _plot(data: MapData, layout: Preset, *, basemap: str | None,
          label_overrides: Mapping[str, tuple[float, float]],
          labels: bool | Literal["auto"]) -> Figure:
    fig = Figure(figsize=layout.figsize, dpi=layout.dpi, facecolor="white")
    FigureCanvasAgg(fig)
    statut = np.array(data.departement_statuts, dtype=object)
    site_cat = np.array(data.site_categories, dtype=object)
    geometry = map_frames(data, layout)
    frames: list[_Frame] = []
    lw = 0.3
    alpha = 0.75 if basemap else 1.0
    credit = None

    # Main frame: metropolitan France and Corsica in Lambert-93.
    spec = geometry.main
    main = fig.add_axes(spec.box)
    main.set_axis_off()
    main.set_gid(spec.name)
    main.set_xlim(*spec.xlim)
    main.set_ylim(*spec.ylim)
    _draw_departements(main, spec.departement_geometries, statut[spec.departement_index],
                       gid_suffix="", alpha=alpha, linewidth=lw)
    credit = _add_basemap(main, basemap, spec.crs) if basemap else None
    frame = _Frame(main, spec)
    _draw_sites(main, spec.site_xy, site_cat[spec.site_index], marker=layout.marker,
                gid_suffix="")
    _scale_bar(main, layout.source)
    frames.append(frame)

    # Zooms, each at its own scale (the main frame shows where it is).
    for spec in geometry.of_kind("zoom"):
        ax = fig.add_axes(spec.box)
        ax.set_axis_off()
        ax.set_gid(spec.name)
        ax.set_xlim(*spec.xlim)
        ax.set_ylim(*spec.ylim)
        suffix = "-" + spec.name
        _draw_departements(ax, spec.departement_geometries, statut[spec.departement_index],
                           gid_suffix=suffix, alpha=alpha, linewidth=lw * 1.5)
        _draw_sites(ax, spec.site_xy, site_cat[spec.site_index], marker=layout.marker,
                    gid_suffix=suffix)
        _frame_box(ax, spec.title, layout.inset, "cadre-" + spec.name)
        assert spec.extent_on_main is not None
        x0, y0, x1, y1 = spec.extent_on_main
        main.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False,
                                 edgecolor=TEXT_COLOUR, linewidth=0.5, linestyle=(0, (2, 1.5)),
                                 zorder=2, gid="emprise-" + spec.name))
        frames.append(_Frame(ax, spec))

    # Overseas insets, one projection each, grouped in one subfigure.
    insets = geometry.of_kind("inset", "strip")
    union = _union([spec.box for spec in insets])
    # Subfigures fill their grid cell and ignore the grid's margins: carve the cell with
    # width and height ratios instead.
    right, top = 1 - union[0] - union[2], 1 - union[1] - union[3]
    grid = fig.add_gridspec(3, 3, width_ratios=[union[0] or 1e-9, union[2], right or 1e-9],
                            height_ratios=[top or 1e-9, union[3], union[1] or 1e-9],
                            wspace=0, hspace=0, left=0, right=1, bottom=0, top=1)
    sub: SubFigure = fig.add_subfigure(grid[1, 1], facecolor="none")
    sub.set_gid("encarts-outre-mer")
    for spec in insets:
        box = spec.box
        rel = ((box[0] - union[0]) / union[2], (box[1] - union[1]) / union[3],
               box[2] / union[2], box[3] / union[3])
        ax = sub.add_axes(rel)
        ax.set_axis_off()
        ax.set_gid(spec.name)
        code = spec.name.removeprefix("encart-")
        if spec.content is not None:
            ax.set_xlim(*spec.xlim)
            ax.set_ylim(*spec.ylim)
            _draw_departements(ax, spec.departement_geometries,
                               statut[spec.departement_index], gid_suffix=f"-{code}",
                               alpha=1.0, linewidth=lw)
        _draw_sites(ax, spec.site_xy, site_cat[spec.site_index], marker=layout.marker,
                    gid_suffix=f"-{code}")
        _frame_box(ax, spec.title, layout.inset, f"cadre-{spec.name}")
        frames.append(_Frame(ax, spec))

    # Title, legend, source line.
    wrap = textwrap.fill
    title_text = fig.text(*layout.title_anchor, wrap(data.title, layout.title_wrap),
                          ha="left", va="top", fontsize=layout.title, fontweight="bold",
                          linespacing=1.25, parse_math=False)
    title_text.set_gid("titre")
    _legend(fig, data.legend, layout)
    source = data.source_line
    if credit:
        source = f"{source} {credit}."
    source_text = fig.text(*layout.source_anchor, wrap(source, layout.source_wrap), ha="left",
                           va="bottom", fontsize=layout.source, color="#444444",
                           parse_math=False)
    source_text.set_gid("sources")

    show_labels = (layout.labels and len(data.site_ids) <= MAX_AUTO_LABELS) \
        if labels == "auto" else bool(labels)
    if show_labels:
        _labels(fig, frames, data, layout, label_overrides)
    return fig


def _union(boxes: Sequence[Box]) -> Box:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


def _legend(fig: Figure, entries: Sequence[tuple[str, str]], layout: Preset) -> None:
    """Draw the legend entries as a matplotlib Legend (text stays text).

    A category key is drawn as its marker, a status key as a patch of its fill.
    """
    handles: list[Artist] = []
    for key, _ in entries:
        if key in config.CATEGORY_STYLE:
            style = config.CATEGORY_STYLE[key]
            size = layout.marker * 1.3 * math.sqrt(_MARKER_AREA.get(style["marker"], 1.0))
            handles.append(Line2D([], [], linestyle="none", marker=style["marker"],
                                  markersize=size, markerfacecolor=style["colour"],
                                  markeredgecolor="white", markeredgewidth=0.5))
        else:
            handles.append(Patch(facecolor=config.STATUS_STYLE[key]["colour"],
                                 edgecolor=EDGE_COLOUR, linewidth=0.4))
    wrapped = [textwrap.fill(text, layout.legend_wrap) for _, text in entries]
    legend = fig.legend(handles, wrapped, loc="upper left", bbox_to_anchor=layout.legend_anchor,
                        frameon=False, fontsize=layout.legend, handlelength=1.4,
                        handleheight=1.2, handletextpad=0.7, labelspacing=0.8,
                        borderaxespad=0.0, borderpad=0.0, alignment="left")
    legend.set_gid("legende")
    for text in legend.get_texts():
        text.set_parse_math(False)


def _labels(fig: Figure, frames: list[_Frame], data: MapData, layout: Preset,
            overrides: Mapping[str, tuple[float, float]]) -> None:
    """Place the point labels of every frame at once, in display space, and draw them."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    etiquettes = data.site_etiquettes
    ids = data.site_ids
    pts_per_px = 72.0 / layout.dpi
    px_per_pt = layout.dpi / 72.0
    points: list[np.ndarray] = []
    frames_px: list[tuple[float, float, float, float]] = []
    owners: list[tuple[_Frame, int]] = []
    obstacles: list[tuple[float, float, float, float]] = []
    insets = [f for f in frames if f.ax.get_gid().startswith("encart-")]
    # Labels of an overseas site may spill over the row of insets (they are narrow), but
    # must avoid the other territories and the names of the insets.
    row = [f.ax.get_window_extent(renderer) for f in insets]
    row_box = (min(b.x0 for b in row) + 2, min(b.y0 for b in row) + 2,
               max(b.x1 for b in row) - 2, max(b.y1 for b in row) - 2) if row else None
    for inset in insets:
        if inset.content is not None:
            x0, y0, x1, y1 = inset.content
            (a, b), (c, d) = inset.ax.transData.transform([(x0, y0), (x1, y1)])
            obstacles.append((a, b, c, d))
    for frame in frames:
        if not len(frame.xy):
            continue
        display = frame.ax.transData.transform(frame.xy)
        bbox = frame.ax.get_window_extent(renderer)
        inner = (bbox.x0 + 2, bbox.y0 + 2, bbox.x1 - 2, bbox.y1 - 2)
        if frame in insets and row_box is not None:
            inner = row_box
        for k in range(len(frame.xy)):
            if frame.labelled[k] and etiquettes[frame.site_index[k]]:
                points.append(display[k])
                frames_px.append(inner)
                owners.append((frame, k))
        # Unlabelled markers (IDF sites on the main frame) still repel labels.
        r = layout.marker * px_per_pt / 2
        for x, y in display[~frame.labelled]:
            obstacles.append((x - r, y - r, x + r, y + r))
    if not points:
        return
    # Keep labels off the titles of the insets and the scale bar.
    names = ["cadre-zoom-ile-de-france", "echelle", *(f"cadre-{f.ax.get_gid()}" for f in insets)]
    for artist in _named_artists(fig, names):
        for child in artist.get_children():
            if isinstance(child, Text):
                e = child.get_window_extent(renderer)
                obstacles.append((e.x0, e.y0, e.x1, e.y1))
    prop = FontProperties(size=layout.label)
    sizes = np.zeros((len(points), 2))
    for i, (frame, k) in enumerate(owners):
        w, h, _ = renderer.get_text_width_height_descent(
            etiquettes[frame.site_index[k]], prop, ismath=False)
        sizes[i] = (w, h)
    # Text boxes drawn with va="baseline" sit on the baseline: use the full line height.
    _, line_h, line_d = renderer.get_text_width_height_descent("lpÉ", prop, ismath=False)
    sizes[:, 1] = np.maximum(sizes[:, 1], line_h)
    pts = np.asarray(points)
    fixed = {}
    for i, (frame, k) in enumerate(owners):
        site = ids[frame.site_index[k]]
        if site in overrides:
            dx, dy = overrides[site]
            x0, y0 = pts[i, 0] + dx * px_per_pt, pts[i, 1] + dy * px_per_pt
            fixed[i] = (x0, y0, x0 + sizes[i, 0], y0 + sizes[i, 1])
    radius = layout.marker * px_per_pt * 0.6
    placements = place_labels(pts, sizes, frames_px, marker_radius=radius,
                              gap=radius + 1.5 * px_per_pt, obstacles=obstacles, fixed=fixed)
    artists: list[Artist] = []
    for i, placement in enumerate(placements):
        frame, k = owners[i]
        site_i = frame.site_index[k]
        if placement is None:
            log.warning("no free place for the label of site %r (%s); add an offset for it "
                        "in %s", ids[site_i], etiquettes[site_i], config.DEFAULT_LABEL_OVERRIDES)
            continue
        artists.append(_label_artist(fig, frame.ax.transData, frame.xy[k], pts[i], placement,
                                     etiquettes[site_i], layout, pts_per_px, line_d))
    fig.add_artist(_Group("etiquettes", artists, zorder=5))


def _named_artists(fig: Figure, gids: Sequence[str]) -> list[Artist]:
    found: list[Artist] = []
    for ax in fig.get_axes():
        found.extend(a for a in ax.get_children() if a.get_gid() in gids)
    return found


def _label_artist(fig: Figure, transform: Transform, xy: np.ndarray, point_px: np.ndarray,
                  placement: Placement, text: str, layout: Preset, pts_per_px: float,
                  descent: float) -> Annotation:
    """Build a label at its placed box, offset in points from its site, leader if moved."""
    x0, y0 = placement.box[0], placement.box[1]
    offset = ((x0 - point_px[0]) * pts_per_px, (y0 + descent - point_px[1]) * pts_per_px)
    arrowprops = None
    if placement.leader:
        relpos = leader_anchor(placement.box, float(point_px[0]), float(point_px[1]))
        arrowprops = {"arrowstyle": "-", "color": "#555555", "linewidth": 0.4,
                      "shrinkA": 0.5, "shrinkB": layout.marker * 0.45, "relpos": relpos}
    label = Annotation(text, xy=(float(xy[0]), float(xy[1])), xycoords=transform,
                       xytext=offset, textcoords="offset points", ha="left", va="baseline",
                       fontsize=layout.label, color=TEXT_COLOUR, arrowprops=arrowprops,
                       annotation_clip=False, parse_math=False)
    label.set_figure(fig)
    return label
