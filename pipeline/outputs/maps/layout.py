"""Frames of the map: exact pixel sizes and hand-placed boxes for each output preset.

Every box is a rectangle ``(left, bottom, width, height)`` in figure fractions. Nothing is
computed by matplotlib's layout engines (``tight_layout``, ``bbox_inches="tight"``): the boxes
below are fixed by hand, so the render is fast and a preset always has its exact size.
Portrait frames put the legend under the map; landscape frames put it beside the map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

Box = tuple[float, float, float, float]

#: Overseas départements drawn as insets, in reading order, with their names on the map.
OVERSEAS_NAMES: Final[dict[str, str]] = {
    "971": "Guadeloupe",
    "972": "Martinique",
    "973": "Guyane",
    "974": "La Réunion",
    "976": "Mayotte",
}

#: Île-de-France zoom: the départements it frames, and the neighbours it also shows.
IDF_CORE: Final = ("75", "92", "93", "94")
IDF_NEIGHBOURS: Final = ("77", "78", "91", "95")


@dataclass(frozen=True)
class Preset:
    """One output frame: size, type sizes and where each part of the map goes.

    Parameters
    ----------
    name
        Preset name as given on the command line.
    width_px, height_px
        Exact size of the PNG in pixels (``figsize × dpi``).
    dpi
        Resolution of the PNG; sizes below are in points (1/72 inch).
    title, legend, label, source, inset
        Font sizes in points of the title, legend entries, point labels, source line and
        inset names.
    marker
        Marker size in points (width of the symbol).
    main
        Box of metropolitan France and Corsica.
    idf
        Box of the Île-de-France zoom.
    overseas
        One box per overseas département, in the order of :data:`OVERSEAS_NAMES`.
    legend_anchor
        Upper-left corner of the legend (figure fractions).
    legend_wrap
        Characters per line of the long legend entries.
    title_anchor
        Upper-left corner of the title.
    title_wrap
        Characters per line of the title.
    source_anchor
        Lower-left corner of the source line.
    source_wrap
        Characters per line of the source line.
    labels
        Whether point labels fit this frame at all (``labels="auto"`` in the renderer).
    """

    name: str
    width_px: int
    height_px: int
    dpi: int
    title: float
    legend: float
    label: float
    source: float
    inset: float
    marker: float
    main: Box
    idf: Box
    overseas: tuple[Box, Box, Box, Box, Box]
    legend_anchor: tuple[float, float]
    legend_wrap: int
    title_anchor: tuple[float, float]
    title_wrap: int
    source_anchor: tuple[float, float]
    source_wrap: int
    labels: bool = True

    @property
    def figsize(self) -> tuple[float, float]:
        """Figure size in inches; times ``dpi`` it gives the exact pixel size."""
        return self.width_px / self.dpi, self.height_px / self.dpi


def _row(left: float, bottom: float, width: float, height: float, n: int,
         gap: float) -> tuple[Box, ...]:
    """Split a box into ``n`` boxes side by side, separated by ``gap``."""
    w = (width - gap * (n - 1)) / n
    return tuple((left + i * (w + gap), bottom, w, height) for i in range(n))


def _column(left: float, bottom: float, width: float, height: float, n: int,
            gap: float) -> tuple[Box, ...]:
    """Split a box into ``n`` boxes stacked from top to bottom, separated by ``gap``."""
    h = (height - gap * (n - 1)) / n
    return tuple((left, bottom + (n - 1 - i) * (h + gap), width, h) for i in range(n))


def _five(boxes: tuple[Box, ...]) -> tuple[Box, Box, Box, Box, Box]:
    """Type-narrow a tuple of five boxes."""
    a, b, c, d, e = boxes
    return a, b, c, d, e


PRESETS: Final[dict[str, Preset]] = {
    # A4 portrait at 300 dpi: the map across the whole width (France is wider than tall, so
    # the width is what limits it), then the insets row over the legend, and the zoom.
    "a4": Preset(
        name="a4", width_px=2481, height_px=3508, dpi=300,
        title=15, legend=8.5, label=5.5, source=6.5, inset=7, marker=6,
        main=(0.02, 0.293, 0.96, 0.642),
        idf=(0.615, 0.035, 0.37, 0.245),
        overseas=_five(_row(0.015, 0.185, 0.58, 0.095, 5, 0.012)),
        legend_anchor=(0.015, 0.168), legend_wrap=84,
        title_anchor=(0.03, 0.985), title_wrap=62,
        source_anchor=(0.015, 0.01), source_wrap=150,
    ),
    # 16:9 slide: map on the left, insets and legend on the right.
    "slide": Preset(
        name="slide", width_px=1920, height_px=1080, dpi=160,
        title=15, legend=8.5, label=5, source=6, inset=6.5, marker=5.5,
        main=(0.01, 0.02, 0.53, 0.855),
        idf=(0.555, 0.06, 0.19, 0.50),
        overseas=_five(_row(0.555, 0.60, 0.43, 0.25, 5, 0.008)),
        legend_anchor=(0.76, 0.57), legend_wrap=35,
        title_anchor=(0.015, 0.975), title_wrap=84,
        source_anchor=(0.555, 0.012), source_wrap=95,
    ),
    # Social card (Open Graph, 1.91:1): no point labels, they would be unreadable.
    "social": Preset(
        name="social", width_px=1200, height_px=630, dpi=120,
        title=13, legend=7.5, label=4.5, source=5, inset=5.5, marker=5,
        main=(0.01, 0.03, 0.50, 0.82),
        idf=(0.52, 0.06, 0.19, 0.48),
        overseas=_five(_row(0.52, 0.58, 0.46, 0.25, 5, 0.008)),
        legend_anchor=(0.73, 0.555), legend_wrap=38,
        title_anchor=(0.015, 0.97), title_wrap=80,
        source_anchor=(0.52, 0.012), source_wrap=110,
        labels=False,
    ),
    # Square card: map on top, insets in a column on the right, legend below.
    "square": Preset(
        name="square", width_px=1080, height_px=1080, dpi=120,
        title=12, legend=7, label=4.5, source=5, inset=5.5, marker=5,
        main=(0.01, 0.27, 0.74, 0.62),
        idf=(0.52, 0.04, 0.46, 0.22),
        overseas=_five(_column(0.77, 0.27, 0.21, 0.62, 5, 0.01)),
        legend_anchor=(0.02, 0.255), legend_wrap=62,
        title_anchor=(0.02, 0.98), title_wrap=80,
        source_anchor=(0.02, 0.008), source_wrap=120,
        labels=False,
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
            f"unknown map preset {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None
