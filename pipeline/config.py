"""Typed constants shared by every step: paths, CRSs, reference figures, colours.

No I/O happens at import. Provenance of each external source lives in
``pipeline/data/sources.json`` (read by :func:`sources`), the one registry that the Python
code, the Makefile (as a prerequisite) and the README refer to.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from pathlib import Path
from typing import Any, Final

# --- Paths ------------------------------------------------------------------------------
PACKAGE_DATA: Final = Path(__file__).resolve().parent / "data"
EMBEDDED_DEPARTEMENTS: Final = PACKAGE_DATA / "departements.gpkg"
EMBEDDED_GAZETTEER: Final = PACKAGE_DATA / "communes.csv.gz"
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

# --- The 2021 annex -------------------------------------------------------------------
ANNEX_DATE: Final = dt.date(2021, 11, 23)
#: Figures of the press release of 23 November 2021, which the registry is checked against.
PRESS_RELEASE: Final[dict[str, int]] = {
    "existantes": 42,
    "ingenierie": 20,
    "investissement": 14,
    "nouvellement_couverts": 13,
}

#: Allowed values in the registry.
AMI_CATEGORIES: Final = ("ingenierie", "investissement")
CONFIDENCE_LEVELS: Final = ("haute", "moyenne", "basse")
YES_NO: Final = ("oui", "non")

#: Département coverage statuses (values of the ``statut`` column).
STATUS_COVERED: Final = "deja_couvert"
STATUS_NEW: Final = "nouvellement_couvert"
STATUS_NONE: Final = "non_couvert"

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
    # Dated maps (issue 7, pipeline.history.site_categories): the same three colours and
    # shapes, so a reader of the annex reads them at once.
    "ouverte": {
        "colour": BLUE_FRANCE,
        "marker": "o",
        "label": "École de production ouverte au 23 novembre 2021",
        "gid": "ecoles-ouvertes-annexe",
    },
    "ouverte_depuis_annexe": {
        "colour": "#00A0A0",
        "marker": "s",
        "label": "École de production ouverte depuis le 23 novembre 2021",
        "gid": "ecoles-ouvertes-depuis-annexe",
    },
    "annoncee": {
        "colour": RED_MARIANNE,
        "marker": "^",
        "label": "Lauréat de l'AMI annoncé, pas encore ouvert",
        "gid": "laureats-annonces",
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
    # Dated maps (issue 7, pipeline.history.coverage_as_of); "non_couvert" is shared. The
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
}


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
