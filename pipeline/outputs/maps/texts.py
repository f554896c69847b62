"""Every text a map carries: titles, legends, source lines and alternative texts, annex and dated.

Built from the data (counts are computed, never typed), in French, so that the PNG, the SVG,
the alternative text and the press page say the same thing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from pipeline import config
from pipeline.config import ANNEX_DATE, latest_published
from pipeline.french import french_date
from pipeline.schema import (
    ANNOUNCED,
    CATEGORY_ANNOUNCED,
    CATEGORY_CLOSED,
    CATEGORY_OPEN,
    CATEGORY_OPENED_SINCE,
    COVERED_BEFORE,
    COVERED_SINCE,
)

if TYPE_CHECKING:
    import pandas as pd

_SHAPE_NAMES: Final[dict[str, str]] = {"o": "cercles", "^": "triangles", "s": "carrés"}

#: Short French names of the site categories, for the tables, the tooltips and the names of
#: the sites on the press page (annex categories, then those of the dated maps).
CATEGORY_NAMES: Final[dict[str, str]] = {
    "existante": "école existante",
    "ingenierie": "lauréat AMI ingénierie",
    "investissement": "lauréat AMI investissement",
    "autre": "autre",
    CATEGORY_OPEN: "école ouverte au 23 novembre 2021",
    CATEGORY_OPENED_SINCE: "école ouverte depuis le 23 novembre 2021",
    CATEGORY_ANNOUNCED: "lauréat AMI annoncé, pas encore ouvert",
    CATEGORY_CLOSED: "école fermée",
}


def _counts(sites: pd.DataFrame, departements: pd.DataFrame) -> dict[str, int]:
    """Figures of the legend, computed from the data."""
    categorie = sites["categorie"].astype(str)
    if "existante_2021" in sites.columns:
        existing = int(sites["existante_2021"].fillna(False).astype(bool).sum())
    else:
        existing = int((categorie == "existante").sum())
    return {
        "existante": existing,
        "ingenierie": int((categorie == "ingenierie").sum()),
        "investissement": int((categorie == "investissement").sum()),
        "nouvellement_couverts": int((departements["statut"] == config.STATUS_NEW).sum()),
        "deja_couverts": int((departements["statut"] == config.STATUS_COVERED).sum()),
    }


def edition_label(departements: pd.DataFrame) -> str:
    """Edition of the boundaries, from the frame's provenance or the sources registry."""
    attrs = getattr(departements, "attrs", {}) or {}
    edition = attrs.get("edition")
    if not edition:
        try:
            edition = config.sources()["products"]["departements_gpkg"]["edition"]
        except (OSError, ValueError, KeyError, TypeError):
            edition = "édition inconnue"
    # "COG 2024" reads "ADMIN EXPRESS COG (2024)" on the map.
    return re.sub(r"^COG\s+", "", str(edition))


def default_title(sites: pd.DataFrame) -> str:
    """Title of the annex, with the number of supported projects taken from the data."""
    categorie = sites["categorie"].astype(str)
    n = int(categorie.isin(["ingenierie", "investissement"]).sum())
    return (f"{n} projets soutenus par l'AMI Écoles de production pour accélérer le "
            "déploiement des écoles sur tout le territoire")


def default_source_line(departements: pd.DataFrame) -> str:
    """Source line of the map, with the boundaries' edition."""
    return ("Sources : dossier de presse du 23 novembre 2021 ; FNEP ; IGN – ADMIN EXPRESS COG "
            f"({edition_label(departements)}) ; INSEE COG. Réalisation : ecoles-map.")


def legend_entries(sites: pd.DataFrame,
                   departements: pd.DataFrame) -> list[tuple[str, str]]:
    """Return the legend of the annex: ``(key, text)`` pairs with counts (texts unwrapped).

    The four entries of the 2021 annex, then the already covered départements, so that
    every colour of the map is in the legend (the uncovered ones are the plain background).

    Keys are those of :data:`pipeline.config.CATEGORY_STYLE` (drawn as that marker) and
    :data:`pipeline.config.STATUS_STYLE` (drawn as that fill), as ``legend=`` of
    :func:`plot_coverage` takes them.
    """
    n = _counts(sites, departements)
    return [
        ("existante", f"Écoles de production existantes ({n['existante']})"),
        ("ingenierie", f"{n['ingenierie']} nouveaux lauréats de l'AMI en ingénierie"),
        ("investissement",
         f"{n['investissement']} écoles de production soutenues par l'État en subvention aux "
         "investissements (fonds d'accélération des investissements industriels dans les "
         "territoires) et par la Banque des Territoires"),
        (config.STATUS_NEW,
         "Département nouvellement couvert par une école de production suite à l'AMI "
         f"({n['nouvellement_couverts']})"),
        (config.STATUS_COVERED,
         f"Département déjà couvert par une école de production ({n['deja_couverts']})"),
    ]


def alt_text(sites: pd.DataFrame, departements: pd.DataFrame) -> str:
    """Short French description of the map for screen readers, built from the data.

    Parameters
    ----------
    sites
        Sites with ``categorie`` (see :func:`plot_coverage`).
    departements
        Départements with ``nom`` and ``statut``.

    Returns
    -------
    str
        A paragraph ending with a newline.
    """
    n = _counts(sites, departements)
    shape = {k: _SHAPE_NAMES.get(v["marker"], "symboles")
             for k, v in config.CATEGORY_STYLE.items()}
    new = departements.loc[departements["statut"] == config.STATUS_NEW]
    names = sorted(new["nom"].astype(str), key=str.casefold)
    listed = (", ".join(names[:-1]) + " et " + names[-1]) if len(names) > 1 else "".join(names)
    text = (
        f"Carte de France des écoles de production en novembre 2021. "
        f"{n['existante']} écoles de production existantes ({shape['existante']}), "
        f"{n['ingenierie']} nouveaux lauréats de l'AMI en ingénierie ({shape['ingenierie']}) "
        f"et {n['investissement']} écoles soutenues en subvention aux investissements "
        f"({shape['investissement']}). "
    )
    if names:
        text += (f"{n['nouvellement_couverts']} départements sont nouvellement couverts par "
                 f"une école de production grâce à l'AMI : {listed}. ")
    else:
        text += "Aucun département n'est nouvellement couvert grâce à l'AMI. "
    text += ("Encarts : Guadeloupe, Martinique, Guyane, La Réunion, Mayotte, et zoom sur "
             "l'Île-de-France.")
    return text + "\n"


# --- Dated maps ---------------------------------------------------------------------
def dated_title(day: dt.date, counts: Mapping[str, int]) -> str:
    """Return the title of the map of ``day``, with the registry's and the published count.

    Parameters
    ----------
    day
        The date of the map.
    counts
        From :func:`dated_counts`.

    Returns
    -------
    str
        E.g. "Écoles de production au 31 décembre 2025 : 64 dans le registre ; 77 selon le
        réseau (10 novembre 2025)"; without the published part before the first published
        count.
    """
    title = f"Écoles de production au {french_date(day)}"
    published = latest_published(day)
    if published is None:
        return title
    return (f"{title} : {counts['ecoles_ouvertes']} dans le registre ; {published.ecoles} "
            f"selon le réseau ({published.libelle})")


def dated_legend(counts: Mapping[str, int]) -> list[tuple[str, str]]:
    """Return the legend of a dated map: ``(key, text)`` pairs with counts of that date.

    Parameters
    ----------
    counts
        From :func:`dated_counts`.

    Returns
    -------
    list of (str, str)
        Site categories (keys of ``CATEGORY_STYLE``), then département statuses (keys of
        ``STATUS_STYLE``), as ``plot_coverage(legend=...)`` takes them.
    """
    annex = french_date(ANNEX_DATE)
    return [
        (CATEGORY_OPEN, f"Écoles ouvertes au {annex} ({counts['ouvertes_avant_annexe']})"),
        (CATEGORY_OPENED_SINCE,
         f"Écoles ouvertes depuis le {annex} ({counts['ouvertes_depuis_annexe']})"),
        (CATEGORY_ANNOUNCED,
         f"Lauréats de l'AMI annoncés, pas encore ouverts ({counts['laureats_annonces']})"),
        (COVERED_BEFORE, f"Département couvert avant l'AMI ({counts[COVERED_BEFORE]})"),
        (COVERED_SINCE, f"Département couvert depuis l'AMI ({counts[COVERED_SINCE]})"),
        (ANNOUNCED, f"Département avec un lauréat annoncé seulement ({counts[ANNOUNCED]})"),
    ]


def dated_alt_text(day: dt.date, counts: Mapping[str, int]) -> str:
    """Return a French description of the map of ``day`` for screen readers.

    Parameters
    ----------
    day
        The date of the map.
    counts
        From :func:`dated_counts`.

    Returns
    -------
    str
        A paragraph ending with a newline.
    """
    text = (f"Carte de France des écoles de production au {french_date(day)}. "
            f"{counts['ecoles_ouvertes']} écoles ouvertes dans le registre, dont "
            f"{counts['ouvertes_depuis_annexe']} depuis le {french_date(ANNEX_DATE)} "
            f"(carrés) ; {counts['laureats_annonces']} lauréats de l'AMI annoncés mais pas "
            f"encore ouverts (triangles). {counts[COVERED_BEFORE] + counts[COVERED_SINCE]} "
            f"départements couverts, dont {counts[COVERED_SINCE]} depuis l'AMI ; "
            f"{counts[ANNOUNCED]} avec un lauréat annoncé seulement.")
    published = latest_published(day)
    if published is not None:
        text += (f" Le réseau annonçait {published.ecoles} écoles le {published.libelle}.")
    return text + "\n"


# --- The press page ---------------------------------------------------------------------
def page_note(day: dt.date | None = None) -> str:
    """Return the note that says how the map was made, for the press page.

    Parameters
    ----------
    day
        The date of a dated map; None for the 2021 annex.

    Returns
    -------
    str
        One paragraph, in French, without a final newline.
    """
    where = ("Chaque site est placé sur sa commune ; la colonne « Confiance » du tableau dit "
             "à quel point chaque ligne est établie.")
    if day is None or day == ANNEX_DATE:
        return ("Carte reconstituée : elle reprend le contenu de l'annexe du communiqué de "
                "presse du 23 novembre 2021 à partir d'un registre public des écoles dont "
                f"chaque ligne cite ses sources. {where}")
    return (f"Carte reconstituée : elle montre les écoles de production au {french_date(day)} "
            "selon un registre public dont chaque ligne cite ses sources (l'annexe du "
            "communiqué du 23 novembre 2021, puis les ouvertures documentées depuis). Le "
            f"réseau peut compter des écoles que le registre n'a pas pu identifier. {where}")
