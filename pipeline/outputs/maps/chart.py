"""The chart over time: schools open and départements covered by date, beside published counts.

:func:`plot_timeline` returns a :class:`~matplotlib.figure.Figure`; saving it is
:func:`pipeline.outputs.maps.save.save_chart`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import matplotlib as mpl
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter, YearLocator
from matplotlib.figure import Figure

from pipeline.config import ANNEX_DATE, BLUE_FRANCE, RED_MARIANNE, PublishedCount, published_counts
from pipeline.french import french_date

if TYPE_CHECKING:
    pass

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


def plot_timeline(counts: pd.DataFrame,
                  published: Sequence[PublishedCount] | None = None) -> Figure:
    """Draw the schools open and départements covered by date, beside the published counts.

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
        legend = fig.legend(loc="upper left", bbox_to_anchor=(0.76, 0.86), frameon=False,
                            fontsize=8)
        for text in legend.get_texts():
            text.set_parse_math(False)
        fig.text(0.76, 0.6, "Entre parenthèses : écart\ndu registre au chiffre publié\n"
                 "(négatif : écoles absentes\ndu registre).", fontsize=7.5, va="top",
                 color="#444444")
        fig.text(0.08, 0.04, f"Registre : 42 écoles du communiqué du {french_date(ANNEX_DATE)} "
                 "et ouvertures documentées depuis (data/raw/ouvertures.csv). Chiffres publiés :"
                 " ministère, Fondation TotalEnergies, FNEP, presse.", fontsize=6.5,
                 color="#444444", wrap=True, gid="sources")
    return fig
