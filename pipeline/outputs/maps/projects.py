"""The list of the AMI projects, by région, as a printable A4 page (second page of the PDF).

:func:`draw_projects_pages` draws the :class:`~pipeline.outputs.maps.mapdata.ProjectRow` of a
:class:`~pipeline.outputs.maps.mapdata.MapData` as a table the press kit can use as is: for
each région, each project's place, school or project, trade and kind of support, with the
map's symbol of that support. :func:`print_pages` gives the map and this page, ready for
:func:`pipeline.outputs.maps.save.save_pdf`. Text stays text (selectable in the PDF).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.text import Text

from pipeline import config
from pipeline.french import french_date
from pipeline.outputs.maps.frames import marker_width
from pipeline.outputs.maps.layout import get_preset
from pipeline.outputs.maps.mapdata import MapData, ProjectRow
from pipeline.outputs.maps.render import (
    DEFAULT_FONT,
    SOURCE_COLOUR,
    TEXT_COLOUR,
    _check_font,
)
from pipeline.outputs.maps.typeset import wrap_text

#: A4 portrait, in inches (210 × 297 mm).
A4_INCHES: Final = (210 / 25.4, 297 / 25.4)
#: Names of the kinds of support, as the press release words them.
SUPPORT_NAMES: Final[dict[str, str]] = {
    "ingenierie": "Ingénierie",
    "investissement": "Investissement",
}
#: Columns: heading, left edge and width in fractions of the page.
_COLUMNS: Final = (
    ("Lieu", 0.06, 0.18),
    ("École ou projet", 0.25, 0.39),
    ("Métier", 0.65, 0.16),
    ("Soutien de l'AMI", 0.83, 0.13),
)
_BODY_PT: Final = 7.5
_HEADING_PT: Final = 8.5
_TITLE_PT: Final = 13.0
_LINE: Final = 1.2  # line height, in font sizes
#: Top and bottom margins, in points.
_TOP_PT: Final = 40.0
_BOTTOM_PT: Final = 40.0
#: Most projects listed in print: about five pages (the annex has 34). A longer list would
#: be a directory nobody prints, and PDF text costs about 1 ms a line (5,000 projects took
#: 26 s); beyond it, the page says how many there are and where the full list is.
MAX_PRINTED_PROJECTS: Final = 300


def projects_title(rows: Sequence[ProjectRow]) -> str:
    """Return the title of the list: "Les 34 projets soutenus par l'AMI …"."""
    return f"Les {len(rows)} projets soutenus par l'AMI Écoles de production"


def draw_projects_pages(data: MapData, *, font: str | None = None) -> list[Figure]:
    """Draw the AMI projects of ``data`` as A4 pages: by région, place, school, trade, support.

    The 34 projects of the annex fit on one page; more continue on further pages.

    Parameters
    ----------
    data
        From :func:`pipeline.outputs.maps.mapdata.map_data` (its ``projects``).
    font
        Font family name; default DejaVu Sans.

    Returns
    -------
    list of matplotlib.figure.Figure
        A4 pages (8.27 × 11.69 in) on Agg canvases; every text is a text. Empty when there
        is no project.
    """
    family = font or DEFAULT_FONT
    if font:
        _check_font(font)
    families = list(dict.fromkeys([family, DEFAULT_FONT]))
    with mpl.rc_context({"font.family": families, "text.color": TEXT_COLOUR}):
        return _pages(data.projects)


class _Page:
    """One page of the list being set, top to bottom, in points from the top edge."""

    def __init__(self) -> None:
        self.fig = Figure(figsize=A4_INCHES, dpi=72, facecolor="white")
        FigureCanvasAgg(self.fig)
        self.height = A4_INCHES[1] * 72
        self.width = A4_INCHES[0] * 72
        self.y = _TOP_PT

    def text(self, x: float, value: str, size: float, **kwargs: object) -> None:
        """Set ``value`` from the current line down, each line on its own baseline."""
        for k, line in enumerate(value.split("\n")):
            y = self.y + size * (0.93 + k * _LINE)
            self.fig.add_artist(Text(x, 1 - y / self.height, line, fontsize=size,
                                     va="baseline", ha="left", parse_math=False,
                                     transform=self.fig.transFigure,
                                     **kwargs))  # type: ignore[arg-type]

    def rule(self, width: float = 0.4, colour: str = "#9AA3AD") -> None:
        y = 1 - self.y / self.height
        self.fig.add_artist(Line2D([0.06, 0.96], [y, y], linewidth=width, color=colour,
                                   transform=self.fig.transFigure))

    def marker(self, x: float, category: str) -> None:
        style = config.CATEGORY_STYLE.get(category)
        if style is None:
            return
        size = marker_width(get_preset("a4"), category) * 0.85
        self.fig.add_artist(Line2D([x], [1 - (self.y + _BODY_PT * 0.5) / self.height],
                                   linestyle="none", marker=style["marker"], markersize=size,
                                   markerfacecolor=style["colour"], markeredgecolor="white",
                                   markeredgewidth=0.4, transform=self.fig.transFigure))

    def room(self) -> float:
        return self.height - _BOTTOM_PT - self.y


def _too_many(rows: Sequence[ProjectRow]) -> list[Figure]:
    """One page that says how many projects there are, and where to find them all."""
    page = _Page()
    title = wrap_text(projects_title(rows), FontProperties(size=_TITLE_PT, weight="bold"),
                      0.9 * page.width, 72)
    page.text(0.06, title, _TITLE_PT, fontweight="bold")
    page.y += (title.count("\n") + 1) * _TITLE_PT * _LINE + 6
    count = f"{len(rows):,}".replace(",", "\u202f")
    note = wrap_text(
        f"Avec {count} projets, la liste dépasse ce qu'une page imprimée peut montrer "
        f"(au plus {MAX_PRINTED_PROJECTS}). Elle est complète dans le tableau de données "
        "(ecoles.csv, une ligne par site, colonne « ami_2021 ») et dans le tableau de la page "
        "web de la carte.", FontProperties(size=_BODY_PT + 1.5), 0.9 * page.width, 72)
    page.text(0.06, note, _BODY_PT + 1.5)
    return [page.fig]


def _pages(rows: Sequence[ProjectRow]) -> list[Figure]:
    if not rows:
        return []
    if len(rows) > MAX_PRINTED_PROJECTS:
        return _too_many(rows)
    body = FontProperties(size=_BODY_PT)
    pages: list[_Page] = []

    def new_page(region: str | None) -> _Page:
        page = _Page()
        if not pages:
            title = wrap_text(projects_title(rows), FontProperties(size=_TITLE_PT,
                                                                     weight="bold"),
                              0.9 * page.width, 72)
            page.text(0.06, title, _TITLE_PT, fontweight="bold")
            page.y += (title.count("\n") + 1) * _TITLE_PT * _LINE + 4
            intro = wrap_text(
                f"Lauréats annoncés le {french_date(config.ANNEX_DATE)}, par région : le lieu "
                "de l'école, l'école ou le projet, son métier et le soutien reçu (symboles de "
                "la carte).", FontProperties(size=_BODY_PT + 0.5), 0.9 * page.width, 72)
            page.text(0.06, intro, _BODY_PT + 0.5, color=SOURCE_COLOUR)
            page.y += (intro.count("\n") + 1) * (_BODY_PT + 0.5) * _LINE + 6
        for heading, left, _ in _COLUMNS:
            page.text(left, heading, _BODY_PT, fontweight="bold")
        page.y += _BODY_PT * _LINE + 2
        page.rule(0.8, TEXT_COLOUR)
        page.y += 3
        if region is not None:  # a région continued from the previous page
            page.text(0.06, f"{region} (suite)", _HEADING_PT, fontweight="bold")
            page.y += _HEADING_PT * _LINE + 1
        pages.append(page)
        return page

    page = new_page(None)
    region = None
    for row in rows:
        cells = [row.place, row.name, row.trade, SUPPORT_NAMES.get(row.support, row.support)]
        wrapped = [wrap_text(value, body, width * page.width - 4, 72)
                   for value, (_, left, width) in zip(cells, _COLUMNS, strict=True)]
        lines = max(v.count("\n") + 1 for v in wrapped)
        height = lines * _BODY_PT * _LINE + 1.5
        heading = row.region != region
        if page.room() < height + (_HEADING_PT * _LINE + 4 if heading else 0):
            page = new_page(None if heading else region)
        if heading:
            region = row.region
            page.y += 2.5
            page.text(0.06, region or "Région inconnue", _HEADING_PT, fontweight="bold")
            page.y += _HEADING_PT * _LINE
        for value, (_, left, _) in zip(wrapped, _COLUMNS, strict=True):
            page.text(left, value, _BODY_PT)
        page.marker(0.82, row.support)
        page.y += height
        page.rule()
        page.y += 1.5
    note = ("Liste reconstituée d'après le communiqué de presse du 23 novembre 2021 et son "
            "annexe ; le lieu est celui de l'école, la catégorie d'aide est en partie "
            "déduite de sources publiques (registre ecoles-map, colonne « note »).")
    small = FontProperties(size=_BODY_PT - 0.5)
    wrapped_note = wrap_text(note, small, 0.9 * page.width, 72)
    if page.room() < (wrapped_note.count("\n") + 2) * _BODY_PT * _LINE:
        page = new_page(None)
    page.y += 6
    page.text(0.06, wrapped_note, _BODY_PT - 0.5, color=SOURCE_COLOUR)
    return [p.fig for p in pages]


def print_pages(map_figure: Figure, data: MapData, *, font: str | None = None) -> list[Figure]:
    """Return the pages of the print PDF: the A4 map, then the list of projects (if any).

    Parameters
    ----------
    map_figure
        The A4 map, as :func:`pipeline.outputs.maps.render.draw_map` draws it: the same
        figure that gives the PNG and the SVG.
    data
        The map's data, from :func:`pipeline.outputs.maps.mapdata.map_data`.
    font
        As for :func:`pipeline.outputs.maps.render.draw_map`.

    Returns
    -------
    list of Figure
        For :func:`pipeline.outputs.maps.save.save_pdf`.
    """
    return [map_figure, *draw_projects_pages(data, font=font)]
