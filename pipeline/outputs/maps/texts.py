"""Every text a map carries: titles, legends, source lines and alternative texts, annex and dated.

Built from the data (counts are computed, never typed), in French, so that the PNG, the SVG,
the alternative text and the press page say the same thing.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from pipeline import config
from pipeline.config import ANNEX_DATE, nearest_published
from pipeline.french import french_date, join_french
from pipeline.provenance import Provenance
from pipeline.schema import (
    ANNOUNCED,
    CATEGORY_ANNOUNCED,
    CATEGORY_CLOSED,
    CATEGORY_OPEN,
    CATEGORY_OPENED_SINCE,
    COVERED_BEFORE,
    COVERED_SINCE,
    OVERSEAS_CODES,
)

if TYPE_CHECKING:
    import pandas as pd

_SHAPE_NAMES: Final[dict[str, str]] = {"o": "cercles", "^": "triangles", "s": "carrés",
                                        "D": "losanges"}
_SHAPE_NAME: Final[dict[str, str]] = {"o": "cercle", "^": "triangle", "s": "carré",
                                      "D": "losange"}

#: What the map says it is, and who made it: a reconstruction, not the annex itself, drawn with
#: a tool (the tool is not the author).
RECONSTRUCTION: Final = ("Carte reconstituée d'après l'annexe du communiqué de presse du "
                         "23 novembre 2021 ; emplacements et catégories d'aide en partie "
                         "déduits de sources publiques.")
RECONSTRUCTION_SHORT: Final = "Reconstitution de l'annexe du communiqué du 23 novembre 2021."
CREDIT: Final = "Carte produite avec le logiciel libre ecoles-map."
#: Notes of the overseas strip and the insets (see :mod:`pipeline.outputs.maps.frames`).
NO_OVERSEAS_SITE: Final = "Aucune école en outre-mer à cette date"
SCALES_DIFFER: Final = "Échelles différentes"


@dataclass(frozen=True)
class MapTexts:
    """The texts of one map in one length: title, subtitle, legend, source line.

    Attributes
    ----------
    title, subtitle, source_line
        Unwrapped texts (``subtitle`` may be empty).
    legend
        ``(key, text)`` pairs, keys of :data:`pipeline.config.CATEGORY_STYLE` or
        :data:`pipeline.config.STATUS_STYLE`.
    """

    title: str
    subtitle: str
    legend: tuple[tuple[str, str], ...]
    source_line: str

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
    laureate = categorie.isin(["ingenierie", "investissement"])
    if "existante_2021" in sites.columns:
        existing_flag = sites["existante_2021"].fillna(False).astype(bool)
    else:
        existing_flag = categorie == "existante"
    return {
        "existante": int(existing_flag.sum()),
        # Existing schools that are also laureates are drawn with their laureate symbol.
        "existante_laureate": int((existing_flag & laureate).sum()),
        "ingenierie": int((categorie == "ingenierie").sum()),
        "ingenierie_existante": int((existing_flag & (categorie == "ingenierie")).sum()),
        "investissement": int((categorie == "investissement").sum()),
        "investissement_existante": int(
            (existing_flag & (categorie == "investissement")).sum()),
        "nouvellement_couverts": int((departements["statut"] == config.STATUS_NEW).sum()),
        "deja_couverts": int((departements["statut"] == config.STATUS_COVERED).sum()),
    }


def edition_label(provenance: Provenance | None) -> str:
    """Edition of the boundaries as the map prints it ("2024" for "COG 2024")."""
    edition = provenance.edition if provenance is not None else ""
    if not edition:
        try:
            edition = config.sources()["products"]["departements_gpkg"]["edition"]
        except (OSError, ValueError, KeyError, TypeError):
            edition = "édition inconnue"
    return re.sub(r"^COG\s+", "", str(edition))


def boundaries_credit(provenance: Provenance | None) -> str:
    """Credit of the départements on the source line, from their provenance.

    The embedded boundaries (edition "COG 2024") read "IGN – ADMIN EXPRESS COG (2024)";
    IGN's own layers their attribution ("IGN – ADMIN EXPRESS COG CARTO 2021"); a user's
    file its name.
    """
    if provenance is None or provenance.edition.startswith("COG "):
        return f"IGN – ADMIN EXPRESS COG ({edition_label(provenance)})"
    return provenance.source


def default_title(sites: pd.DataFrame) -> str:
    """Title of the annex, with the number of supported projects taken from the data."""
    return (f"{_projects(sites)} projets soutenus par l'AMI Écoles de production pour "
            "accélérer le déploiement des écoles sur tout le territoire")


def _projects(sites: pd.DataFrame) -> int:
    return int(sites["categorie"].astype(str).isin(["ingenierie", "investissement"]).sum())


def default_subtitle() -> str:
    """Subtitle of the annex: the date the laureates were announced."""
    return f"Lauréats de l'appel à manifestation d'intérêt annoncés le {french_date(ANNEX_DATE)}"


def _data_sources(provenance: Provenance | None) -> str:
    return f"FNEP ; {boundaries_credit(provenance)} ; INSEE COG"


def default_source_line(provenance: Provenance | None) -> str:
    """Source line of the annex map: a reconstruction, its sources, the boundaries' credit."""
    return (f"{RECONSTRUCTION} Sources : dossier de presse du 23 novembre 2021 ; "
            f"{_data_sources(provenance)}. {CREDIT}")


def short_source_line(provenance: Provenance | None) -> str:
    """Source line of the small formats (social card, square): reconstruction and sources."""
    return f"{RECONSTRUCTION_SHORT} Sources : {_data_sources(provenance)}."


def legend_entries(sites: pd.DataFrame,
                   departements: pd.DataFrame) -> list[tuple[str, str]]:
    """Return the legend of the annex: ``(key, text)`` pairs with counts (texts unwrapped).

    The four entries of the 2021 annex, then the already covered départements, so that
    every colour of the map is in the legend (the uncovered ones are the plain background).
    A school both existing and laureate is drawn once, with its laureate symbol: the entries
    say so, so that the reader can count what is drawn.

    Keys are those of :data:`pipeline.config.CATEGORY_STYLE` (drawn as that marker) and
    :data:`pipeline.config.STATUS_STYLE` (drawn as that fill), as ``legend=`` of
    :func:`plot_coverage` takes them.
    """
    n = _counts(sites, departements)
    existing = f"Écoles de production existantes ({n['existante']}"
    if n["existante_laureate"]:
        existing += (f", dont {n['existante_laureate']} aussi lauréates de l'AMI, figurées "
                     "par le symbole de leur aide)")
    else:
        existing += ")"
    engineering = f"{n['ingenierie']} nouveaux lauréats de l'AMI en ingénierie"
    if n["ingenierie_existante"]:
        engineering += f", dont {n['ingenierie_existante']} écoles déjà existantes"
    investment = (f"{n['investissement']} écoles de production soutenues par l'État en "
                  "subvention aux investissements (fonds d'accélération des investissements "
                  "industriels dans les territoires) et par la Banque des Territoires")
    if n["investissement_existante"]:
        investment += f", dont {n['investissement_existante']} déjà existantes"
    return [
        ("existante", existing),
        ("ingenierie", engineering),
        ("investissement", investment),
        (config.STATUS_NEW,
         "Département nouvellement couvert par une école de production suite à l'AMI "
         f"({n['nouvellement_couverts']})"),
        (config.STATUS_COVERED,
         f"Département déjà couvert par une école de production ({n['deja_couverts']})"),
    ]


def short_legend_entries(sites: pd.DataFrame,
                         departements: pd.DataFrame) -> list[tuple[str, str]]:
    """Return the legend of the small formats: one short line per entry, counts first.

    Parameters
    ----------
    sites, departements
        As for :func:`legend_entries`.

    Returns
    -------
    list of (str, str)
        The keys of :func:`legend_entries`, in its order.
    """
    n = _counts(sites, departements)
    existing = f"{n['existante']} écoles existantes"
    if n["existante_laureate"]:
        existing += f", dont {n['existante_laureate']} lauréates"
    return [
        ("existante", existing),
        ("ingenierie", f"{n['ingenierie']} lauréats AMI en ingénierie"),
        ("investissement", f"{n['investissement']} lauréats AMI en investissement"),
        (config.STATUS_NEW, f"{n['nouvellement_couverts']} départements nouvellement couverts"),
        (config.STATUS_COVERED, f"{n['deja_couverts']} départements déjà couverts"),
    ]


def short_texts(sites: pd.DataFrame, departements: pd.DataFrame,
                provenance: Provenance | None = None) -> MapTexts:
    """Return the annex's texts for the small formats (social card, square).

    Parameters
    ----------
    sites, departements
        As for :func:`legend_entries`.
    provenance
        Where the départements came from, credited on the source line.

    Returns
    -------
    MapTexts
        A title of one line, the subtitle, :func:`short_legend_entries`,
        :func:`short_source_line`.
    """
    return MapTexts(f"{_projects(sites)} projets soutenus par l'AMI Écoles de production",
                    default_subtitle(), tuple(short_legend_entries(sites, departements)),
                    short_source_line(provenance))


# --- Labels --------------------------------------------------------------------------------
_ARRONDISSEMENT: Final = re.compile(r"\s+\d+(?:er|e)\s+Arrondissement\s*$", re.IGNORECASE)
#: How alike a label's first words and the commune must be to count as the same name
#: spelt differently ("Châteaubriand" on the annex for Châteaubriant).
_SAME_NAME_RATIO: Final = 0.85


def place_name(commune: str) -> str:
    """Return the name of a commune as a place on the map: "Lyon" for "Lyon 9e Arrondissement"."""
    return " ".join(_ARRONDISSEMENT.sub("", str(commune)).split())


@functools.lru_cache(maxsize=4096)
def _fold(text: str) -> str:
    """Lower case, no accents, hyphens and apostrophes as spaces: for comparing names."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[-'’]", " ", plain).split())


def site_label(label: str, place: str) -> str:
    """Return a map label that names its place: "Besançon – EPB Usinage".

    A label that already names the place is kept; one whose first words are the place spelt
    differently (the annex's "Châteaubriand Bois" for Châteaubriant) gets the commune's
    spelling; any other (a school's name, a nearby town) is preceded by the place.

    Parameters
    ----------
    label
        The label of the data ("place or school + trade"), e.g. "EPB Usinage".
    place
        Where the site is: its commune, arrondissement left out (:func:`place_name`).

    Returns
    -------
    str
        The label to print; ``label`` itself when ``place`` is empty.
    """
    label = " ".join(str(label).split())
    place = place_name(place)
    if not place or not label:
        return label or place
    folded_place, folded_label = _fold(place), _fold(label)
    # Folded names are words joined by single spaces: the place as whole words of the label.
    if f" {folded_place} " in f" {folded_label} ":
        return label
    words = label.split(" ")
    for n in range(1, len(words) + 1):
        head = " ".join(words[:n])
        if abs(len(head) - len(place)) > 2:
            continue
        folded_head = _fold(head)
        if (folded_head[:1] == folded_place[:1] and difflib.SequenceMatcher(
                None, folded_head, folded_place).ratio() >= _SAME_NAME_RATIO):
            return " ".join([place, *words[n:]])
    return f"{place} – {label}"


def annex_label(libelle: object, commune: object, metier: object) -> str:
    """Return the label as the 2021 annex printed it: its own words, then the trades.

    Parameters
    ----------
    libelle
        ``libelle_annexe`` of the registry (the annex's verbatim text), or a missing value.
    commune
        The site's commune, used when the annex label is missing.
    metier
        Trades separated by ``;``, or a missing value.

    Returns
    -------
    str
        E.g. "Châteaubriand Bois", "EPB Usinage".
    """
    name = libelle if isinstance(libelle, str) and libelle.strip() else place_name(str(commune))
    text = metier if isinstance(metier, str) else ""
    trade = join_french([t.strip() for t in text.split(";") if t.strip()])
    name = " ".join(str(name).split())
    return f"{name} {trade[0].upper()}{trade[1:]}" if trade else name


def alt_text(sites: pd.DataFrame, departements: pd.DataFrame, *, preset: str = "a4",
             zooms: Sequence[str] = (), overseas_sites: bool | None = None) -> str:
    """Return a French description of the map for screen readers, sized for where it is used.

    Parameters
    ----------
    sites
        Sites with ``categorie`` (see :func:`plot_coverage`).
    departements
        Départements with ``nom`` and ``statut``.
    preset
        ``a4`` (print, PDF: the full description), ``slide`` (the same without the list of
        départements), ``social`` or ``square`` (one sentence, for a post).
    zooms
        Names of the zooms of the map (e.g. ``["Lyon"]``), as
        :func:`pipeline.outputs.maps.frames.zoom_names` finds them for the preset.
    overseas_sites
        Whether a site is overseas; None works it out from ``departement``.

    Returns
    -------
    str
        A paragraph ending with a newline.
    """
    n = _counts(sites, departements)
    new = departements.loc[departements["statut"] == config.STATUS_NEW]
    names = sorted(new["nom"].astype(str), key=str.casefold)
    if preset in ("social", "square"):
        return (f"Carte de France : {n['existante']} écoles de production existantes et "
                f"{_projects(sites)} projets soutenus par l'AMI en novembre 2021 "
                f"({n['ingenierie']} en ingénierie, {n['investissement']} en "
                f"investissement) ; {n['nouvellement_couverts']} départements nouvellement "
                "couverts.\n")
    shape = {k: _SHAPE_NAMES.get(v["marker"], "symboles")
             for k, v in config.CATEGORY_STYLE.items()}
    text = (f"Carte de France des écoles de production en novembre 2021, reconstituée "
            f"d'après l'annexe du communiqué de presse. {n['existante']} écoles de production "
            "existantes")
    if n["existante_laureate"]:
        text += (f", dont {n['existante_laureate']} aussi lauréates de l'AMI, dessinées avec "
                 f"le symbole de leur aide ; les {n['existante'] - n['existante_laureate']} "
                 f"autres en {shape['existante']}")
    else:
        text += f" ({shape['existante']})"
    text += (f". {n['ingenierie']} nouveaux lauréats de l'AMI en ingénierie "
             f"({shape['ingenierie']}) et {n['investissement']} écoles soutenues en subvention "
             f"aux investissements ({shape['investissement']}). ")
    if preset == "a4" and names:
        text += (f"{n['nouvellement_couverts']} départements sont nouvellement couverts par "
                 f"une école de production grâce à l'AMI (en orange) : {join_french(names)}. ")
    elif names:
        text += (f"{n['nouvellement_couverts']} départements sont nouvellement couverts par "
                 "une école de production grâce à l'AMI (en orange). ")
    else:
        text += "Aucun département n'est nouvellement couvert grâce à l'AMI. "
    if zooms:
        text += f"Zoom sur {join_french(list(zooms))}. "
    if overseas_sites is None:
        overseas_sites = bool(sites["departement"].astype(str).isin(OVERSEAS_CODES).any())
    text += ("Encarts : Guadeloupe, Martinique, Guyane, La Réunion et Mayotte."
             if overseas_sites else "Aucune école en outre-mer à cette date.")
    return text + "\n"


# --- Dated maps ---------------------------------------------------------------------
def dated_title(day: dt.date, counts: Mapping[str, int] | None = None) -> str:
    """Return the title of the map of ``day``: "Écoles de production au 31 décembre 2024".

    Parameters
    ----------
    day
        The date of the map.
    counts
        Unused (the figures go in :func:`dated_subtitle`); kept for callers that pass them.

    Returns
    -------
    str
        The title.
    """
    return f"Écoles de production au {french_date(day)}"


def dated_subtitle(day: dt.date, counts: Mapping[str, int]) -> str:
    """Return the subtitle of the map of ``day``: the registry's count and the published one.

    The published figure quoted is the one nearest to ``day``, before or after it, with its
    own date (:func:`pipeline.config.nearest_published`).

    Parameters
    ----------
    day
        The date of the map.
    counts
        From :func:`pipeline.steps.history.dated_counts`.

    Returns
    -------
    str
        E.g. "62 écoles ouvertes dans le registre ; le réseau en annonçait 71 le 14 février
        2025".
    """
    text = f"{counts['ecoles_ouvertes']} écoles ouvertes dans le registre"
    published = nearest_published(day)
    if published is None:
        return text
    return f"{text} ; le réseau en annonçait {published.ecoles} le {published.libelle}"


def dated_source_line(provenance: Provenance | None) -> str:
    """Return the source line of a dated map: the registry, the openings, the boundaries."""
    return ("Carte établie d'après l'annexe du communiqué de presse du 23 novembre 2021 et les "
            "ouvertures documentées depuis (presse, écoles, réseau) ; dates et lieux en partie "
            f"déduits de sources publiques. Sources : {_data_sources(provenance)}. {CREDIT}")


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


def dated_short_texts(day: dt.date, counts: Mapping[str, int],
                      provenance: Provenance | None = None) -> MapTexts:
    """Return the texts of the map of ``day`` for the small formats: one short line each.

    Parameters
    ----------
    day
        The date of the map.
    counts
        From :func:`pipeline.steps.history.dated_counts`.
    provenance
        Where the départements came from, credited on the source line.

    Returns
    -------
    MapTexts
        Title, subtitle, legend (the keys of :func:`dated_legend`), source line.
    """
    subtitle = f"{counts['ecoles_ouvertes']} écoles dans le registre"
    published = nearest_published(day)
    if published is not None:
        subtitle += f" ; {published.ecoles} selon le réseau au {published.libelle}"
    legend = (
        (CATEGORY_OPEN, f"{counts['ouvertes_avant_annexe']} écoles ouvertes en novembre 2021"),
        (CATEGORY_OPENED_SINCE, f"{counts['ouvertes_depuis_annexe']} écoles ouvertes depuis"),
        (CATEGORY_ANNOUNCED, f"{counts['laureats_annonces']} lauréats pas encore ouverts"),
        (COVERED_BEFORE, f"{counts[COVERED_BEFORE]} départements couverts avant l'AMI"),
        (COVERED_SINCE, f"{counts[COVERED_SINCE]} départements couverts depuis"),
        (ANNOUNCED, f"{counts[ANNOUNCED]} départements au lauréat annoncé"),
    )
    source = ("Registre ecoles-map : annexe du 23 novembre 2021 et ouvertures documentées. "
              f"Sources : {_data_sources(provenance)}.")
    return MapTexts(dated_title(day), subtitle, legend, source)


def dated_map_texts(day: dt.date, counts: Mapping[str, int],
                    provenance: Provenance | None = None) -> dict[str, object]:
    """Return the texts of the map of ``day`` as :func:`map_data` takes them (keywords).

    Parameters
    ----------
    day
        The date of the map.
    counts
        From :func:`pipeline.steps.history.dated_counts`.
    provenance
        Where the départements came from, credited on the source line.

    Returns
    -------
    dict
        ``title``, ``subtitle``, ``legend``, ``source_line`` and ``short`` (the small
        formats' texts, :func:`dated_short_texts`).
    """
    return {"title": dated_title(day), "subtitle": dated_subtitle(day, counts),
            "legend": dated_legend(counts), "source_line": dated_source_line(provenance),
            "short": dated_short_texts(day, counts, provenance)}


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
    shape = {k: _SHAPE_NAMES.get(v["marker"], "symboles")
             for k, v in config.CATEGORY_STYLE.items()}
    text = (f"Carte de France des écoles de production au {french_date(day)}. "
            f"{counts['ecoles_ouvertes']} écoles ouvertes dans le registre, dont "
            f"{counts['ouvertes_depuis_annexe']} depuis le {french_date(ANNEX_DATE)} "
            f"({shape[CATEGORY_OPENED_SINCE]} bleus ; les autres en "
            f"{shape[CATEGORY_OPEN]} bleus) ; {counts['laureats_annonces']} lauréats de l'AMI "
            f"annoncés mais pas encore ouverts ({shape[CATEGORY_ANNOUNCED]} rouges). "
            f"{counts[COVERED_BEFORE] + counts[COVERED_SINCE]} départements couverts, dont "
            f"{counts[COVERED_SINCE]} depuis l'AMI ; {counts[ANNOUNCED]} avec un lauréat "
            "annoncé seulement.")
    published = nearest_published(day)
    if published is not None:
        text += f" Le réseau annonçait {published.ecoles} écoles le {published.libelle}."
    return text + "\n"


# --- The reach map ------------------------------------------------------------------------
def _percent(share: float) -> str:
    """Write a share as French prose: 0.504 → "50 %"."""
    return f"{round(100 * share)}\u00a0%"


def _km(km: float) -> str:
    return f"{km:g}".replace(".", ",") + "\u00a0km"


#: The reach classes as the small formats name them.
_SHORT_CLASSES: Final = {"acces_0_20": "Moins de 20\u00a0%", "acces_20_40": "20 à 40\u00a0%",
                         "acces_40_60": "40 à 60\u00a0%", "acces_60_80": "60 à 80\u00a0%",
                         "acces_80_100": "80\u00a0% ou plus",
                         "acces_inconnu": "Inconnu (Mayotte)"}


def reach_map_texts(*, day: dt.date | None, threshold_km: float, national_share: float | None,
                    classes: Mapping[str, int], nb_sites: int, method: str,
                    provenance: Provenance | None, road_estimate: bool = False,
                    ) -> dict[str, object]:
    """Return the texts of the reach map, as :func:`map_data` takes them (keywords).

    Parameters
    ----------
    day
        The date of the map; None for the annex.
    threshold_km
        The distance the map shows the share within.
    national_share
        The share of young people within it, France (0–1), if known.
    classes
        Number of départements in each class (keys of ``config.REACH_CLASSES`` and
        ``config.REACH_UNKNOWN``).
    nb_sites
        The sites that reach.
    method
        How distances are measured (:meth:`pipeline.steps.reach_options.ReachOptions.describe`).
    provenance
        Where the départements came from, credited on the source line.
    road_estimate
        Whether distances are a road estimate (straight line × a detour factor), which the
        small formats' short source line names.

    Returns
    -------
    dict
        ``title``, ``subtitle``, ``legend``, ``source_line`` and ``short``.
    """
    when = "en novembre 2021" if day is None else f"au {french_date(day)}"
    title = (f"Part des jeunes de 0 à 19 ans à moins de {_km(threshold_km)} d'une école de "
             f"production, par département, {when}")
    subtitle = (f"{nb_sites} {'sites' if day is None else 'écoles ouvertes'} ; "
                if nb_sites else "") + (
        f"en France, {_percent(national_share)} des jeunes à moins de {_km(threshold_km)}"
        if national_share is not None else "")
    # On the annex every site of the map reaches (laureates included, as the annex counts
    # them); on a date, only the schools open that day.
    sites = ("Site d'une école de production ou d'un lauréat de l'AMI" if day is None
             else "École de production ouverte à cette date")
    legend: list[tuple[str, str]] = [("site_acces", f"{sites} ({nb_sites})")]
    for key in [k for _, k in config.REACH_CLASSES] + [config.REACH_UNKNOWN]:
        if classes.get(key):
            label = config.STATUS_STYLE[key]["label"]
            if key == config.REACH_UNKNOWN:
                label += " (Mayotte : recensement sans les âges)"
            legend.append((key, f"{label} ({classes[key]})"))
    origin = ("annexe du 23 novembre 2021" if day is None
              else "annexe du 23 novembre 2021 et ouvertures documentées depuis")
    source = (f"Mesure : {method} ; une portée n'est pas une capacité d'accueil. "
              "Population : INSEE, recensement 2021, jeunes de 0 à 19 ans par commune. "
              f"Sites : registre ecoles-map ({origin}). "
              f"Sources : {_data_sources(provenance)}. {CREDIT}")
    # The small formats: the classes as bare ranges, what they measure in the subtitle.
    short_legend = [("site_acces", f"{nb_sites} sites" if day is None
                     else f"{nb_sites} écoles ouvertes")] + [
        (key, _SHORT_CLASSES[key]) for key, _ in legend[1:]]
    measure = "Estimation routière" if road_estimate else "Vol d'oiseau"
    short_subtitle = "Part des jeunes de 0 à 19 ans, par département" + (
        f" ; France : {_percent(national_share)}" if national_share is not None else "")
    short = MapTexts(f"Jeunes à moins de {_km(threshold_km)} d'une école de production "
                     f"{'en 2021' if day is None else 'au ' + french_date(day)}",
                     short_subtitle, tuple(short_legend),
                     f"{measure} ; INSEE RP 2021 (0-19 ans). Sources : "
                     f"{_data_sources(provenance)}.")
    return {"title": title, "subtitle": subtitle, "legend": legend, "source_line": source,
            "short": short}


def reach_alt_text(*, day: dt.date | None, threshold_km: float, national_share: float | None,
                   best: Sequence[str], worst: Sequence[str], none_within: int,
                   method: str) -> str:
    """Return a French description of the reach map for screen readers.

    Parameters
    ----------
    day, threshold_km, national_share, method
        As for :func:`reach_map_texts`.
    best, worst
        Names of the départements with the highest and the lowest shares.
    none_within
        How many départements have no young person within the threshold.

    Returns
    -------
    str
        A paragraph ending with a newline.
    """
    when = "en novembre 2021" if day is None else f"au {french_date(day)}"
    text = (f"Carte de France des départements colorés selon la part des jeunes de 0 à 19 ans "
            f"vivant à moins de {_km(threshold_km)} d'une école de production {when}, du jaune "
            "pâle (moins de 20 %) au vert foncé (80 % ou plus), les sites en points bleus. ")
    if national_share is not None:
        text += f"En France, {_percent(national_share)} des jeunes sont à cette distance. "
    if best:
        text += f"Les mieux desservis : {join_french(list(best))}. "
    if none_within > 1:
        text += (f"{none_within} départements n'ont aucun jeune à moins de "
                 f"{_km(threshold_km)}, dont {join_french(list(worst))}. ")
    elif worst:
        text += f"Les moins desservis : {join_french(list(worst))}. "
    return text + f"Mesure : {method}.\n"


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
