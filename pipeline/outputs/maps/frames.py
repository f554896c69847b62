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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np
import shapely
from pyproj import Transformer

from pipeline import config
from pipeline.outputs.maps.layout import (
    IDF_CORE,
    IDF_NEIGHBOURS,
    OVERSEAS_NAMES,
    Box,
    Preset,
    get_preset,
)
from pipeline.outputs.maps.mapdata import MapData

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
    """

    preset: str
    width_in: float
    height_in: float
    frames: tuple[Frame, ...]

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


# --- The frames -------------------------------------------------------------------------------
def map_frames(data: MapData, preset: str | Preset = "a4", *,
               map_only: bool = False) -> MapFrames:
    """Lay out the frames of the map of ``data`` for ``preset``.

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

    Returns
    -------
    MapFrames
        The main frame first, then the zoom, then the five overseas insets.

    Raises
    ------
    KeyError
        If the preset is unknown.
    """
    layout = get_preset(preset) if isinstance(preset, str) else preset
    figsize = layout.figsize
    overseas_codes = list(OVERSEAS_NAMES)
    codes = np.array(data.departement_codes, dtype=object)
    geoms = np.asarray(data.departement_geometries, dtype=object)
    is_overseas = np.isin(codes, overseas_codes)
    metro_index = np.flatnonzero(~is_overseas)
    site_dep = np.array(data.site_departements, dtype=object)
    lon = np.asarray(data.site_lon, dtype=float)
    lat = np.asarray(data.site_lat, dtype=float)

    # Main frame: metropolitan France and Corsica in Lambert-93.
    metro = project(geoms[metro_index], config.METRO_CRS)
    xlim, ylim = fit(shapely.total_bounds(metro), layout.main, figsize, pad=0.01)
    metres_per_px = (xlim[1] - xlim[0]) / (layout.main[2] * figsize[0] * layout.dpi)
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

    # Île-de-France zoom, at its own scale (the main frame shows where it is).
    core = np.isin(codes[metro_index], IDF_CORE)
    zx, zy = fit(shapely.total_bounds(metro[core]), layout.idf, figsize, pad=0.25, top=0.08)
    window = shapely.box(zx[0], zy[0], zx[1], zy[1])
    near = shapely.intersects(metro, window)
    # Clip to the window: what lies outside would only weigh on the SVG.
    clipped = shapely.clip_by_rect(metro[near], *shapely.bounds(window.buffer(2_000)))
    in_zoom = (shapely.contains_xy(window, metro_xy[:, 0], metro_xy[:, 1])
               & np.isin(site_dep[metro_sites], IDF_CORE + IDF_NEIGHBOURS))
    main = Frame(
        name="carte-metropole", kind="main", title=None, crs=config.METRO_CRS,
        box=layout.main, xlim=xlim, ylim=ylim,
        units_per_inch=_units_per_inch(xlim, layout.main, figsize),
        departement_index=metro_index,
        departement_codes=tuple(str(c) for c in codes[metro_index]),
        departement_geometries=metro_simple, site_index=metro_sites, site_xy=metro_xy,
        # Sites of the zoom are labelled there, not on the main frame.
        labelled=~in_zoom,
        content=_bounds(metro_simple))
    zoom = Frame(
        name="zoom-ile-de-france", kind="zoom", title="Île-de-France", crs=config.METRO_CRS,
        box=layout.idf, xlim=zx, ylim=zy,
        units_per_inch=_units_per_inch(zx, layout.idf, figsize),
        departement_index=metro_index[near],
        departement_codes=tuple(str(c) for c in codes[metro_index][near]),
        departement_geometries=clipped, site_index=metro_sites[in_zoom],
        site_xy=metro_xy[in_zoom], labelled=np.ones(int(in_zoom.sum()), dtype=bool),
        content=(zx[0], zy[0], zx[1], zy[1]), extent_on_main=(zx[0], zy[0], zx[1], zy[1]))
    frames = [main, zoom]

    # Overseas insets, one projection each.
    for code, box in zip(overseas_codes, layout.overseas, strict=True):
        crs = config.OVERSEAS_CRS[code]
        here = np.flatnonzero(codes == code)
        projected = project(geoms[here], crs)
        sites_here = np.flatnonzero(site_dep == code)
        if len(projected):
            ox, oy = fit(shapely.total_bounds(projected), box, figsize, pad=0.06, top=0.2)
            content = _bounds(projected)
        else:  # the département is not in the data: an empty, named box
            ox, oy, content = (0.0, 1.0), (0.0, 1.0), None
        frames.append(Frame(
            name=f"encart-{code}", kind="inset", title=OVERSEAS_NAMES[code], crs=crs, box=box,
            xlim=ox, ylim=oy, units_per_inch=_units_per_inch(ox, box, figsize),
            departement_index=here, departement_codes=tuple(str(c) for c in codes[here]),
            departement_geometries=projected, site_index=sites_here,
            site_xy=project_points(lon[sites_here], lat[sites_here], crs),
            labelled=np.ones(len(sites_here), dtype=bool), content=content))

    result = MapFrames(layout.name, figsize[0], figsize[1], tuple(frames))
    return _map_only(result) if map_only else result


def _map_only(frames: MapFrames) -> MapFrames:
    """Return the same frames with boxes in fractions of their union (the map area)."""
    left, bottom, width, height = frames.area()

    def rebox(box: Box) -> Box:
        return ((box[0] - left) / width, (box[1] - bottom) / height, box[2] / width,
                box[3] / height)

    return MapFrames(frames.preset, frames.width_in * width, frames.height_in * height,
                     tuple(replace(f, box=rebox(f.box)) for f in frames.frames))
