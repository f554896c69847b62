"""The map's frames as plain geometry: main map, zooms and overseas insets, without matplotlib.

:func:`map_frames` turns a :class:`~pipeline.outputs.maps.mapdata.MapData` and a preset into
the list of frames the map is made of, each with its name, projection, box on the page
(figure fractions), data limits, the projected département outlines (simplified where the
frame is coarser than the data) and the projected sites with their indices in the
``MapData``. :mod:`pipeline.outputs.maps.render` draws from it; the press page (inline SVG)
uses it to show the same frames. This module imports neither matplotlib nor pandas.

Coordinates: a frame maps its data limits ``xlim`` × ``ylim`` (metres in ``crs``) onto its
``box`` ``(left, bottom, width, height)``, in fractions of the page, origin bottom left; the
page is ``width_in`` × ``height_in`` inches. Data units per inch are equal on both axes.

With ``map_only=True`` the boxes are fractions of the map area alone (the union of the
frames' boxes), for a page that shows the title, legend and sources itself (HTML).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np
import shapely
from pyproj import Transformer

from pipeline import config
from pipeline.outputs.maps.layout import (
    OVERSEAS_NAMES,
    Box,
    Preset,
    column,
    get_preset,
    row,
)
from pipeline.outputs.maps.mapdata import MapData
from pipeline.outputs.maps.texts import NO_OVERSEAS_SITE, SCALES_DIFFER, place_name

#: Kinds of frames: the main map (metropolitan France and Corsica), a zoom on part of it, an
#: overseas inset, and an overseas territory in the compact strip (no site there).
FrameKind = Literal["main", "zoom", "inset", "strip"]

#: Simplification tolerance, in output pixels of the main frame: below what the eye sees.
_SIMPLIFY_PX: Final = 0.6
#: Tolerance the embedded départements were simplified with (sources.json), and metres per
#: degree of latitude, to tell whether a frame needs coarser outlines than the data has.
_EMBEDDED_TOLERANCE_DEG: Final = 0.005
_METRES_PER_DEGREE: Final = 111_000.0
#: Coarsest outline detail kept on the main frame whatever the resolution: 750 m is under
#: 2 px on A4 at 300 dpi and keeps the SVG under 1 MB (about 25 bytes per vertex).
_MIN_TOLERANCE_M: Final = 750.0

Bounds = tuple[float, float, float, float]


@dataclass(frozen=True, eq=False)
class Frame:
    """One map frame: where it goes on the page, what it shows, in which projection.

    Attributes
    ----------
    name
        Stable identifier, also the SVG id of the frame: ``carte-metropole``,
        ``zoom-<place>`` (e.g. ``zoom-lyon``, ``zoom-ile-de-france``), ``encart-<code>``.
    kind
        ``main``, ``zoom``, ``inset`` (an overseas département in its own box) or ``strip``
        (an overseas département in the compact strip drawn when it has no site).
    title
        Name printed in the frame (``"Lyon"``, ``"Guadeloupe"``); None for the main frame.
    crs
        Projection of the frame's coordinates (``EPSG:2154`` for the main frame and zooms).
    box
        ``(left, bottom, width, height)`` in fractions of the page (or of the map area).
    xlim, ylim
        Data limits shown in ``box``, in ``crs`` units (metres).
    units_per_inch
        Data units per inch of the printed page: the frame's scale.
    departement_index
        Indices into the ``MapData``'s départements of the outlines drawn here.
    departement_codes
        Their codes (``"69"``, ``"971"``).
    departement_geometries
        Their outlines projected to ``crs`` (simplified on coarse frames, clipped to the
        window on zooms), as an object array of shapely (multi)polygons.
    site_index
        Indices into the ``MapData``'s sites drawn in this frame.
    site_xy
        Array (n, 2) of their positions as drawn, in ``crs``.
    labelled
        Boolean array (n,): whether this frame carries the site's label (a site both on
        the main frame and in a zoom is labelled in the zoom).
    content
        Bounds of the outlines drawn, which labels of other frames must avoid; None when
        nothing is drawn.
    extent_on_main
        For a zoom, the window it shows, in the main frame's coordinates (drawn there as a
        rectangle); None otherwise.
    connector
        For a zoom, the line tying that rectangle to the zoom's box: two points in page
        fractions; None otherwise.
    """

    name: str
    kind: FrameKind
    title: str | None
    crs: str
    box: Box
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    units_per_inch: float
    departement_index: np.ndarray
    departement_codes: tuple[str, ...]
    departement_geometries: np.ndarray
    site_index: np.ndarray
    site_xy: np.ndarray
    labelled: np.ndarray
    content: Bounds | None = None
    extent_on_main: Bounds | None = None
    connector: tuple[tuple[float, float], tuple[float, float]] | None = None

    def to_page(self, xy: np.ndarray) -> np.ndarray:
        """Convert (n, 2) data coordinates of this frame to page fractions (origin bottom left).

        Parameters
        ----------
        xy
            Coordinates in ``crs``.

        Returns
        -------
        numpy.ndarray
            (n, 2) fractions of the page (or of the map area, with ``map_only``).
        """
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        left, bottom, width, height = self.box
        return np.column_stack([left + (xy[:, 0] - x0) / (x1 - x0) * width,
                                bottom + (xy[:, 1] - y0) / (y1 - y0) * height])


@dataclass(frozen=True, eq=False)
class MapFrames:
    """Every frame of one map, in drawing order (main first), and the page they sit on.

    Attributes
    ----------
    preset
        Name of the preset they were laid out for.
    width_in, height_in
        Size of the page (or of the map area, with ``map_only``) in inches.
    frames
        Main frame, then zooms, then overseas insets and strip.
    notes
        Texts of the map area ("Aucune école en outre-mer à cette date ; échelles
        différentes"), placed under what they are about.
    """

    preset: str
    width_in: float
    height_in: float
    frames: tuple[Frame, ...]
    notes: tuple[Note, ...] = ()

    @property
    def main(self) -> Frame:
        """Return the main frame (metropolitan France and Corsica)."""
        return self.frames[0]

    def of_kind(self, *kinds: FrameKind) -> tuple[Frame, ...]:
        """Return the frames of these kinds, in order."""
        return tuple(f for f in self.frames if f.kind in kinds)

    def get(self, name: str) -> Frame:
        """Return the frame called ``name``.

        Raises
        ------
        KeyError
            If there is none.
        """
        for frame in self.frames:
            if frame.name == name:
                return frame
        raise KeyError(f"no frame {name!r}; frames are {', '.join(f.name for f in self.frames)}")

    def area(self) -> Box:
        """Return the union of the frames' boxes: the map area, without the texts."""
        return union([f.box for f in self.frames])


def union(boxes: Sequence[Box]) -> Box:
    """Return the smallest box holding every one of ``boxes`` (figure fractions)."""
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


# --- Geometry helpers -------------------------------------------------------------------------
@functools.cache
def _transformer(crs: str) -> Transformer:
    return Transformer.from_crs(config.STORAGE_CRS, crs, always_xy=True)


def project(geoms: np.ndarray, crs: str) -> np.ndarray:
    """Project EPSG:4326 geometries (lon/lat order) to ``crs``.

    Parameters
    ----------
    geoms
        Object array of shapely geometries.
    crs
        Target CRS.

    Returns
    -------
    numpy.ndarray
        The projected geometries.
    """
    transformer = _transformer(crs)
    return shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(
        xy[:, 0], xy[:, 1])))


def project_points(lon: np.ndarray, lat: np.ndarray, crs: str) -> np.ndarray:
    """Project WGS84 longitudes and latitudes to (n, 2) coordinates in ``crs``."""
    if not len(lon):
        return np.zeros((0, 2))
    x, y = _transformer(crs).transform(np.asarray(lon, dtype=float),
                                       np.asarray(lat, dtype=float))
    return np.column_stack([x, y])


def fit(bounds: Sequence[float], box: Box, figsize: tuple[float, float],
        pad: float = 0.03, top: float = 0.0) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis limits showing ``bounds`` at equal scale in ``box``, centred, with margins.

    ``top`` reserves that fraction of the box height at the top (for a frame's name).
    """
    x0, y0, x1, y1 = bounds
    w, h = (x1 - x0) * (1 + 2 * pad), (y1 - y0) * (1 + 2 * pad)
    box_w, box_h = box[2] * figsize[0], box[3] * figsize[1] * (1 - top)
    scale = max(w / box_w, h / box_h)  # data units per inch
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = box_w * scale / 2, box_h * scale / 2
    extra = box[3] * figsize[1] * top * scale
    return (cx - half_w, cx + half_w), (cy - half_h, cy + half_h + extra)


def _bounds(geoms: np.ndarray) -> Bounds | None:
    """Total bounds of ``geoms`` as floats, None when there is nothing."""
    if not len(geoms):
        return None
    x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(geoms))
    return x0, y0, x1, y1


def _units_per_inch(xlim: tuple[float, float], box: Box, figsize: tuple[float, float]) -> float:
    return (xlim[1] - xlim[0]) / (box[2] * figsize[0])


# --- Markers: sizes, crowds, spreading --------------------------------------------------
#: Marker area factors, so that circle, triangle, square and diamond look the same size.
MARKER_AREA: Final[dict[str, float]] = {"o": 1.0, "^": 1.25, "s": 0.8, "D": 0.5}
#: Radius of the circle around each marker shape, in marker widths (matplotlib's shapes: a
#: circle of that diameter, a square, triangle or diamond whose corners lie at 0.71).
_CIRCUMRADIUS: Final[dict[str, float]] = {"o": 0.5, "^": 0.71, "s": 0.71, "D": 0.71}
#: Above this many sites the map neither zooms nor spreads markers (they would not fit).
MAX_DECLUTTER_SITES: Final = 300
#: Two markers closer than this many times the sum of their radii crowd each other: with
#: labels they leave no room for them, without labels they overlap.
_CROWD_LABELLED: Final = 1.6
_CROWD_UNLABELLED: Final = 1.0
#: Fewest sites that make a zoom (two crowded sites are spread apart instead).
_ZOOM_MIN_SITES: Final = 3
#: In a zoom, neighbours end this many times the sum of their radii apart (room for labels).
_ZOOM_SPACING_LABELLED: Final = 2.2
_ZOOM_SPACING_UNLABELLED: Final = 2.5
#: A zoom enlarges at least this much, at most that much.
_ZOOM_MIN_FACTOR: Final = 2.0
_ZOOM_MAX_FACTOR: Final = 16.0
#: Clear space between two markers after spreading, in points.
_MARKER_GAP_PT: Final = 0.6
#: Labels are set on two lines beyond this many characters.
LABEL_WRAP_CHARS: Final = 34
#: Average width of a character of the labels, in font sizes (DejaVu Sans): to leave room
#: for labels in a zoom before they are measured.
_CHAR_WIDTH_EM: Final = 0.56


def marker_width(layout: Preset, category: str) -> float:
    """Return the width in points of a category's marker on this preset."""
    shape = config.CATEGORY_STYLE[category]["marker"]
    return float(layout.marker * np.sqrt(MARKER_AREA.get(shape, 1.0)))


def marker_radius(layout: Preset, category: str) -> float:
    """Return the radius in points of the circle holding a category's marker."""
    shape = config.CATEGORY_STYLE[category]["marker"]
    return marker_width(layout, category) * _CIRCUMRADIUS.get(shape, 0.71)


def _crowds(xy: np.ndarray, radii: np.ndarray, link: float) -> list[list[int]]:
    """Return groups of markers closer than ``link`` times their radii to one another.

    ``xy`` and ``radii`` in the same units; groups of one are left out; largest first.
    """
    n = len(xy)
    if n < 2:
        return []
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    linked = d < link * (radii[:, None] + radii[None, :])
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(linked, 1)), strict=True):
        parent[root(int(i))] = root(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))


def spread(xy: np.ndarray, radii: np.ndarray, gap: float, *,
           iterations: int = 300) -> np.ndarray:
    """Move markers apart, as little as it takes, until no two overlap.

    Each overlapping pair is pushed apart along the line joining them (coincident ones
    along a fixed direction per pair), half each, until every pair is at least the sum of
    their radii plus ``gap`` apart. Deterministic.

    Parameters
    ----------
    xy
        Array (n, 2) of positions.
    radii
        Array (n,) of marker radii, in the units of ``xy``.
    gap
        Clear space wanted between markers.
    iterations
        Most passes.

    Returns
    -------
    numpy.ndarray
        The new positions (a copy).
    """
    xy = np.array(xy, dtype=float)
    n = len(xy)
    if n < 2:
        return xy
    need = radii[:, None] + radii[None, :] + gap
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    golden = np.pi * (3 - np.sqrt(5))
    for _ in range(iterations):
        dx = xy[None, :, 0] - xy[:, None, 0]
        dy = xy[None, :, 1] - xy[:, None, 1]
        d = np.hypot(dx, dy)
        short = upper & (d < need * (1 - 1e-9))
        if not short.any():
            break
        i, j = np.nonzero(short)
        dist = d[i, j]
        tiny = dist < 1e-9 * need[i, j]
        angle = golden * (i * n + j)
        ux = np.where(tiny, np.cos(angle), dx[i, j] / np.where(tiny, 1, dist))
        uy = np.where(tiny, np.sin(angle), dy[i, j] / np.where(tiny, 1, dist))
        push = (need[i, j] - dist) / 2 * 1.01
        move = np.zeros_like(xy)
        np.add.at(move, i, -np.column_stack([ux * push, uy * push]))
        np.add.at(move, j, np.column_stack([ux * push, uy * push]))
        xy += move
    return xy


def _zoom_name(sites: Sequence[int], data: MapData) -> str:
    """Name a zoom after its sites: a city with arrondissements, else the commonest commune.

    Failing both (every site in a different commune), the région when the zoom spans three
    départements or more of one région, else the commune nearest to the middle. Without
    communes in the data, the name of the commonest département.
    """
    communes = [data.site_communes[i] for i in sites] if data.site_communes else []
    if not communes:
        deps = [data.site_departements[i] for i in sites]
        common = max(dict.fromkeys(deps), key=deps.count)
        names = dict(zip(data.departement_codes, data.departement_noms, strict=True))
        return names.get(common, common)
    places = [place_name(c) for c in communes]
    cities = [p for c, p in zip(communes, places, strict=True) if p != " ".join(c.split())]
    pool = cities or places
    counts = {p: pool.count(p) for p in dict.fromkeys(pool)}
    best = max(counts.values())
    if cities or best > 1:
        return next(p for p, c in counts.items() if c == best)
    distinct = {data.site_departements[i] for i in sites}
    regions = {config.REGION_OF_DEPARTEMENT.get(d, "") for d in distinct}
    if len(distinct) >= 3 and len(regions) == 1 and "" not in regions:
        return regions.pop()
    lon = np.asarray(data.site_lon)[list(sites)]
    lat = np.asarray(data.site_lat)[list(sites)]
    k = int(np.argmin(np.hypot(lon - lon.mean(), lat - lat.mean())))
    return places[k]


def _slug(text: str) -> str:
    """``"Île-de-France"`` → ``"ile-de-france"``: for SVG ids."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-") or "zoom"


@dataclass(frozen=True)
class Note:
    """A short text that belongs to the map area (under the overseas strip, for instance).

    Attributes
    ----------
    name
        Stable identifier, also its SVG id (``note-outre-mer``).
    text
        The French text.
    x, y
        Anchor in fractions of the page (or of the map area), its upper-left corner.
    size
        Font size in points.
    width
        Width it is wrapped to, in fractions of the page (or of the map area).
    """

    name: str
    text: str
    x: float
    y: float
    size: float
    width: float


# --- The frames -------------------------------------------------------------------------------
def map_frames(data: MapData, preset: str | Preset = "a4", *, map_only: bool = False,
               labels: bool | None = None) -> MapFrames:
    """Lay out the frames of the map of ``data`` for ``preset``.

    The main frame shows metropolitan France and Corsica. Where sites crowd at its scale
    (three or more markers too close for their labels, or overlapping where there are no
    labels), a zoom shows them larger, sized to its content in the preset's zoom area, and
    they are drawn there only; the main frame shows the zoom's window as a rectangle tied to
    the zoom by a line. Markers that would still overlap are moved apart, as little as it
    takes (two schools in one commune). Overseas départements with a site get a boxed,
    named inset each; those without one share a compact strip, with a note when no school
    is overseas at all. Scales differ between the insets and the main frame: a note says so.

    Parameters
    ----------
    data
        From :func:`pipeline.outputs.maps.mapdata.map_data`.
    preset
        A preset name of :data:`pipeline.outputs.maps.layout.PRESETS` or a
        :class:`~pipeline.outputs.maps.layout.Preset`.
    map_only
        Express every box in fractions of the map area (the union of the frames) instead
        of the page, and give that area's size: for a page that shows the texts itself.
    labels
        Whether the sites are labelled (zooms then leave room for labels); None: when the
        preset has room for labels.

    Returns
    -------
    MapFrames
        The main frame first, then the zooms, then the overseas insets and strip.

    Raises
    ------
    KeyError
        If the preset is unknown.
    """
    layout = get_preset(preset) if isinstance(preset, str) else preset
    labelled = layout.labels if labels is None else labels
    figsize = layout.figsize
    overseas_codes = list(OVERSEAS_NAMES)
    codes = np.array(data.departement_codes, dtype=object)
    geoms = np.asarray(data.departement_geometries, dtype=object)
    is_overseas = np.isin(codes, overseas_codes)
    metro_index = np.flatnonzero(~is_overseas)
    site_dep = np.array(data.site_departements, dtype=object)
    lon = np.asarray(data.site_lon, dtype=float)
    lat = np.asarray(data.site_lat, dtype=float)
    n_sites = len(data.site_ids)
    declutter = n_sites <= MAX_DECLUTTER_SITES
    # Marker radii in inches, and the clear space wanted between two markers.
    by_category = {c: marker_radius(layout, c) if c in config.CATEGORY_STYLE else
                   layout.marker / 2 for c in set(data.site_categories)}
    radii = np.array([by_category[c] for c in data.site_categories], dtype=float) / 72
    gap = _MARKER_GAP_PT / 72

    # Main frame: metropolitan France and Corsica in Lambert-93.
    metro = project(geoms[metro_index], config.METRO_CRS)
    xlim, ylim = fit(shapely.total_bounds(metro), layout.main, figsize, pad=0.01)
    main_upi = _units_per_inch(xlim, layout.main, figsize)
    metres_per_px = main_upi / layout.dpi
    metro_simple = metro
    tolerance_deg = max(_SIMPLIFY_PX * metres_per_px, _MIN_TOLERANCE_M) / _METRES_PER_DEGREE
    if tolerance_deg > _EMBEDDED_TOLERANCE_DEG:
        # Simplify as a coverage (no gaps between neighbours) in lon/lat, as the embedded
        # data was; only when the frame is coarser than that data already is. (GEOS 3.14's
        # coverage simplification fails on the projected outlines, so this projects twice.)
        metro_simple = project(shapely.coverage_simplify(geoms[metro_index], tolerance_deg),
                               config.METRO_CRS)
    metro_sites = np.flatnonzero(~np.isin(site_dep, overseas_codes))
    metro_xy = project_points(lon[metro_sites], lat[metro_sites], config.METRO_CRS)

    # Zooms where sites crowd at the main frame's scale.
    zooms: list[Frame] = []
    in_a_zoom = np.zeros(len(metro_sites), dtype=bool)
    if declutter and layout.zooms is not None and layout.max_zooms > 0:
        link = _CROWD_LABELLED if labelled else _CROWD_UNLABELLED
        crowds = [g for g in _crowds(metro_xy / main_upi, radii[metro_sites], link)
                  if len(g) >= _ZOOM_MIN_SITES][:layout.max_zooms]
        area = layout.zooms
        if area == "mer":
            (a, b), (c, d) = _page_of(layout.main, xlim, ylim, [SEA[:2], SEA[2:]])
            area = (a, b, c - a, d - b)
        slots = _split(area, len(crowds), figsize)
        windows: list[shapely.Geometry] = []
        for crowd, slot in zip(crowds, slots, strict=True):
            if in_a_zoom[crowd].any():
                continue
            zoom = _zoom(data, layout, crowd, metro_sites, metro_xy, radii, main_upi, slot,
                         labelled=labelled)
            window = shapely.box(zoom.xlim[0], zoom.ylim[0], zoom.xlim[1], zoom.ylim[1])
            if any(window.intersects(w) for w in windows):
                continue
            windows.append(window)
            inside = shapely.contains_xy(window, metro_xy[:, 0], metro_xy[:, 1]) & ~in_a_zoom
            in_a_zoom |= inside
            near = shapely.intersects(metro, window)
            # Clip to the window: what lies outside would only weigh on the SVG.
            clipped = shapely.clip_by_rect(metro[near], *shapely.bounds(window.buffer(
                0.05 * (zoom.xlim[1] - zoom.xlim[0]))))
            upi = zoom.units_per_inch
            xy = spread(metro_xy[inside] / upi, radii[metro_sites[inside]], gap) * upi
            zooms.append(replace(
                zoom, departement_index=metro_index[near],
                departement_codes=tuple(str(c) for c in codes[metro_index][near]),
                departement_geometries=clipped, site_index=metro_sites[inside], site_xy=xy,
                labelled=np.ones(int(inside.sum()), dtype=bool)))

    # The main frame draws the sites that no zoom shows, moved apart where they overlap.
    keep = ~in_a_zoom
    main_xy = metro_xy[keep]
    if declutter:
        main_xy = spread(main_xy / main_upi, radii[metro_sites[keep]], gap) * main_upi
    main = Frame(
        name="carte-metropole", kind="main", title=None, crs=config.METRO_CRS,
        box=layout.main, xlim=xlim, ylim=ylim, units_per_inch=main_upi,
        departement_index=metro_index,
        departement_codes=tuple(str(c) for c in codes[metro_index]),
        departement_geometries=metro_simple, site_index=metro_sites[keep], site_xy=main_xy,
        labelled=np.ones(int(keep.sum()), dtype=bool), content=_bounds(metro_simple))
    zooms = [replace(z, connector=_connector(main, z)) for z in zooms]

    frames = [main, *zooms]
    notes: list[Note] = []
    frames += _overseas(data, layout, codes, geoms, site_dep, lon, lat, radii, gap,
                        declutter, notes)
    result = MapFrames(layout.name, figsize[0], figsize[1], tuple(frames), tuple(notes))
    return _map_only(result) if map_only else result


#: Where the zooms go with ``zooms="mer"``: the Mediterranean between the Pyrenees and
#: Corsica, in Lambert-93 metres (x0, y0, x1, y1).
SEA: Final = (690_000.0, 6_060_000.0, 1_150_000.0, 6_200_000.0)


def _page_of(box: Box, xlim: tuple[float, float], ylim: tuple[float, float],
             xy: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    """Page fractions of points given in a frame's data coordinates."""
    return [(box[0] + (x - xlim[0]) / (xlim[1] - xlim[0]) * box[2],
             box[1] + (y - ylim[0]) / (ylim[1] - ylim[0]) * box[3]) for x, y in xy]


def zoom_names(data: MapData, preset: str | Preset = "a4") -> list[str]:
    """Return the names of the zooms a map of ``data`` has on ``preset`` (for alt texts).

    Parameters
    ----------
    data
        From :func:`pipeline.outputs.maps.mapdata.map_data`.
    preset
        As for :func:`map_frames`.

    Returns
    -------
    list of str
        E.g. ``["Lyon"]``; empty when nothing crowds.
    """
    return [f.title or "" for f in map_frames(data, preset).of_kind("zoom")]


def _split(area: Box, n: int, figsize: tuple[float, float]) -> tuple[Box, ...]:
    """Split ``area`` in ``n`` slots along its longer side (in inches)."""
    if n <= 1:
        return (area,) * n
    if area[2] * figsize[0] >= area[3] * figsize[1]:
        return row(area, n, 0.01)
    return column(area, n, 0.01)


def _zoom(data: MapData, layout: Preset, crowd: Sequence[int], metro_sites: np.ndarray,
          metro_xy: np.ndarray, radii: np.ndarray, main_upi: float, slot: Box, *,
          labelled: bool) -> Frame:
    """Return the zoom on one crowd of sites: scale, window, box (the caller adds the sites)."""
    figsize = layout.figsize
    xy = metro_xy[crowd]
    r = radii[metro_sites[crowd]]
    spacing = _ZOOM_SPACING_LABELLED if labelled else _ZOOM_SPACING_UNLABELLED
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    need = spacing * (r[:, None] + r[None, :])
    apart = np.triu(d > 1.0, 1)  # coincident sites are spread, not zoomed apart
    upi = float((d[apart] / need[apart]).min()) if apart.any() else main_upi
    upi = min(max(upi, main_upi / _ZOOM_MAX_FACTOR), main_upi / _ZOOM_MIN_FACTOR)
    # Room around the sites (markers, labels) and for the zoom's name, in inches.
    margin = 2.5 * float(r.max())
    title_h = layout.inset * 1.9 / 72
    label_w = label_h = 0.0
    if labelled:
        longest = max(min(len(data.site_etiquettes[metro_sites[i]]), LABEL_WRAP_CHARS)
                      for i in crowd)
        label_w = longest * _CHAR_WIDTH_EM * layout.label / 72
        # Two lines a label, one label above or below each site at most.
        label_h = len(crowd) * 2 * 1.2 * layout.label / 72
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    slot_w, slot_h = slot[2] * figsize[0], slot[3] * figsize[1]

    def size(u: float) -> tuple[float, float]:
        return ((x1 - x0) / u + 2 * margin + 2 * label_w,
                max((y1 - y0) / u + 2 * margin, label_h) + title_h)

    w, h = size(upi)
    if w > slot_w or h > slot_h:  # less enlarged, so that it fits its slot
        room_w = slot_w - 2 * margin - 2 * label_w
        room_h = slot_h - 2 * margin - title_h
        fits = [(x1 - x0) / room_w if room_w > 0 else np.inf,
                (y1 - y0) / room_h if room_h > 0 else np.inf]
        upi = max(upi, *[f for f in fits if np.isfinite(f)], main_upi / _ZOOM_MAX_FACTOR)
        w, h = size(upi)
    w, h = min(w, slot_w), min(h, slot_h)
    # At the top of its slot, on the slot's side nearer the main frame's middle.
    left = slot[0] if slot[0] + slot[2] / 2 >= layout.main[0] + layout.main[2] / 2 else \
        slot[0] + slot[2] - w / figsize[0]
    box = (left, slot[1] + slot[3] - h / figsize[1], w / figsize[0], h / figsize[1])
    cx = (x0 + x1) / 2
    cy = (y0 + y1) / 2 + title_h / 2 * upi
    xlim = (cx - w / 2 * upi, cx + w / 2 * upi)
    ylim = (cy - h / 2 * upi, cy + h / 2 * upi)
    name = _zoom_name([int(metro_sites[i]) for i in crowd], data)
    empty = np.zeros(0, dtype=int)
    return Frame(name=f"zoom-{_slug(name)}", kind="zoom", title=name, crs=config.METRO_CRS,
                 box=box, xlim=xlim, ylim=ylim, units_per_inch=upi,
                 departement_index=empty, departement_codes=(),
                 departement_geometries=np.zeros(0, dtype=object), site_index=empty,
                 site_xy=np.zeros((0, 2)), labelled=np.zeros(0, dtype=bool),
                 content=(xlim[0], ylim[0], xlim[1], ylim[1]),
                 extent_on_main=(xlim[0], ylim[0], xlim[1], ylim[1]))


def _connector(main: Frame, zoom: Frame) -> tuple[tuple[float, float], tuple[float, float]]:
    """Line from the zoom's window on the main frame to the zoom's box, in page fractions.

    From the window corner nearest to the box to the box corner nearest to that one.
    """
    assert zoom.extent_on_main is not None
    x0, y0, x1, y1 = zoom.extent_on_main
    window = main.to_page(np.array([(x0, y0), (x1, y0), (x0, y1), (x1, y1)]))
    left, bottom, width, height = zoom.box
    box = np.array([(left, bottom), (left + width, bottom), (left, bottom + height),
                    (left + width, bottom + height)])
    centre = box.mean(axis=0)
    a = window[int(np.argmin(np.hypot(*(window - centre).T)))]
    b = box[int(np.argmin(np.hypot(*(box - a).T)))]
    return (float(a[0]), float(a[1])), (float(b[0]), float(b[1]))


def _overseas(data: MapData, layout: Preset, codes: np.ndarray, geoms: np.ndarray,
              site_dep: np.ndarray, lon: np.ndarray, lat: np.ndarray, radii: np.ndarray,
              gap: float, declutter: bool, notes: list[Note]) -> list[Frame]:
    """Insets for the overseas départements with a site, a compact strip for the others."""
    figsize = layout.figsize
    with_sites = [c for c in OVERSEAS_NAMES if (site_dep == c).any()]
    without = [c for c in OVERSEAS_NAMES if c not in with_sites]
    split = column if layout.overseas_column else row
    gap_frac = 0.008 if not layout.overseas_column else 0.01
    places: list[tuple[str, Box, FrameKind]] = []
    if with_sites:
        if not layout.strip_shapes:  # small formats: the territories with a site only
            without = []
        n_boxes = len(with_sites) + (1 if without else 0)
        boxes = split(layout.overseas, n_boxes, gap_frac)
        places += [(c, b, "inset") for c, b in zip(with_sites, boxes, strict=False)]
        if without:
            cells = _cells(boxes[-1], len(without), figsize,
                           max(len(OVERSEAS_NAMES[c]) for c in without) * _CHAR_WIDTH_EM
                           * 1.15 * layout.inset / 72)
            places += [(c, b, "strip") for c, b in zip(without, cells, strict=True)]
        area = union(boxes)
        notes.append(Note("note-outre-mer", SCALES_DIFFER, area[0], area[1] - 0.004,
                          layout.note, area[2]))
    elif layout.strip_shapes:
        strip = (column if layout.strip_column else row)(layout.strip, len(without), 0.006)
        places += [(c, b, "strip") for c, b in zip(without, strip, strict=True)]
        notes.append(Note("note-outre-mer", f"{NO_OVERSEAS_SITE} ; "
                          f"{SCALES_DIFFER[0].lower()}{SCALES_DIFFER[1:]}",
                          layout.strip[0], layout.strip[1] - 0.004, layout.note,
                          layout.strip[2]))
    else:  # small formats: the note alone
        notes.append(Note("note-outre-mer", f"{NO_OVERSEAS_SITE}.", layout.strip[0],
                          layout.strip[1] + layout.strip[3], layout.note, layout.strip[2]))
    frames = []
    for code, box, kind in places:
        crs = config.OVERSEAS_CRS[code]
        here = np.flatnonzero(codes == code)
        projected = project(geoms[here], crs)
        sites_here = np.flatnonzero(site_dep == code)
        # Room at the top for the name: a line of the frame-name size.
        top = min(0.6, layout.inset * 1.7 / 72 / (box[3] * figsize[1]))
        if len(projected):
            bounds = shapely.total_bounds(projected)
            pad = 0.06 if kind == "inset" else 0.02
            ox, oy = fit(bounds, box, figsize, pad=pad, top=top)
            if kind == "inset":  # the box shrinks to its content, from its upper-left corner
                upi = _units_per_inch(ox, box, figsize)
                title_in = top * box[3] * figsize[1]
                w_in = (bounds[2] - bounds[0]) * (1 + 2 * pad) / upi
                h_in = (bounds[3] - bounds[1]) * (1 + 2 * pad) / upi + title_in
                name_in = len(OVERSEAS_NAMES[code]) * _CHAR_WIDTH_EM * 1.1 * layout.inset / 72
                w = min(box[2], max(w_in, name_in) / figsize[0])
                h = min(box[3], h_in / figsize[1])
                box = (box[0], box[1] + box[3] - h, w, h)
                ox, oy = fit(bounds, box, figsize, pad=pad, top=title_in / (h * figsize[1]))
        else:  # the département is not in the data: an empty, named box
            ox, oy = (0.0, 1.0), (0.0, 1.0)
        upi = _units_per_inch(ox, box, figsize)
        xy = project_points(lon[sites_here], lat[sites_here], crs)
        if declutter and len(xy):
            xy = spread(xy / upi, radii[sites_here], gap) * upi
        frames.append(Frame(
            name=f"encart-{code}", kind=kind, title=OVERSEAS_NAMES[code], crs=crs, box=box,
            xlim=ox, ylim=oy, units_per_inch=upi, departement_index=here,
            departement_codes=tuple(str(c) for c in codes[here]),
            departement_geometries=projected, site_index=sites_here, site_xy=xy,
            labelled=np.ones(len(sites_here), dtype=bool), content=_bounds(projected)))
    return frames


def _cells(area: Box, n: int, figsize: tuple[float, float], width_in: float) -> list[Box]:
    """Split ``area`` in ``n`` cells, row by row, each at least ``width_in`` wide if it can."""
    cols = max(1, min(n, int(area[2] * figsize[0] // max(width_in, 1e-9))))
    rows = -(-n // cols)
    w, h = area[2] / cols, area[3] / rows
    top = area[1] + area[3]
    return [(area[0] + (k % cols) * w, top - (k // cols + 1) * h, w * 0.96, h * 0.92)
            for k in range(n)]


def _map_only(frames: MapFrames) -> MapFrames:
    """Return the same frames with boxes in fractions of their union (the map area)."""
    left, bottom, width, height = frames.area()

    def rebox(box: Box) -> Box:
        return ((box[0] - left) / width, (box[1] - bottom) / height, box[2] / width,
                box[3] / height)

    def repoint(x: float, y: float) -> tuple[float, float]:
        return (x - left) / width, (y - bottom) / height

    return MapFrames(
        frames.preset, frames.width_in * width, frames.height_in * height,
        tuple(replace(f, box=rebox(f.box), connector=None if f.connector is None else
                      (repoint(*f.connector[0]), repoint(*f.connector[1])))
              for f in frames.frames),
        tuple(replace(n, x=repoint(n.x, n.y)[0], y=repoint(n.x, n.y)[1],
                      width=n.width / width) for n in frames.notes))
