"""Typed constants shared by every step: paths, CRSs, reference figures, colours.

No I/O happens at import. Provenance of each external source lives in
``pipeline/data/sources.json`` (read by :func:`sources`), the one registry that the Python
code, the Makefile (as a prerequisite) and the README refer to.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from pipeline.schema import (
    PRECISION_DAY,
    PRECISION_MONTH,
    PRECISION_YEAR,
    STATUS_COVERED,
    STATUS_NEW,
    STATUS_NONE,
)

# --- Paths ------------------------------------------------------------------------------
PACKAGE_DATA: Final = Path(__file__).resolve().parent / "data"
EMBEDDED_DEPARTEMENTS: Final = PACKAGE_DATA / "departements.gpkg"
EMBEDDED_GAZETTEER: Final = PACKAGE_DATA / "communes.csv.gz"
EMBEDDED_REGIONS: Final = PACKAGE_DATA / "regions.csv"
SOURCES_FILE: Final = PACKAGE_DATA / "sources.json"

RAW_DIR: Final = Path("data/raw")
PROCESSED_DIR: Final = Path("data/processed")
MAPS_DIR: Final = Path("maps")
DEFAULT_REGISTRY: Final = RAW_DIR / "ecoles.csv"
DEFAULT_LABEL_OVERRIDES: Final = RAW_DIR / "etiquettes.csv"
DEFAULT_OPENINGS: Final = RAW_DIR / "ouvertures.csv"

# --- Coordinate reference systems ---------------------------------------------------------
STORAGE_CRS: Final = "EPSG:4326"  # one layer for all of France (GEODATA.md §4)
METRO_CRS: Final = "EPSG:2154"  # Lambert-93, metropolitan France and Corsica
OVERSEAS_CRS: Final[dict[str, str]] = {
    "971": "EPSG:5490",  # Guadeloupe, RGAF09 / UTM 20N
    "972": "EPSG:5490",  # Martinique, RGAF09 / UTM 20N
    "973": "EPSG:2972",  # Guyane, RGFG95 / UTM 22N
    "974": "EPSG:2975",  # La Réunion, RGR92 / UTM 40S
    "976": "EPSG:4471",  # Mayotte, RGM04 / UTM 38S
}

# --- Régions (COG, since 2016), for the list of projects --------------------------------------
#: Each région and its départements, in the order of the INSEE région codes.
REGIONS: Final[dict[str, tuple[str, ...]]] = {
    "Guadeloupe": ("971",),
    "Martinique": ("972",),
    "Guyane": ("973",),
    "La Réunion": ("974",),
    "Mayotte": ("976",),
    "Île-de-France": ("75", "77", "78", "91", "92", "93", "94", "95"),
    "Centre-Val de Loire": ("18", "28", "36", "37", "41", "45"),
    "Bourgogne-Franche-Comté": ("21", "25", "39", "58", "70", "71", "89", "90"),
    "Normandie": ("14", "27", "50", "61", "76"),
    "Hauts-de-France": ("02", "59", "60", "62", "80"),
    "Grand Est": ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"),
    "Pays de la Loire": ("44", "49", "53", "72", "85"),
    "Bretagne": ("22", "29", "35", "56"),
    "Nouvelle-Aquitaine": ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86",
                           "87"),
    "Occitanie": ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),
    "Auvergne-Rhône-Alpes": ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73",
                             "74"),
    "Provence-Alpes-Côte d'Azur": ("04", "05", "06", "13", "83", "84"),
    "Corse": ("2A", "2B"),
}
REGION_OF_DEPARTEMENT: Final[dict[str, str]] = {
    code: region for region, codes in REGIONS.items() for code in codes}

# --- Reach (pipeline.steps.reach), here so that the CLI's defaults import nothing heavy ----
#: Distances of the shares of young people within reach of a site, in km.
REACH_THRESHOLDS_KM: Final = (30.0, 45.0)
#: Number of picks of the where-next ranking.
WHERE_NEXT_PICKS: Final = 10

# --- The 2021 annex -------------------------------------------------------------------
ANNEX_DATE: Final = dt.date(2021, 11, 23)
#: Figures of the press release of 23 November 2021, which the registry is checked against.
PRESS_RELEASE: Final[dict[str, int]] = {
    "existantes": 42,
    "ingenierie": 20,
    "investissement": 14,
    "nouvellement_couverts": 13,
}

#: Precision of a published figure's date beyond those of openings: a season or a span of
#: years (``date`` is then its last day).
PRECISION_PERIOD: Final = "periode"

#: What a published figure is (values of ``nature``).
FIGURE_COUNT: Final = "effectif"
FIGURE_RANK: Final = "rang"
FIGURE_FORECAST: Final = "prevision"


@dataclass(frozen=True)
class PublishedCount:
    """A published size of the network on a date, with where it was published.

    Parameters
    ----------
    date
        The day the figure is compared at: the day it describes, or the last day of the
        month, season or years it was published in (the registry is then at its largest
        over that period, so the gap shown is the smallest possible).
    ecoles
        Number of écoles de production (for a rank, the rank: "la 77e école" is 77).
    libelle
        The date as the source words it (French).
    source
        Who published it (French).
    url
        Page quoting the figure, or None when only the outlet is known.
    precision
        ``"jour"``, ``"mois"``, ``"annee"`` or ``"periode"``.
    nature
        ``"effectif"`` (a count), ``"rang"`` (the rank given to a new school) or
        ``"prevision"`` (a number announced for later).
    arrondi
        The figure looks rounded or chosen rather than counted (a round rank, a rank
        matching a département number).
    note
        Why it is flagged or how it compares (French), or None.
    """

    date: dt.date
    ecoles: int
    libelle: str
    source: str
    url: str | None
    precision: str = PRECISION_DAY
    nature: str = FIGURE_COUNT
    arrondi: bool = False
    note: str | None = None


#: Sizes of the network as published, in order of date (research brief, "After the annex",
#: and its "December 2026 update").
PUBLISHED_COUNTS: Final = (
    PublishedCount(
        dt.date(2021, 5, 6), 35, "6 mai 2021",
        "lancement de l'AMI « écoles de production » à Lieusaint (presse)",
        "https://www.boursier.com/actualites/economie/lancement-d-un-appel-a-manifestation-"
        "d-interet-ami-pour-de-nouvelles-ecoles-de-production-dans-les-territoires-46363.html"),
    PublishedCount(
        ANNEX_DATE, 42, "23 novembre 2021",
        "communiqué de presse des lauréats de l'AMI (ministère de l'Économie)",
        "https://www.economie.gouv.fr/appel-manifestation-interet-nouvel-elan-ecoles-production"),
    PublishedCount(
        dt.date(2022, 9, 1), 44, "1er septembre 2022", "Fondation TotalEnergies",
        "https://fondation.totalenergies.com/en/ecoles-de-production-accessing-jobs-high-"
        "demand-through-hands-training-1youngperson1job"),
    PublishedCount(
        dt.date(2022, 12, 31), 56, "31 décembre 2022", "Fondation TotalEnergies",
        "https://fondation.totalenergies.com/fr/les-ecoles-de-production-se-former-par-la-"
        "pratique-des-metiers-qui-recrutent-1jeune1emploi"),
    PublishedCount(
        dt.date(2023, 9, 30), 70, "septembre 2023",
        "La Gazette (Bourgogne) : l'EDPI 21 de Dijon présentée comme la « 70e » école", None,
        precision=PRECISION_MONTH, nature=FIGURE_RANK, arrondi=True,
        note="incompatible avec les 62 écoles du 6 octobre 2023"),
    PublishedCount(
        dt.date(2023, 10, 6), 62, "6 octobre 2023", "Fondation TotalEnergies",
        "https://fondation.totalenergies.com/fr/nos-actus/les-ecoles-de-production-en-passe-"
        "de-reussir-leur-pari"),
    PublishedCount(
        dt.date(2023, 12, 21), 59, "automne 2023", "Journal du Palais", None,
        precision=PRECISION_PERIOD,
        note="inférieur aux 62 du 6 octobre 2023 : le réseau compte parfois des sections"),
    PublishedCount(
        dt.date(2024, 12, 31), 67, "2023-2024", "Le Monde, repris par O'Tech Sud Oise", None,
        precision=PRECISION_PERIOD, note="article non daté, de 2023 ou 2024"),
    PublishedCount(
        dt.date(2024, 12, 31), 69, "fin 2024 (probable)",
        "entretien du directeur de la FNEP : « 69 d'ici la fin de l'année »", None,
        precision=PRECISION_YEAR, nature=FIGURE_FORECAST,
        note="entretien non daté, 2024 probable"),
    PublishedCount(
        dt.date(2025, 2, 14), 71, "14 février 2025",
        "revue de presse de la FNEP (France Bleu, 14/02/2025)", None),
    PublishedCount(
        dt.date(2025, 11, 10), 77, "10 novembre 2025",
        "presse locale : Cap'Métal présentée comme la 77e école de production",
        "https://www.crazyradio.fr/?p=59319", nature=FIGURE_RANK, arrondi=True,
        note="la source rapproche elle-même ce rang du numéro du département (77)"),
)


@dataclass(frozen=True)
class UndatedCount:
    """A published size of the network that no date places in time (listed, not compared).

    Parameters
    ----------
    ecoles, libelle, source, url, nature, arrondi, note
        As in :class:`PublishedCount`; ``libelle`` says what is known of the date.
    """

    ecoles: int
    libelle: str
    source: str
    url: str | None
    nature: str = FIGURE_COUNT
    arrondi: bool = False
    note: str | None = None


#: Published sizes without a usable date (research brief, "December 2026 update").
UNDATED_COUNTS: Final = (
    UndatedCount(70, "non daté", "Métal Flash", None, arrondi=True),
    UndatedCount(71, "après février 2025 probable (non daté)", "Banque des Territoires", None,
                 note="probablement le chiffre du 14 février 2025"),
)


def published_counts() -> tuple[PublishedCount, ...]:
    """Return the sizes of the network published for a given day, oldest first.

    These are the figures the dated maps quote and the chart draws; the figures dated only
    by a month, a season, a year or not at all are in :func:`all_published_counts`.

    Returns
    -------
    tuple of PublishedCount
        May 2021: 35; 23 Nov 2021: 42; 1 Sep 2022: 44; 31 Dec 2022: 56; 6 Oct 2023: 62;
        14 Feb 2025: 71; 10 Nov 2025: 77.
    """
    return tuple(p for p in PUBLISHED_COUNTS if p.precision == PRECISION_DAY)


def all_published_counts() -> tuple[PublishedCount, ...]:
    """Return every dated published size of the network, by comparison date.

    Returns
    -------
    tuple of PublishedCount
        :data:`PUBLISHED_COUNTS` sorted by ``date`` (stable); the figures without a date
        are :data:`UNDATED_COUNTS`.
    """
    return tuple(sorted(PUBLISHED_COUNTS, key=lambda p: p.date))


def nearest_published(day: dt.date) -> PublishedCount | None:
    """Return the published size of the network nearest to ``day``, before or after it.

    Parameters
    ----------
    day
        The date of the map.

    Returns
    -------
    PublishedCount or None
        The figure published nearest in time (the earlier one on a tie); None when none is
        known.
    """
    known = published_counts()
    if not known:
        return None
    return min(known, key=lambda p: (abs((p.date - day).days), p.date > day))


# --- Colours (colour-vision safe pairs, MAP.md §3) -----------------------------------------
BLUE_FRANCE: Final = "#000091"
RED_MARIANNE: Final = "#E1000F"

#: How each site category is drawn, on the map and in the GeoPackage's QGIS style: colour,
#: matplotlib marker (shape too, so the map survives a greyscale copy) and French legend
#: label (MAP.md §1). Keys are the values of the ``categorie`` column, in drawing order
#: (existing schools underneath, laureates on top). The third colour, teal #00A0A0, stays at
#: CAM02-UCS ΔE ≥ 38 from both the blue and the red under full deutan, protan and tritan
#: simulation (colorspacious 1.1.2); orange #F28E2B fell to 19 from the red for deutans.
CATEGORY_STYLE: Final[dict[str, dict[str, str]]] = {
    "existante": {
        "colour": BLUE_FRANCE,
        "marker": "o",
        "label": "Écoles de production existantes",
        "gid": "ecoles-existantes",
    },
    "ingenierie": {
        "colour": RED_MARIANNE,
        "marker": "^",
        "label": "Nouveaux lauréats de l'AMI en ingénierie",
        "gid": "laureats-ingenierie",
    },
    "investissement": {
        "colour": "#00A0A0",
        "marker": "s",
        "label": "Écoles de production soutenues par l'État en subvention aux investissements "
                 "(fonds d'accélération des investissements industriels dans les territoires) "
                 "et par la Banque des Territoires",
        "gid": "laureats-investissement",
    },
    # Dated maps (pipeline.steps.history.site_categories). One symbol keeps one meaning on the
    # annex, the dated maps and the chart: a blue circle is a school open on 23 November
    # 2021, a red triangle a laureate's new school not open yet; a school opened since is a
    # blue diamond (blue: open; a new shape: since), never the teal square of the annex's
    # investment laureates.
    "ouverte": {
        "colour": BLUE_FRANCE,
        "marker": "o",
        "label": "École de production ouverte au 23 novembre 2021",
        "gid": "ecoles-ouvertes-annexe",
    },
    "ouverte_depuis_annexe": {
        "colour": BLUE_FRANCE,
        "marker": "D",
        "label": "École de production ouverte depuis le 23 novembre 2021",
        "gid": "ecoles-ouvertes-depuis-annexe",
    },
    "annoncee": {
        "colour": RED_MARIANNE,
        "marker": "^",
        "label": "Lauréat de l'AMI annoncé, pas encore ouvert",
        "gid": "laureats-annonces",
    },
    # The reach map: every site that reaches, one symbol (the fill is the message).
    "site_acces": {
        "colour": BLUE_FRANCE,
        "marker": "o",
        "label": "Site d'une école de production ou d'un lauréat",
        "gid": "sites-acces",
    },
}

#: How each département coverage status is filled (keys are ``statut`` values). The newly
#: covered amber #FFC266, the key message, keeps black text at 10.4:1 (WCAG) and the red
#: triangles on it at 3.1:1; under full deutan, protan and tritan simulation it stays at
#: CAM02-UCS ΔE ≥ 31 from the red, 69 from the blue, 34 from the teal and 24 from the other
#: two fills (the former pale pink #F7B6B9 fell to 14 from the covered fill and 16 from the
#: teal). The covered blue-grey #D3DCEA stays ΔE ≥ 10 from the uncovered grey.
STATUS_STYLE: Final[dict[str, dict[str, str]]] = {
    STATUS_NEW: {
        "colour": "#FFC266",
        "label": "Département nouvellement couvert par une école de production suite à l'AMI",
        "gid": "departements-nouvellement-couverts",
    },
    STATUS_COVERED: {
        "colour": "#D3DCEA",
        "label": "Département déjà couvert par une école de production",
        "gid": "departements-deja-couverts",
    },
    STATUS_NONE: {
        "colour": "#F6F6F6",
        "label": "Département non couvert",
        "gid": "departements-non-couverts",
    },
    # Dated maps (issue 7, pipeline.steps.history.coverage_as_of); "non_couvert" is shared. The
    # annex fills again: blue-grey covered before the AMI, amber covered since; a pale amber
    # where a laureate is only announced keeps the blue–yellow contrast that deutans and
    # protans see, lighter than the amber and more saturated than the grey.
    "couvert_avant_annexe": {
        "colour": "#D3DCEA",
        "label": "Département couvert avant l'AMI (23 novembre 2021)",
        "gid": "departements-couverts-avant-annexe",
    },
    "couvert_depuis_annexe": {
        "colour": "#FFC266",
        "label": "Département couvert depuis l'AMI",
        "gid": "departements-couverts-depuis-annexe",
    },
    "annonce": {
        "colour": "#FFE4B3",
        "label": "Département avec un lauréat de l'AMI annoncé, rien d'ouvert",
        "gid": "departements-annonces",
    },
    # The reach map (the share of young people within the first threshold): five classes of
    # ColorBrewer's sequential YlGn, ordered by lightness, so that they read in greyscale
    # and for every colour vision; navy markers with a white edge stay visible on all of
    # them. A grey where the census has no ages (Mayotte): unknown, never 0.
    **{key: {"colour": colour, "label": label, "gid": f"departements-{key.replace('_', '-')}"}
       for key, colour, label in (
           ("acces_0_20", "#FFFFCC", "Moins de 20\u00a0% des jeunes à portée"),
           ("acces_20_40", "#C2E699", "De 20 à 40\u00a0% des jeunes à portée"),
           ("acces_40_60", "#78C679", "De 40 à 60\u00a0% des jeunes à portée"),
           ("acces_60_80", "#31A354", "De 60 à 80\u00a0% des jeunes à portée"),
           ("acces_80_100", "#006837", "80\u00a0% des jeunes à portée ou plus"),
           ("acces_inconnu", "#BDBDBD", "Pas de données d'âge"))},
}
#: Upper bounds of the reach map's classes (share of young people within the threshold).
REACH_CLASSES: Final = ((0.2, "acces_0_20"), (0.4, "acces_20_40"), (0.6, "acces_40_60"),
                        (0.8, "acces_60_80"), (1.0, "acces_80_100"))
REACH_UNKNOWN: Final = "acces_inconnu"


#: The choices of the command line's ``--boundaries`` (besides a file) and ``--geocoder``.
BOUNDARY_SOURCES: Final = ("embedded", "ign")
GEOCODERS: Final = ("embedded", "online")
#: The IGN edition served by the WFS, beside the archived ones of ``sources.json``.
IGN_LATEST: Final = "latest"
DEFAULT_IGN_EDITION: Final = "2021"


@cache
def sources() -> dict[str, Any]:
    """Return the registry of external sources (producer, edition, URL, licence, sha256).

    Returns
    -------
    dict
        Parsed ``pipeline/data/sources.json``.
    """
    with SOURCES_FILE.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


# --- Output names -------------------------------------------------------------------------
def map_stem(preset: str, day: dt.date | None = None) -> str:
    """Return the file name (without extension) of a map.

    Parameters
    ----------
    preset
        Its frame; A4 is the main one and carries no suffix.
    day
        Its date: None for the 2021 annex (``ecoles-de-production-2021``), else the
        coverage on that day (``ecoles-de-production-YYYY-MM-DD``, which sorts in time
        order).

    Returns
    -------
    str
        E.g. ``ecoles-de-production-2021``, ``ecoles-de-production-2023-12-31-slide``.
    """
    name = "ecoles-de-production-" + ("2021" if day is None else day.isoformat())
    return name + ("" if preset == "a4" else f"-{preset}")


def reach_map_stem(preset: str, day: dt.date | None, threshold_km: float) -> str:
    """Return the file name (without extension) of a reach map, as :func:`map_stem` does.

    E.g. ``acces-30km-2021``, ``acces-30km-2026-12-02-slide``.
    """
    km = f"{threshold_km:g}".replace(".", "_")
    name = f"acces-{km}km-" + ("2021" if day is None else day.isoformat())
    return name + ("" if preset == "a4" else f"-{preset}")


def ign_edition_names() -> tuple[str, ...]:
    """Return the IGN editions ``--edition`` accepts: those of ``sources.json``, then latest.

    Returns
    -------
    tuple of str
        E.g. ``("2021", "2022", ..., "2026_gpkg", "latest")``.
    """
    editions = sources()["sources"]["ign_admin_express_cog_carto"]["editions"]
    return (*editions, IGN_LATEST)
