"""Columns and vocabularies of every table the pipeline reads or writes, declared once.

Each step and each writer imports its column lists and allowed values from here, so that a
column means the same thing in the registry, the GeoPackage, the CSV tables and the maps.
Names and values are French snake_case: users read them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Final

# --- Values ---------------------------------------------------------------------------------
#: Allowed values of ``ami_2021`` (empty when the school was no laureate).
AMI_CATEGORIES: Final = ("ingenierie", "investissement")
#: Allowed values of ``confiance``, most solid first.
CONFIDENCE_LEVELS: Final = ("haute", "moyenne", "basse")
#: How a yes/no cell is written in the registry (``existante_2021``).
YES_NO: Final = ("oui", "non")

#: Every département code of the COG (101 départements; "20" no longer exists).
DEPARTEMENT_CODES: Final = frozenset(
    [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B", "971", "972", "973", "974", "976"]
)
#: Overseas départements, in reading order.
OVERSEAS_CODES: Final = ("971", "972", "973", "974", "976")

# --- The registry (data/raw/ecoles.csv) -----------------------------------------------------
#: Registry columns, in their canonical order.
REGISTRY_COLUMNS: Final = (
    "id", "nom", "commune", "departement", "existante_2021", "ami_2021", "libelle_annexe",
    "metier", "ouverture", "confiance", "sources", "note",
)
#: Columns the registry's header must contain.
REGISTRY_REQUIRED: Final = (
    "id", "nom", "commune", "departement", "existante_2021", "ami_2021", "confiance", "sources",
)
#: Columns that may be absent from the header (empty then).
REGISTRY_OPTIONAL: Final = ("libelle_annexe", "metier", "ouverture", "note")
#: Columns that must hold a value on every row.
REGISTRY_NON_EMPTY: Final = (
    "id", "nom", "commune", "departement", "existante_2021", "confiance", "sources",
)

# --- The openings after the annex (data/raw/ouvertures.csv) ---------------------------------
OPENING_COLUMNS: Final = (
    "id", "nom", "commune", "departement", "ouverture", "fermeture", "ami_2021_id", "metier",
    "confiance", "sources", "note",
)
OPENING_REQUIRED: Final = ("id", "nom", "commune", "departement", "ouverture", "confiance",
                           "sources")
OPENING_NON_EMPTY: Final = OPENING_REQUIRED

#: Precision of a resolved date (values of ``ouverture_precision``, ``fermeture_precision``).
PRECISION_DAY: Final = "jour"
PRECISION_MONTH: Final = "mois"
PRECISION_YEAR: Final = "annee"
#: Precision of a date that is only an upper bound (values of ``precision_ouverture`` and
#: ``precision_premiere_ouverture`` in the outputs): the event happened on that day or before.
PRECISION_AT_LATEST: Final = "au_plus_tard"
#: Values of the outputs' ``precision_ouverture``, ``precision_fermeture`` and
#: ``precision_premiere_ouverture`` (NULL without a date).
DATE_PRECISIONS: Final = (PRECISION_DAY, PRECISION_MONTH, PRECISION_YEAR, PRECISION_AT_LATEST)

# --- Places -----------------------------------------------------------------------------------
#: Columns of the embedded table of régions (``pipeline/data/regions.csv``, COG).
REGION_COLUMNS: Final = ("departement", "code_region", "nom_region")
#: Names of a site's département and région, after ``departement`` on the ``ecoles`` layer
#: and in ``ecoles.csv``.
SITE_PLACE_COLUMNS: Final = ("nom_departement", "code_region", "nom_region")
#: The région of a département, after ``nom`` on the ``departements`` layers.
DEPARTEMENT_PLACE_COLUMNS: Final = ("code_region", "nom_region")

# --- Geocoding --------------------------------------------------------------------------------
#: Columns the geocoders add, in this order.
GEOCODED_COLUMNS: Final = ("code_insee", "nom_commune", "longitude", "latitude", "methode",
                           "statut_geocodage")
#: Values of ``statut_geocodage``.
GEOCODE_OK: Final = "ok"
GEOCODE_AMBIGUOUS: Final = "ambigu"
GEOCODE_NOT_FOUND: Final = "introuvable"
GEOCODE_STATUSES: Final = (GEOCODE_OK, GEOCODE_AMBIGUOUS, GEOCODE_NOT_FOUND)

#: Columns of the embedded gazetteer of communes, and of its precomputed match key.
GAZETTEER_COLUMNS: Final = ("code", "type", "nom", "departement", "code_parent", "population",
                            "longitude", "latitude")
GAZETTEER_KEY_COLUMN: Final = "cle"
#: Type of a gazetteer row holding a former name: a commune merged or renamed since, whose
#: ``code_parent`` is the current commune that holds its territory.
GAZETTEER_FORMER: Final = "ANCIEN"
#: Optional column of the gazetteer: what ended a former name ("fusion 2019",
#: "changement de nom 1965"); empty for current places.
GAZETTEER_EVENT_COLUMN: Final = "evenement"

# --- Coverage on the annex date ---------------------------------------------------------
#: Values of the annex's ``categorie``; a laureate category wins over "existante".
ANNEX_CATEGORIES: Final = ("investissement", "ingenierie", "existante", "autre")
#: Values of the annex's département ``statut``.
STATUS_COVERED: Final = "deja_couvert"
STATUS_NEW: Final = "nouvellement_couvert"
STATUS_NONE: Final = "non_couvert"
ANNEX_STATUSES: Final = (STATUS_COVERED, STATUS_NEW, STATUS_NONE)

# --- Coverage on another date ----------------------------------------------------------
#: Status of a site on a date (``statut_site``).
SITE_OPEN: Final = "ouverte"
SITE_ANNOUNCED: Final = "annoncee"
SITE_CLOSED: Final = "fermee"
#: Drawing category of a site on a dated map (``categorie``). Closed sites are not drawn.
CATEGORY_OPEN: Final = "ouverte"
CATEGORY_OPENED_SINCE: Final = "ouverte_depuis_annexe"
CATEGORY_ANNOUNCED: Final = "annoncee"
CATEGORY_CLOSED: Final = "fermee"
DATED_CATEGORIES: Final = (CATEGORY_OPEN, CATEGORY_OPENED_SINCE, CATEGORY_ANNOUNCED,
                           CATEGORY_CLOSED)
#: Status of a département on a date (``statut``).
COVERED_BEFORE: Final = "couvert_avant_annexe"
COVERED_SINCE: Final = "couvert_depuis_annexe"
ANNOUNCED: Final = "annonce"
NOT_COVERED: Final = STATUS_NONE
DATED_STATUSES: Final = (COVERED_BEFORE, COVERED_SINCE, ANNOUNCED, NOT_COVERED)

#: Columns of a dated site table, after the registry's.
SITE_COLUMNS: Final = (
    *REGISTRY_COLUMNS, "ami_2021_id", "ouverte", "ouverte_annexe", "statut_site",
    "date_ouverture", "date_fermeture", "lieu_annonce", "precision_ouverture",
    "precision_fermeture",
)

# --- Files the analysts read ------------------------------------------------------------
#: Column order of the GeoPackage's ``ecoles`` layer (then any other column, then ``geom``).
ECOLES_COLUMNS: Final = (
    "id", "nom", "categorie", "etiquette", "commune", "departement", *SITE_PLACE_COLUMNS,
    "departement_spatial", "distance_departement_m", "existante_2021", "ami_2021",
    "libelle_annexe", "metier", "ouverture", "confiance", "sources", "note", "code_insee",
    "nom_commune", "longitude", "latitude", "methode", "statut_geocodage",
)
#: Columns of the annex's ``departements`` layer (then ``geom``).
DEPARTEMENTS_COLUMNS: Final = (
    "code", "nom", "statut", "nb_ecoles_existantes", "nb_laureats_ingenierie",
    "nb_laureats_investissement",
)
#: Columns of a dated ``departements`` layer (then ``geom``).
DATED_DEPARTEMENTS_COLUMNS: Final = (
    "code", "nom", "statut", "nb_ecoles_ouvertes", "nb_ouvertures_depuis_annexe",
    "nb_laureats_annonces", "premiere_ouverture", "precision_premiere_ouverture",
)
#: Attribute table of coverage per département per date, and its columns.
HISTORY_TABLE: Final = "couverture_historique"
HISTORY_COLUMNS: Final = ("departement", "date", "statut", "nb_ecoles_ouvertes",
                          "nb_laureats_annonces", "premiere_ouverture",
                          "precision_premiere_ouverture")
#: Columns of ``ecoles.csv``, the data behind the map, in reading order.
TABLE_COLUMNS: Final = (
    "id", "nom", "commune", "code_insee", "departement", "nom_departement", "nom_region",
    "categorie", "existante_2021", "ami_2021", "etiquette", "metier", "confiance", "sources",
    "longitude", "latitude",
)


# --- Reach (pipeline.steps.reach) --------------------------------------------------------------
#: The layer of communes and their nearest site, and its columns (then, with a detour factor,
#: ``distance_route_estimee_km``, then ``methode_distance`` and ``geom``). 35,000 rows: names
#: of départements, régions and sites are joined from the other layers, not repeated.
COMMUNES_LAYER: Final = "communes_acces"
COMMUNES_COLUMNS: Final = (
    "code", "nom", "departement", "territoire", "population", "jeunes_0_19", "distance_km",
    "ecole_proche",
)
#: How yes/no values are written in every CSV the pipeline writes (the registry's own words);
#: the GeoPackage stores them as BOOLEAN.
CSV_TRUE, CSV_FALSE = YES_NO


def missing_columns(columns: Iterable[object], required: Collection[str]) -> list[str]:
    """Return the names of ``required`` absent from ``columns``, in ``required``'s order.

    Parameters
    ----------
    columns
        The columns a table has.
    required
        The columns it needs.

    Returns
    -------
    list of str
        Empty when every required column is there.
    """
    have = {str(c) for c in columns}
    return [c for c in required if c not in have]
