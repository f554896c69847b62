"""Presets of the map: exact pixel sizes, type sizes and hand-placed areas for each output.

Every box is a rectangle ``(left, bottom, width, height)`` in figure fractions. Nothing is
computed by matplotlib's layout engines (``tight_layout``, ``bbox_inches="tight"``): the areas
below are fixed by hand, so the render is fast and a preset always has its exact size; the
frames inside them (zooms, insets) are sized from the data by
:mod:`pipeline.outputs.maps.frames`. Each preset is laid out for where it is seen, with the
minimum text sizes of issue 11 (``tests/test_presets.py`` measures them on the SVG).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Box = tuple[float, float, float, float]

#: Overseas départements drawn as insets, in reading order, with their names on the map.
OVERSEAS_NAMES: Final[dict[str, str]] = {
    "971": "Guadeloupe",
    "972": "Martinique",
    "973": "Guyane",
    "974": "La Réunion",
    "976": "Mayotte",
}

#: Which texts a preset prints: the full ones (print) or the short ones (small formats).
TextsKind = Literal["full", "short"]


@dataclass(frozen=True)
class Preset:
    """One output frame: size, type sizes and where each part of the map goes.

    Boxes are ``(left, bottom, width, height)`` in figure fractions; anchors ``(x, y)``.
    The frames inside the boxes (zooms, insets) are sized by
    :func:`pipeline.outputs.maps.frames.map_frames`; the texts are wrapped to their widths.

    Parameters
    ----------
    name
        Preset name as given on the command line.
    width_px, height_px
        Exact size of the PNG in pixels (``figsize × dpi``).
    dpi
        Resolution of the PNG; sizes below are in points (1/72 inch).
    title, subtitle, legend, label, source, inset, note
        Font sizes in points of the title, subtitle, legend entries, point labels, source
        line, frame names (zooms, insets) and notes ("échelles différentes").
    marker
        Marker size in points (width of the symbol).
    main
        Box of metropolitan France and Corsica.
    zooms
        Area the zooms are placed in (each sized to its content): a box, ``"mer"`` for the
        Mediterranean between the Pyrenees and Corsica inside the main frame (near the
        south-east, where the annex's sites crowd), or None for no zoom.
    max_zooms
        How many zooms the area holds.
    overseas
        Area of the overseas insets (those with a site), split in equal boxes.
    overseas_column
        Stack the insets in a column (else side by side).
    strip
        Area of the compact strip of the overseas départements without a site; its note
        goes under it.
    strip_column
        Stack the strip in a column (else side by side).
    strip_shapes
        Draw the territories in the strip; without, only the note says there is no school
        overseas (small formats, where the shapes would be specks).
    title_anchor, title_width
        Upper-left corner and width of the title; the subtitle follows it.
    legend_anchor, legend_width
        Upper-left corner and width of the legend; it moves down below the overseas
        insets when they are in its way.
    source_anchor, source_width
        Lower-left corner and width of the source line.
    texts
        ``full`` texts (print) or the ``short`` ones of the small formats.
    labels
        Whether point labels fit this frame at all (``labels="auto"`` in the renderer).
    """

    name: str
    width_px: int
    height_px: int
    dpi: int
    title: float
    subtitle: float
    legend: float
    label: float
    source: float
    inset: float
    note: float
    marker: float
    main: Box
    zooms: Box | Literal["mer"] | None
    max_zooms: int
    overseas: Box
    overseas_column: bool
    strip: Box
    strip_column: bool
    strip_shapes: bool
    title_anchor: tuple[float, float]
    title_width: float
    legend_anchor: tuple[float, float]
    legend_width: float
    source_anchor: tuple[float, float]
    source_width: float
    texts: TextsKind = "full"
    labels: bool = True

    @property
    def figsize(self) -> tuple[float, float]:
        """Figure size in inches; times ``dpi`` it gives the exact pixel size."""
        return self.width_px / self.dpi, self.height_px / self.dpi

    def px(self, points: float) -> float:
        """Return ``points`` in output pixels."""
        return points * self.dpi / 72


def row(area: Box, n: int, gap: float) -> tuple[Box, ...]:
    """Split a box into ``n`` boxes side by side, separated by ``gap``."""
    left, bottom, width, height = area
    w = (width - gap * (n - 1)) / n
    return tuple((left + i * (w + gap), bottom, w, height) for i in range(n))


def column(area: Box, n: int, gap: float) -> tuple[Box, ...]:
    """Split a box into ``n`` boxes stacked from top to bottom, separated by ``gap``."""
    left, bottom, width, height = area
    h = (height - gap * (n - 1)) / n
    return tuple((left, bottom + (n - 1 - i) * (h + gap), width, h) for i in range(n))


# Minimum text sizes measured on the output (issue 11): A4 ≥ 6 pt, legend ≥ 8 pt; slide
# ≥ 20 px, legend ≥ 28 px; social and square ≥ 20 px, legend ≥ 24 px. At 160 dpi 20 px is
# 9 pt and 28 px 12.6 pt; at 120 dpi 20 px is 12 pt and 24 px 14.4 pt.
PRESETS: Final[dict[str, Preset]] = {
    # A4 portrait at 300 dpi: the map across the whole width (France is wider than tall, so
    # the width is what limits it), zooms in the Mediterranean; under it the legend, and the
    # overseas départements on the right.
    "a4": Preset(
        name="a4", width_px=2481, height_px=3508, dpi=300,
        title=15, subtitle=9, legend=9.5, label=6, source=6.5, inset=7, note=6.5, marker=6,
        main=(0.02, 0.29, 0.96, 0.625), zooms="mer", max_zooms=2,
        overseas=(0.625, 0.11, 0.36, 0.16), overseas_column=False,
        strip=(0.625, 0.215, 0.36, 0.055), strip_column=False, strip_shapes=True,
        title_anchor=(0.03, 0.985), title_width=0.94,
        legend_anchor=(0.015, 0.272), legend_width=0.59,
        source_anchor=(0.015, 0.01), source_width=0.97,
    ),
    # 16:9 slide (1920 × 1080): the map on the left at full height, the texts and the
    # overseas strip on the right; short legend, no point labels (unreadable from the back of
    # the room).
    "slide": Preset(
        name="slide", width_px=1920, height_px=1080, dpi=160,
        title=18, subtitle=11, legend=13, label=9, source=9, inset=10, note=9, marker=7,
        main=(0.005, 0.015, 0.52, 0.97), zooms="mer", max_zooms=1,
        overseas=(0.545, 0.14, 0.44, 0.15), overseas_column=False,
        strip=(0.545, 0.19, 0.44, 0.085), strip_column=False, strip_shapes=True,
        title_anchor=(0.545, 0.965), title_width=0.44,
        legend_anchor=(0.545, 0.7), legend_width=0.44,
        source_anchor=(0.545, 0.02), source_width=0.44,
        texts="short", labels=False,
    ),
    # Social card (Open Graph, 1200 × 630): the map as large as the height allows, the texts
    # on the right; no point labels, no overseas shapes (specks at this size), a note instead.
    "social": Preset(
        name="social", width_px=1200, height_px=630, dpi=120,
        title=18, subtitle=12, legend=14.5, label=12, source=12, inset=12, note=12, marker=6,
        main=(0.005, 0.015, 0.5, 0.97), zooms=None, max_zooms=0,
        overseas=(0.52, 0.2, 0.47, 0.14), overseas_column=False,
        strip=(0.52, 0.23, 0.47, 0.0), strip_column=False, strip_shapes=False,
        title_anchor=(0.52, 0.965), title_width=0.47,
        legend_anchor=(0.52, 0.66), legend_width=0.47,
        source_anchor=(0.52, 0.02), source_width=0.47,
        texts="short", labels=False,
    ),
    # Square card (1080 × 1080): title on top, the map at full width, the legend below with
    # the note and sources beside it; no point labels, no overseas shapes, a note instead.
    "square": Preset(
        name="square", width_px=1080, height_px=1080, dpi=120,
        title=18, subtitle=12, legend=14.5, label=12, source=12, inset=12, note=12, marker=6,
        main=(0.01, 0.255, 0.98, 0.655), zooms=None, max_zooms=0,
        overseas=(0.855, 0.3, 0.135, 0.58), overseas_column=True,
        strip=(0.63, 0.232, 0.36, 0.0), strip_column=False, strip_shapes=False,
        title_anchor=(0.02, 0.985), title_width=0.96,
        legend_anchor=(0.02, 0.235), legend_width=0.6,
        source_anchor=(0.63, 0.02), source_width=0.36,
        texts="short", labels=False,
    ),
}


def get_preset(name: str) -> Preset:
    """Return the preset called ``name``.

    Parameters
    ----------
    name
        One of :data:`PRESETS` (``a4``, ``slide``, ``social``, ``square``).

    Returns
    -------
    Preset
        The frame description.

    Raises
    ------
    KeyError
        If there is no such preset; the message lists the valid names.
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(
            f"cadre inconnu {name!r} ; choisissez parmi {', '.join(PRESETS)}"
        ) from None
