"""The annex map as a matplotlib ``Figure`` (print, slides, social cards); saving is separate.

:func:`draw_map` draws the frames of :func:`pipeline.outputs.maps.frames.map_frames`:
metropolitan France and Corsica in Lambert-93, zooms where sites crowd, the overseas
départements (boxed, named insets where there is a site, a compact strip where there is
none); the sites (colour and shape by category), their labels (placed by
:mod:`pipeline.outputs.maps.labels`, with a halo, joined to their site by a leader line where
moved), the legend with counts computed from the data, the title and subtitle, the scale bar,
the notes and the source line. Saving is :mod:`pipeline.outputs.maps.save`.

Preparing and drawing are two steps, so that the map can be drawn in a process that never
imports pandas or geopandas: :func:`pipeline.outputs.maps.mapdata.map_data` turns the
GeoDataFrames into a :class:`MapData` of plain Python, numpy and shapely objects (cheap to
pickle), and :func:`draw_map` draws a :class:`MapData`; :func:`plot_coverage` is the two in
one. This module imports neither pandas nor geopandas.

The figure is built without pyplot (no global state) on an Agg canvas, laid out by hand
(:mod:`pipeline.outputs.maps.layout`). Everything is drawn by a few figure-level groups, the
layers of :data:`LAYERS` (``<g id="...">`` in the SVG, which
:func:`pipeline.outputs.maps.save.save_map` turns into Inkscape layers): each département is
one path (``departement-<code>``), each site one marker (``site-<id>``), each label one text
(``etiquette-<id>``) and each leader line one line (``renvoi-<id>``). Texts are drawn
literally (a ``$`` is a dollar, never mathtext).

Labels: ``labels="auto"`` draws them when the preset has room for them (A4) and there are at
most :data:`MAX_AUTO_LABELS` sites; ``True`` forces them, ``False`` removes them. Sites of the
category ``autre`` (neither existing in 2021 nor laureate) are not on the 2021 annex and are
not drawn.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import matplotlib as mpl
import numpy as np
import shapely
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.backends.backend_svg import RendererSVG
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.patheffects import AbstractPathEffect, Normal
from matplotlib.text import Text
from matplotlib.transforms import (
    Bbox,
    BboxTransform,
    IdentityTransform,
    Transform,
    TransformedBbox,
)

from pipeline import config
from pipeline.basemap import Basemap
from pipeline.errors import RenderError
from pipeline.outputs.maps.frames import (
    LABEL_WRAP_CHARS,
    MAX_DECLUTTER_SITES,
    Frame,
    MapFrames,
    map_frames,
    marker_radius,
    marker_width,
)
from pipeline.outputs.maps.labels import Placement, place_labels
from pipeline.outputs.maps.layout import Preset, get_preset
from pipeline.outputs.maps.mapdata import MapData, map_data
from pipeline.outputs.maps.typeset import text_width, wrap_text
from pipeline.provenance import Provenance

if TYPE_CHECKING:  # pandas and geopandas are not imported to draw (see the module docstring)
    import geopandas as gpd

log = logging.getLogger(__name__)

#: Above this many sites, ``labels="auto"`` leaves the labels out (they could not all fit).
MAX_AUTO_LABELS: Final = 300
DEFAULT_FONT: Final = "DejaVu Sans"
EDGE_COLOUR: Final = "#7F8790"
TEXT_COLOUR: Final = "#1E1E1E"
SOURCE_COLOUR: Final = "#444444"
LEADER_COLOUR: Final = "#555555"
HALO_COLOUR: Final = "#FFFFFF"
#: Width of the white halo around labels and frame names, in points (half of it outside the
#: glyphs): borders and fills no longer cut through the letters.
HALO_PT: Final = 1.6
#: Département borders: 0.3 pt on the main frame (thinner may vanish in print), thicker in
#: the zooms.
BORDER_PT: Final = 0.3

#: The map's layers, in drawing order: id of the top-level group (the SVG's Inkscape layer)
#: and its French name in Inkscape's Layers panel.
LAYERS: Final[dict[str, str]] = {
    "fond-de-carte": "Fond de carte",
    "departements": "Départements",
    "cadres": "Cadres, zooms et encarts",
    "renvois": "Renvois des étiquettes",
    "ecoles": "Écoles",
    "etiquettes": "Étiquettes",
    "echelle": "Échelle",
    "notes": "Notes",
    "legende": "Légende",
    "titre": "Titre",
    "sources": "Sources",
}


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


class _Halo(AbstractPathEffect):
    """Path effect drawing the glyphs' outline wide and white, under the text."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width = width

    def draw_path(self, renderer: Any, gc: Any, tpath: Any, affine: Any,
                  rgbFace: Any = None) -> None:  # noqa: N803 (matplotlib's name)
        halo = renderer.new_gc()
        halo.copy_properties(gc)
        halo.set_linewidth(self.width)
        halo.set_foreground(HALO_COLOUR)
        halo.set_joinstyle("round")
        halo.set_capstyle("round")
        renderer.draw_path(halo, tpath, affine, mpl.colors.to_rgb(HALO_COLOUR))
        halo.restore()


class HaloText(Text):
    """A text with a white halo, that stays text in every format.

    On raster and PDF outputs the halo is the glyphs' outline drawn white under the text
    (the text itself stays text: selectable in the PDF). On SVG the text is written once and
    :func:`pipeline.outputs.maps.save.save_map` gives it a white stroke painted under its fill
    (``paint-order: stroke``), which designers can edit with it.
    """

    def __init__(self, *args: Any, halo: float = HALO_PT, **kwargs: Any) -> None:
        kwargs.setdefault("parse_math", False)
        super().__init__(*args, **kwargs)
        self.halo = halo

    def draw(self, renderer: Any) -> None:
        """Draw the halo (except on SVG), then the text."""
        if not self.get_visible():
            return
        base = getattr(renderer, "_renderer", renderer)
        if self.halo <= 0:
            super().draw(renderer)
        elif isinstance(base, RendererSVG):
            # Marked for pipeline.outputs.maps.save.svg_for_designers, which gives the text
            # its halo as a stroke painted under the fill.
            renderer.open_group("g", gid=f"halo--{self.get_gid()}")
            super().draw(renderer)
            renderer.close_group("g")
        elif isinstance(base, RendererAgg):
            # Raster: halo and letters from one outline of the text (laid out once).
            self.set_path_effects([_Halo(self.halo), Normal()])
            super().draw(renderer)
            self.set_path_effects([])
        else:  # PDF: the halo as an outline, the letters as text (selectable)
            self.set_path_effects([_Halo(self.halo)])
            super().draw(renderer)
            self.set_path_effects([])
            super().draw(renderer)


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


def _gid(key: str, style: Mapping[str, str]) -> str:
    """SVG id of a category or status: its style's ``gid``, else the key itself."""
    return style.get("gid", key)


def _suffix(spec: Frame) -> str:
    """Id suffix of what a frame draws: none on the main frame and the overseas frames."""
    return f"-{spec.name}" if spec.kind == "zoom" else ""


class _Canvas:
    """The figure being drawn: its layers, each frame's data transform, and the preset.

    Frames are not matplotlib axes (an Axes costs more to build than the whole map's
    drawing): each is a transform from its data limits to its box on the page, which stays
    right at any resolution. Only a basemap gets a real Axes, for the tiles.
    """

    def __init__(self, data: MapData, layout: Preset, frames: MapFrames) -> None:
        self.data = data
        self.layout = layout
        self.frames = frames
        self.fig = Figure(figsize=layout.figsize, dpi=layout.dpi, facecolor="white")
        FigureCanvasAgg(self.fig)
        self.layers: dict[str, list[Artist]] = {name: [] for name in LAYERS}
        self.trans: dict[str, Transform] = {}
        self.clip: dict[str, TransformedBbox] = {}
        self.avoid: list[Artist] = []  # what labels keep off (scale bar)
        for spec in frames.frames:
            page = TransformedBbox(Bbox.from_bounds(*spec.box), self.fig.transFigure)
            data_box = Bbox.from_extents(spec.xlim[0], spec.ylim[0], spec.xlim[1],
                                         spec.ylim[1])
            self.trans[spec.name] = BboxTransform(data_box, page)
            self.clip[spec.name] = page

    def axes_for(self, spec: Frame) -> Any:
        """Return a real Axes over a frame (for basemap tiles), drawn under everything."""
        ax = self.fig.add_axes(spec.box)
        ax.set_axis_off()
        ax.set_gid("fond-de-carte")
        ax.set_xlim(*spec.xlim)
        ax.set_ylim(*spec.ylim)
        ax.set_zorder(0)
        return ax

    def add(self, layer: str, artist: Artist, *, frame: str | None = None) -> Artist:
        """Add ``artist`` to ``layer``, in the data coordinates of ``frame`` if given."""
        artist.set_figure(self.fig)
        if frame is not None:
            artist.set_transform(self.trans[frame])
        self.layers[layer].append(artist)
        return artist

    def group(self, layer: str, gid: str, children: Sequence[Artist]) -> None:
        """Add a named group of ``children`` to ``layer``."""
        group = _Group(gid, children)
        group.set_figure(self.fig)
        self.layers[layer].append(group)

    def finish(self) -> Figure:
        """Attach the layers to the figure, in the order of :data:`LAYERS`."""
        for rank, (name, children) in enumerate(self.layers.items()):
            if name == "fond-de-carte" or not children:
                continue
            group = _Group(name, children, zorder=10 + rank)
            self.fig.add_artist(group)
        return self.fig

    def px(self, points: float) -> float:
        return self.layout.px(points)


# --- Drawing ----------------------------------------------------------------------------------
def _draw_departements(canvas: _Canvas, spec: Frame, *, alpha: float) -> None:
    """One path per département, grouped by status, in the layer ``departements``.

    Statuses are drawn in the reverse order of :data:`pipeline.config.STATUS_STYLE`, so the
    first one (the key message) is drawn last, its outlines on top; each group is named by
    its style's ``gid`` (e.g. ``departements-nouvellement-couverts``), and zooms add their
    name (``departements-nouvellement-couverts-zoom-lyon``).
    """
    trans = canvas.trans[spec.name]
    statut = np.array(canvas.data.departement_statuts, dtype=object)[spec.departement_index]
    suffix = _suffix(spec)
    width = BORDER_PT * (1.5 if spec.kind == "zoom" else 1.0)
    for status, style in reversed(config.STATUS_STYLE.items()):
        here = np.flatnonzero(statut == status)
        if not len(here):
            continue
        children: list[Artist] = []
        for k in here:
            patch = PathPatch(_compound_path(spec.departement_geometries[k:k + 1]),
                              facecolor=style["colour"], edgecolor=EDGE_COLOUR,
                              linewidth=width, alpha=alpha,
                              gid=f"departement-{spec.departement_codes[k]}{suffix}")
            patch.set_figure(canvas.fig)
            patch.set_transform(trans)
            if spec.kind == "zoom":
                patch.set_clip_box(canvas.clip[spec.name])
            children.append(patch)
        canvas.group("departements", _gid(status, style) + suffix
                     + (f"-{spec.name.removeprefix('encart-')}"
                        if spec.kind in ("inset", "strip") else ""), children)


def _draw_sites(canvas: _Canvas, spec: Frame) -> None:
    """Draw a frame's sites in the layer ``ecoles``: a marker per site, grouped by category.

    Above :data:`~pipeline.outputs.maps.frames.MAX_DECLUTTER_SITES` sites, one scatter per
    category instead (thousands of named markers would only weigh on the SVG).
    """
    trans = canvas.trans[spec.name]
    layout = canvas.layout
    categories = np.array(canvas.data.site_categories, dtype=object)[spec.site_index]
    suffix = _suffix(spec) + (f"-{spec.name.removeprefix('encart-')}"
                              if spec.kind in ("inset", "strip") else "")
    many = len(canvas.data.site_ids) > MAX_DECLUTTER_SITES
    for cat, style in config.CATEGORY_STYLE.items():
        here = np.flatnonzero(categories == cat)
        if not len(here):
            continue
        width = marker_width(layout, cat)
        gid = _gid(cat, style) + suffix
        if many:
            shape = MarkerStyle(style["marker"])
            collection = PathCollection(
                [shape.get_path().transformed(shape.get_transform())], sizes=[width * width],
                offsets=spec.site_xy[here], offset_transform=trans,
                facecolors=style["colour"], edgecolors="white", linewidths=0.5, gid=gid)
            collection.set_figure(canvas.fig)
            collection.set_transform(IdentityTransform())
            canvas.layers["ecoles"].append(collection)
            continue
        markers: list[Artist] = []
        for k in here:
            site = canvas.data.site_ids[spec.site_index[k]]
            line = Line2D([spec.site_xy[k, 0]], [spec.site_xy[k, 1]], linestyle="none",
                          marker=style["marker"], markersize=width,
                          markerfacecolor=style["colour"], markeredgecolor="white",
                          markeredgewidth=0.5, gid=f"site-{site}")
            line.set_figure(canvas.fig)
            line.set_transform(trans)
            markers.append(line)
        canvas.group("ecoles", gid, markers)


def _frame_name(canvas: _Canvas, spec: Frame, *, inside: bool) -> Text:
    """Draw the name of a zoom or inset in its upper-left corner (above the strip's shapes)."""
    left, bottom, _, height = spec.box
    pad_x = canvas.px(3) / canvas.fig.bbox.width
    pad_y = canvas.px(2.5) / canvas.fig.bbox.height
    x = left + (pad_x if inside else 0.0)
    y = bottom + height - (pad_y if inside else 0.0)
    text = HaloText(x, y, spec.title or "", ha="left", va="top", fontsize=canvas.layout.inset,
                    fontweight="bold" if inside else "normal", color=TEXT_COLOUR,
                    transform=canvas.fig.transFigure,
                    gid=f"nom-{spec.name}", halo=HALO_PT if inside else 0.0)
    canvas.add("cadres", text)
    return text


def _draw_frame_furniture(canvas: _Canvas) -> list[Text]:
    """Boxes and names of the zooms and insets; the zooms' windows and connectors.

    Returns the names drawn (labels avoid them).
    """
    fig = canvas.fig
    main = canvas.frames.main.name
    names = []
    for spec in canvas.frames.frames:
        if spec.kind in ("zoom", "inset"):
            box = Rectangle(spec.box[:2], spec.box[2], spec.box[3], fill=False,
                            edgecolor=TEXT_COLOUR, linewidth=0.6,
                            transform=fig.transFigure, gid=f"cadre-{spec.name}")
            canvas.add("cadres", box)
            names.append(_frame_name(canvas, spec, inside=True))
        elif spec.kind == "strip":
            names.append(_frame_name(canvas, spec, inside=False))
        if spec.kind == "zoom" and spec.extent_on_main is not None:
            x0, y0, x1, y1 = spec.extent_on_main
            canvas.add("cadres", Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False,
                                           edgecolor=TEXT_COLOUR, linewidth=0.6,
                                           gid=f"emprise-{spec.name}"), frame=main)
            if spec.connector is not None:
                (ax0, ay0), (bx0, by0) = spec.connector
                canvas.add("cadres", Line2D([ax0, bx0], [ay0, by0], color=TEXT_COLOUR,
                                            linewidth=0.5, transform=fig.transFigure,
                                            gid=f"lien-{spec.name}"))
    return names


def _scale_bar(canvas: _Canvas) -> None:
    """Draw a 100 km bar in the lower-left corner of the main frame (Lambert-93 metres)."""
    spec = canvas.frames.main
    (x0, x1), (y0, y1) = spec.xlim, spec.ylim
    length = 100_000.0
    left, bottom = x0 + 0.04 * (x1 - x0), y0 + 0.05 * (y1 - y0)
    height = canvas.px(2.2) / canvas.fig.bbox.height / spec.box[3] * (y1 - y0)
    bar = Rectangle((left, bottom), length, height, facecolor=TEXT_COLOUR, edgecolor="none")
    label = Text(left + length / 2, bottom + height * 2.0, "100 km", ha="center",
                 va="bottom", fontsize=canvas.layout.source, color=TEXT_COLOUR,
                 parse_math=False)
    for artist in (bar, label):
        artist.set_figure(canvas.fig)
        artist.set_transform(canvas.trans[spec.name])
    canvas.group("echelle", "echelle-barre", [bar, label])
    canvas.avoid += [bar, label]


def _extent(artist: Artist, renderer: Any) -> Bbox:
    """Window extent of an artist, in figure fractions."""
    return artist.get_window_extent(renderer).transformed(
        artist.get_figure(root=True).transFigure.inverted())  # type: ignore[union-attr]


def _texts(canvas: _Canvas, credit: str | None) -> list[Bbox]:
    """Title, subtitle, legend, notes and source line; return the extents of the notes."""
    fig = canvas.fig
    layout = canvas.layout
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    texts = canvas.data.texts(short=layout.texts == "short")
    width = fig.bbox.width

    # Title, and the subtitle right under it.
    x, y = layout.title_anchor
    prop = FontProperties(size=layout.title, weight="bold")
    title = Text(x, y, wrap_text(texts.title, prop, layout.title_width * width, fig.dpi),
                 ha="left", va="top", fontsize=layout.title, fontweight="bold",
                 linespacing=1.2, color=TEXT_COLOUR, parse_math=False, gid="titre-texte",
                 transform=fig.transFigure)
    title.set_figure(fig)
    blocks: list[Artist] = [title]
    if texts.subtitle:
        below = _extent(title, renderer).y0 - canvas.px(layout.subtitle * 0.45) / fig.bbox.height
        prop = FontProperties(size=layout.subtitle)
        subtitle = Text(x, below, wrap_text(texts.subtitle, prop, layout.title_width * width,
                                        fig.dpi),
                        ha="left", va="top", fontsize=layout.subtitle, color=TEXT_COLOUR,
                        linespacing=1.2, parse_math=False, gid="sous-titre",
                        transform=fig.transFigure)
        subtitle.set_figure(fig)
        blocks.append(subtitle)
    canvas.layers["titre"] += blocks

    # Notes of the map area.
    notes = []
    for note in canvas.frames.notes:
        wrapped = wrap_text(note.text, FontProperties(size=note.size), note.width * width, fig.dpi)
        text = Text(note.x, note.y, wrapped, ha="left", va="top", fontsize=note.size,
                    color=SOURCE_COLOUR, parse_math=False, gid=note.name,
                    transform=fig.transFigure)
        canvas.add("notes", text)
        notes.append(_extent(text, renderer))

    _legend(canvas, texts.legend, renderer, notes)

    source = texts.source_line + (f" {credit}." if credit else "")
    prop = FontProperties(size=layout.source)
    x, y = layout.source_anchor
    source_text = Text(x, y, wrap_text(source, prop, layout.source_width * width, fig.dpi),
                       ha="left", va="bottom", fontsize=layout.source, color=SOURCE_COLOUR,
                       linespacing=1.2, parse_math=False, gid="sources-texte",
                       transform=fig.transFigure)
    source_text.set_figure(fig)
    canvas.layers["sources"].append(source_text)
    return notes


#: The lowest the legend may reach, as a fraction of the figure's height.
_LEGEND_FLOOR: Final = 0.01


def _legend_box(canvas: _Canvas, handles: Sequence[Artist], texts: Sequence[str],
                renderer: Any, *, ncol: int) -> tuple[Any, float]:
    """Make the legend in ``ncol`` columns, texts wrapped to fit; return it and its height."""
    fig = canvas.fig
    layout = canvas.layout
    prop = FontProperties(size=layout.legend)
    # Room taken by the keys: handle, padding.
    keys_px = canvas.px(layout.legend * (1.4 + 0.7))
    column_gap_px = canvas.px(layout.legend * 1.0) if ncol > 1 else 0.0
    text_px = (layout.legend_width * fig.bbox.width - column_gap_px * (ncol - 1)) / ncol \
        - keys_px
    wrapped = [wrap_text(text, prop, text_px, fig.dpi) for text in texts]
    legend = fig.legend(handles, wrapped, loc="upper left",
                        bbox_to_anchor=layout.legend_anchor, ncol=ncol,
                        frameon=False, fontsize=layout.legend, handlelength=1.4,
                        handleheight=1.2, handletextpad=0.7, labelspacing=0.55,
                        columnspacing=1.0, borderaxespad=0.0, borderpad=0.0,
                        alignment="left")
    legend.remove()  # drawn by its layer
    legend.set_figure(fig)
    for text in legend.get_texts():
        text.set_parse_math(False)
    return legend, _extent(legend, renderer).height


def _legend_top(canvas: _Canvas, x: float, top: float, height: float,
                notes: Sequence[Bbox]) -> float:
    """Return the legend's upper edge: ``top``, or under the insets and notes in its way."""
    fig = canvas.fig
    layout = canvas.layout
    gap = canvas.px(layout.legend * 0.6) / fig.bbox.height
    right = x + layout.legend_width
    blockers = [(f.box[1], f.box[1] + f.box[3], f.box[0], f.box[0] + f.box[2])
                for f in canvas.frames.of_kind("inset", "strip")]
    blockers += [(b.y0, b.y1, b.x0, b.x1) for b in notes]
    for bottom, upper, bx0, bx1 in sorted(blockers, key=lambda b: -b[1]):
        if bx1 <= x or bx0 >= right:
            continue
        if bottom < top and upper > top - height:
            top = bottom - gap
    return top


def _legend(canvas: _Canvas, entries: Sequence[tuple[str, str]], renderer: Any,
            notes: Sequence[Bbox]) -> None:
    """Draw the legend entries as a matplotlib Legend (text stays text).

    A category key is drawn as its marker, a status key as a patch of its fill. Its upper
    edge is the preset's anchor, or lower when overseas insets or notes stand in the way.
    """
    fig = canvas.fig
    layout = canvas.layout
    handles: list[Artist] = []
    for key, _ in entries:
        if key in config.CATEGORY_STYLE:
            style = config.CATEGORY_STYLE[key]
            handles.append(Line2D([], [], linestyle="none", marker=style["marker"],
                                  markersize=marker_width(layout, key) * 1.35,
                                  markerfacecolor=style["colour"], markeredgecolor="white",
                                  markeredgewidth=0.5))
        else:
            handles.append(Patch(facecolor=config.STATUS_STYLE[key]["colour"],
                                 edgecolor=EDGE_COLOUR, linewidth=0.4))
    x = layout.legend_anchor[0]
    # One column, or two when one would run off the bottom of the figure (a long legend
    # in a small format, such as the reach map's classes on the square card).
    for ncol in (1, 2):
        legend, height = _legend_box(canvas, handles, [t for _, t in entries], renderer,
                                     ncol=ncol)
        top = _legend_top(canvas, x, layout.legend_anchor[1], height, notes)
        if top - height >= _LEGEND_FLOOR:
            break
    legend.set_bbox_to_anchor((x, top), transform=fig.transFigure)
    legend.set_gid("legende-entrees")
    canvas.layers["legende"].append(legend)


def _add_basemap(ax: Any, basemap: Basemap, crs: str) -> str:
    """Draw a basemap under the main frame; return its credit for the source line."""
    import contextily  # slow to import: only when a basemap is asked

    if basemap.tiles:
        import requests

        if basemap.cache_dir is not None:
            contextily.set_cache_dir(str(basemap.cache_dir))
        try:
            contextily.add_basemap(ax, source=basemap.source, crs=crs,
                                   attribution=False, timeout=20, zorder=0)
        except (requests.RequestException, OSError) as exc:
            raise RenderError(
                f"impossible de télécharger les tuiles du fond Plan IGN ({exc.__class__.__name__} "
                f": {exc}). Vérifiez la connexion, dessinez sans --basemap, ou passez un "
                "GeoTIFF local avec --basemap FICHIER.tif. Aucune carte n'a été écrite."
            ) from exc
        return basemap.credit
    try:
        with warnings.catch_warnings():
            # rasterio's warping multiplies affine matrices with the deprecated `*`.
            warnings.filterwarnings("ignore", message="Use `@` matmul",
                                    category=PendingDeprecationWarning)
            contextily.add_basemap(ax, source=str(basemap.source), crs=crs,
                                   attribution=False, zorder=0)
    except Exception as exc:  # rasterio raises many types for unreadable rasters
        raise RenderError(
            f"{basemap.source} : raster illisible comme fond de carte ({exc}) ; donnez un "
            "GeoTIFF avec un système de coordonnées, qui couvre la métropole. Aucune carte "
            "n'a été écrite."
        ) from exc
    return basemap.credit


def _check_font(font: str) -> None:
    try:
        findfont(FontProperties(family=font), fallback_to_default=False)
    except ValueError as exc:
        raise RenderError(
            f"police {font!r} non installée ou inconnue de matplotlib ; installez-la ou "
            f"choisissez-en une autre (par défaut {DEFAULT_FONT!r}). Les polices connues : "
            "python -c \"import matplotlib.font_manager as f; "
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
    basemap: Basemap | None = None,
    label_overrides: Mapping[str, tuple[float, float]] | None = None,
    font: str | None = None,
    labels: bool | Literal["auto"] = "auto",
    verbatim_labels: bool = False,
) -> Figure:
    """Draw the coverage map of the 2021 annex: :func:`draw_map` of :func:`map_data`.

    Parameters
    ----------
    sites
        Point GeoDataFrame in EPSG:4326 with ``id``, ``categorie``, ``etiquette``,
        ``departement`` (and ``departement_spatial``, ``existante_2021``, ``commune``,
        ``libelle_annexe``, ``metier`` when known). Every ``categorie`` with an entry in
        :data:`pipeline.config.CATEGORY_STYLE` is drawn, in that mapping's order; other
        sites (``autre``) are not.
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
        None (default, no basemap), or a basemap resolved by
        :func:`pipeline.sources.tiles.basemap_source`: Plan IGN tiles (cached, needs the
        network) or a local GeoTIFF.
    label_overrides
        Manual label offsets, site id → (dx, dy) in points (see
        :mod:`pipeline.outputs.maps.labels`).
    font
        Font family name; default DejaVu Sans (ships with matplotlib).
    labels
        ``"auto"`` (labels when the preset has room and there are at most
        :data:`MAX_AUTO_LABELS` sites), True or False.
    verbatim_labels
        Print the annex's own labels (see :func:`map_data`).

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
                    source_line=source_line, verbatim_labels=verbatim_labels)
    return draw_map(data, preset=preset, basemap=basemap, label_overrides=label_overrides,
                    font=font, labels=labels)


def _layout(preset: str) -> Preset:
    try:
        return get_preset(preset)
    except KeyError as exc:
        raise RenderError(str(exc.args[0])) from None


def draw_map(data: MapData, *, preset: str = "a4", basemap: Basemap | None = None,
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
    families = list(dict.fromkeys([family, DEFAULT_FONT]))
    with mpl.rc_context({"font.family": families, "text.color": TEXT_COLOUR,
                         "path.simplify": True}):
        return _plot(data, layout, basemap=basemap, label_overrides=label_overrides or {},
                     labels=labels)


def shows_labels(data: MapData, layout: Preset, labels: bool | Literal["auto"]) -> bool:
    """Return whether a map of ``data`` on ``layout`` carries point labels."""
    if labels == "auto":
        return layout.labels and len(data.site_ids) <= MAX_AUTO_LABELS
    return bool(labels)


def _plot(data: MapData, layout: Preset, *, basemap: Basemap | None,
          label_overrides: Mapping[str, tuple[float, float]],
          labels: bool | Literal["auto"]) -> Figure:
    show_labels = shows_labels(data, layout, labels)
    frames = map_frames(data, layout, labels=show_labels)
    canvas = _Canvas(data, layout, frames)
    alpha = 0.75 if basemap else 1.0
    credit = _add_basemap(canvas.axes_for(frames.main), basemap, frames.main.crs) \
        if basemap else None
    for spec in frames.frames:
        _draw_departements(canvas, spec, alpha=alpha if spec.kind in ("main", "zoom") else 1.0)
    names = _draw_frame_furniture(canvas)
    for spec in frames.frames:
        _draw_sites(canvas, spec)
    _scale_bar(canvas)
    notes = _texts(canvas, credit)
    if show_labels:
        _labels(canvas, label_overrides, names, notes)
    return canvas.finish()


def _labels(canvas: _Canvas, overrides: Mapping[str, tuple[float, float]],
            avoid: Sequence[Artist], notes: Sequence[Bbox]) -> None:
    """Place the point labels of every frame at once, in display space, and draw them.

    Each label (``etiquette-<id>``) is placed next to its marker, nearer to it than to any
    other, or moved away with a leader line (``renvoi-<id>``) that crosses no other marker.
    """
    fig = canvas.fig
    data = canvas.data
    layout = canvas.layout
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    px_per_pt = layout.dpi / 72.0
    W, H = fig.bbox.width, fig.bbox.height  # noqa: N806
    points: list[np.ndarray] = []
    point_r: list[float] = []
    bounds: list[tuple[float, float, float, float]] = []
    owners: list[tuple[Frame, int]] = []
    others: list[np.ndarray] = []
    other_r: list[float] = []
    obstacles: list[tuple[float, float, float, float]] = []
    frames = canvas.frames
    overseas = frames.of_kind("inset", "strip")
    # Labels of an overseas site may spill over the row of insets (they are narrow), but
    # must avoid the other territories and the names of the insets.
    row = None
    if overseas:
        x0 = min(f.box[0] for f in overseas) * W
        y0 = min(f.box[1] for f in overseas) * H
        x1 = max(f.box[0] + f.box[2] for f in overseas) * W
        y1 = max(f.box[1] + f.box[3] for f in overseas) * H
        row = (x0 + 2, y0 + 2, x1 - 2, y1 - 2)
    for spec in overseas:
        if spec.content is not None and spec.kind == "inset":
            x0, y0, x1, y1 = spec.content
            (a, b), (c, d) = canvas.trans[spec.name].transform([(x0, y0), (x1, y1)])
            obstacles.append((a, b, c, d))
    for spec in frames.frames:
        if not len(spec.site_xy):
            continue
        display = canvas.trans[spec.name].transform(spec.site_xy)
        left, bottom, width, height = spec.box
        inner = (left * W + 2, bottom * H + 2, (left + width) * W - 2, (bottom + height) * H - 2)
        if spec.kind in ("inset", "strip") and row is not None:
            inner = row
        for k in range(len(spec.site_xy)):
            site = int(spec.site_index[k])
            r = marker_radius(layout, data.site_categories[site]) * px_per_pt
            if spec.labelled[k] and data.site_etiquettes[site]:
                points.append(display[k])
                point_r.append(r)
                bounds.append(inner)
                owners.append((spec, k))
            else:
                others.append(display[k])
                other_r.append(r)
    if not points:
        return
    # Keep labels off the names of the frames, the scale bar, the notes, the zooms' windows
    # and the lines tying them to their zooms.
    for artist in [*avoid, *canvas.avoid]:
        e = artist.get_window_extent(renderer)
        obstacles.append((e.x0, e.y0, e.x1, e.y1))
    for b in notes:
        obstacles.append((b.x0 * W, b.y0 * H, b.x1 * W, b.y1 * H))
    main_trans = canvas.trans[frames.main.name]
    for spec in frames.of_kind("zoom"):
        if spec.extent_on_main is not None:
            x0, y0, x1, y1 = spec.extent_on_main
            (a, b), (c, d) = main_trans.transform([(x0, y0), (x1, y1)])
            obstacles.append((a - 1, b - 1, c + 1, d + 1))
        if spec.connector is not None:
            (ax0, ay0), (bx0, by0) = spec.connector
            for t in np.linspace(0, 1, 24):
                cx, cy = (ax0 + t * (bx0 - ax0)) * W, (ay0 + t * (by0 - ay0)) * H
                obstacles.append((cx - 1.5, cy - 1.5, cx + 1.5, cy + 1.5))

    halo_px = HALO_PT * px_per_pt / 2
    artists: list[HaloText] = []
    sizes = np.zeros((len(points), 2))
    prop = FontProperties(size=layout.label)
    heights: dict[int, float] = {}  # height of a label of n lines, measured once
    for i, (spec, k) in enumerate(owners):
        site = int(spec.site_index[k])
        text = _label_text(data.site_etiquettes[site])
        label = HaloText(0, 0, text, ha="left", va="bottom", fontsize=layout.label,
                         color=TEXT_COLOUR, linespacing=1.1, transform=fig.transFigure,
                         gid=f"etiquette-{data.site_ids[site]}")
        label.set_figure(fig)
        lines = text.split("\n")
        if len(lines) not in heights:
            probe = Text(0, 0, "\n".join(["lpÉ"] * len(lines)), fontsize=layout.label,
                         linespacing=1.1, va="bottom", parse_math=False)
            probe.set_figure(fig)
            heights[len(lines)] = probe.get_window_extent(renderer).height
        width = max(text_width(line, prop, fig.dpi) for line in lines) * 1.01 + 1
        sizes[i] = (width + 2 * halo_px, heights[len(lines)] + 2 * halo_px)
        artists.append(label)
    pts = np.asarray(points)
    fixed = {}
    for i, (spec, k) in enumerate(owners):
        site_id = data.site_ids[int(spec.site_index[k])]
        if site_id in overrides:
            dx, dy = overrides[site_id]
            x0, y0 = pts[i, 0] + dx * px_per_pt, pts[i, 1] + dy * px_per_pt
            fixed[i] = (x0, y0, x0 + sizes[i, 0], y0 + sizes[i, 1])
    radius = float(np.median(point_r))
    placements = place_labels(
        pts, sizes, bounds, marker_radius=radius, gap=radius + 1.5 * px_per_pt,
        obstacles=obstacles, fixed=fixed,
        markers=np.asarray(others).reshape(-1, 2), point_radii=np.asarray(point_r),
        marker_radii=np.asarray(other_r), margin=1.0 * px_per_pt, inset=halo_px,
        enclosures=[(f.box[0] * W, f.box[1] * H, (f.box[0] + f.box[2]) * W,
                     (f.box[1] + f.box[3]) * H) for f in frames.of_kind("zoom", "inset")])
    labels: list[Artist] = []
    leaders: list[Artist] = []
    for i, placement in enumerate(placements):
        spec, k = owners[i]
        site_i = int(spec.site_index[k])
        if placement is None:
            log.warning("aucune place libre pour l'étiquette du site %r (%s) ; ajoutez-lui un "
                        "décalage dans %s", data.site_ids[site_i], data.site_etiquettes[site_i],
                        config.DEFAULT_LABEL_OVERRIDES)
            continue
        label = artists[i]
        x0, y0 = placement.box[0] + halo_px, placement.box[1] + halo_px
        label.set_position((x0 / W, y0 / H))
        labels.append(label)
        if placement.leader:
            leaders.append(_leader_line(canvas, pts[i], point_r[i], placement,
                                        data.site_ids[site_i]))
    canvas.layers["renvois"].extend(leaders)
    canvas.layers["etiquettes"].extend(labels)


def _label_text(text: str) -> str:
    """Set a long label on two lines: after its place ("Salbris –"), else mid-way."""
    if len(text) <= LABEL_WRAP_CHARS:
        return text
    if " – " in text:
        head, tail = text.split(" – ", 1)
        return f"{head} –\n{tail}"
    spaces = [i for i, c in enumerate(text) if c == " "]
    if not spaces:
        return text
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return f"{text[:cut]}\n{text[cut + 1:]}"


def _leader_line(canvas: _Canvas, point: np.ndarray, radius: float, placement: Placement,
                 site: str) -> Line2D:
    """Leader line from the edge of a marker to the nearest point of its label's box."""
    box = placement.box
    x, y = float(point[0]), float(point[1])
    nx, ny = min(max(x, box[0]), box[2]), min(max(y, box[1]), box[3])
    length = float(np.hypot(nx - x, ny - y)) or 1.0
    start = min(radius + 0.5, length)
    sx, sy = x + (nx - x) * start / length, y + (ny - y) * start / length
    W, H = canvas.fig.bbox.width, canvas.fig.bbox.height  # noqa: N806
    line = Line2D([sx / W, nx / W], [sy / H, ny / H], color=LEADER_COLOUR, linewidth=0.4,
                  solid_capstyle="butt", transform=canvas.fig.transFigure,
                  gid=f"renvoi-{site}")
    line.set_figure(canvas.fig)
    return line


