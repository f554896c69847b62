"""The chart over time: schools open and départements covered by date, and the published counts.

:func:`plot_timeline` returns a :class:`~matplotlib.figure.Figure`; saving it is
:func:`pipeline.outputs.maps.save.save_chart`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

import matplotlib as mpl
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter, YearLocator
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from pipeline.config import ANNEX_DATE, BLUE_FRANCE, PublishedCount, published_counts
from pipeline.french import french_date, join_french
from pipeline.outputs.maps.typeset import wrap_text

log = logging.getLogger(__name__)

GIF_NAME: Final = "ecoles-de-production-historique.gif"
CHART_STEM: Final = "ecoles-de-production-evolution"
RECONCILIATION_NAME: Final = "rapprochement-historique.md"
#: Départements covered: the blue-grey of the covered fill, dark enough for a line.
DEPARTEMENTS_COLOUR: Final = "#4F5D75"
#: Published counts: a black cross, a symbol the maps never use.
PUBLISHED_COLOUR: Final = "#1E1E1E"
_SVG_SALT: Final = "ecoles-map-evolution"


def chart_sources(published: Sequence[PublishedCount]) -> str:
    """Return the chart's source line, in words: what the registry is, who published what."""
    outlets = join_french(list(dict.fromkeys(p.source for p in published)))
    return (f"Sources : registre ecoles-map (les 42 écoles du communiqué de presse du "
            f"{french_date(ANNEX_DATE)} et les ouvertures documentées depuis par la presse et "
            f"les écoles) ; chiffres publiés : {outlets}. Graphique produit avec le logiciel "
            "libre ecoles-map.")


def plot_timeline(counts: pd.DataFrame,
                  published: Sequence[PublishedCount] | None = None) -> Figure:
    """Draw the schools open and the départements covered by date, with the published counts.

    Two panels share the time axis, each with its own labelled unit: schools above
    (registry as a step line, published sizes as crosses, not joined: nothing was
    published in between), départements covered below.

    Parameters
    ----------
    counts
        From :func:`counts_over_time`.
    published
        Published sizes of the network (default :func:`pipeline.config.published_counts`
        from the annex on), drawn as labelled points.

    Returns
    -------
    matplotlib.figure.Figure
        A 1200 × 750 px chart on an Agg canvas; save it with :func:`save_chart`.
    """
    if published is None:
        published = [p for p in published_counts() if p.date >= ANNEX_DATE]
    with mpl.rc_context({"font.family": "DejaVu Sans", "axes.spines.top": False,
                         "axes.spines.right": False}):
        fig = Figure(figsize=(8, 5), dpi=150, facecolor="white")
        FigureCanvasAgg(fig)
        schools = fig.add_axes((0.09, 0.42, 0.84, 0.36))
        deps = fig.add_axes((0.09, 0.21, 0.84, 0.15), sharex=schools)
        dates = counts["date"].dt.to_pydatetime()
        schools.step(dates, counts["ecoles_ouvertes"], where="post", color=BLUE_FRANCE,
                     linewidth=2, label="Écoles ouvertes (registre)", gid="ecoles-registre")
        pub_x = pd.to_datetime([p.date for p in published]).to_pydatetime()
        pub_y = [p.ecoles for p in published]
        schools.plot(pub_x, pub_y, linestyle="none", color=PUBLISHED_COLOUR, marker="x",
                     markersize=6, markeredgewidth=1.6, label="Écoles selon le réseau "
                     "(chiffres publiés)", gid="ecoles-publiees")
        for x, p in zip(pub_x, published, strict=True):
            registry_then = int(counts.loc[counts["date"] <= pd.Timestamp(p.date),
                                           "ecoles_ouvertes"].iloc[-1])
            gap = registry_then - p.ecoles
            schools.annotate(f"{p.ecoles}" + (f" ({gap:+d})" if gap else ""), (x, p.ecoles),
                             xytext=(-4, 6), textcoords="offset points", ha="right",
                             fontsize=7.5, color=PUBLISHED_COLOUR, parse_math=False)
        deps.step(dates, counts["departements_couverts"], where="post",
                  color=DEPARTEMENTS_COLOUR, linewidth=2, label="Départements couverts "
                  "(registre)", gid="departements")
        last = counts.iloc[-1]
        for ax, column, colour in ((schools, "ecoles_ouvertes", BLUE_FRANCE),
                                   (deps, "departements_couverts", DEPARTEMENTS_COLOUR)):
            ax.annotate(str(int(last[column])), (last["date"].to_pydatetime(), last[column]),
                        xytext=(4, 0), textcoords="offset points", va="center", fontsize=8,
                        color=colour, fontweight="bold")
            ax.grid(axis="y", color="#DDDDDD", linewidth=0.6)
            ax.set_axisbelow(True)
            ax.tick_params(labelsize=8)
        schools.set_ylim(0, max(max(pub_y, default=0),
                                int(counts["ecoles_ouvertes"].max())) * 1.18)
        deps.set_ylim(0, int(counts["departements_couverts"].max()) * 1.25)
        schools.set_ylabel("écoles", fontsize=8.5)
        deps.set_ylabel("départements", fontsize=8.5)
        schools.tick_params(labelbottom=False)
        deps.xaxis.set_major_locator(YearLocator())
        deps.xaxis.set_major_formatter(DateFormatter("%Y"))
        fig.text(0.09, 0.96, "Écoles de production depuis l'AMI : registre et chiffres publiés",
                 fontsize=11, fontweight="bold", va="top", gid="titre", parse_math=False)
        legend = fig.legend(handles=[*schools.get_lines()[:2], *deps.get_lines()[:1]],
                            loc="upper left", bbox_to_anchor=(0.08, 0.905), frameon=False,
                            fontsize=8, ncols=3, columnspacing=1.5, handlelength=1.6)
        for text in legend.get_texts():
            text.set_parse_math(False)
        fig.text(0.09, 0.835, "Entre parenthèses : écart du registre au chiffre publié "
                 "(négatif : écoles absentes du registre).", fontsize=7.5, va="top",
                 color="#444444", parse_math=False)
        width = 0.84 * fig.bbox.width
        fig.text(0.09, 0.115, wrap_text(chart_sources(published), FontProperties(size=6.5),
                                        width, fig.dpi),
                 fontsize=6.5, color="#444444", va="top", gid="sources", parse_math=False,
                 linespacing=1.3)
    return fig
