"""The tables behind the map, for spreadsheets and for readers who cannot see it.

Every CSV writes a yes/no value the registry's way, ``oui`` / ``non`` (:func:`yes_no`), so
that ``registre.csv`` can be ingested again and ``ecoles.csv`` reads the same; the
GeoPackage stores the same values as BOOLEAN.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from pipeline.outputs.maps.texts import CATEGORY_NAMES
from pipeline.schema import (
    CSV_FALSE,
    CSV_TRUE,
    REGISTRY_COLUMNS,
    STATUS_NEW,
    STATUS_NONE,
    TABLE_COLUMNS,
)


def yes_no(values: Iterable[object]) -> list[str]:
    """Write booleans as every CSV of the pipeline does: "oui" / "non" (the registry's words)."""
    return [CSV_TRUE if bool(v) else CSV_FALSE for v in values]


def registry_table(registry: pd.DataFrame) -> pd.DataFrame:
    """Return the validated registry as ``registre.csv`` holds it, ready to ingest again.

    Parameters
    ----------
    registry
        From :func:`pipeline.steps.ingest.validate_registry`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REGISTRY_COLUMNS` in order, ``existante_2021`` as "oui"/"non".
    """
    table = pd.DataFrame(registry)[list(REGISTRY_COLUMNS)].copy()
    table["existante_2021"] = yes_no(table["existante_2021"])
    return table.reset_index(drop=True)


def sites_table(sites: pd.DataFrame) -> pd.DataFrame:
    """Return the data behind the map: one row per site, sorted by département then name.

    Parameters
    ----------
    sites
        Sites from :func:`pipeline.steps.join.mark_coverage`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE_COLUMNS`; ``existante_2021`` as "oui"/"non", like the registry.
        Not a GeoDataFrame: longitude and latitude carry the position.
    """
    table = pd.DataFrame(sites).reindex(columns=list(TABLE_COLUMNS)).copy()
    table["existante_2021"] = yes_no(table["existante_2021"])
    return table.sort_values(["departement", "nom", "id"], kind="stable").reset_index(drop=True)


def _cell(value: object) -> str:
    """Format a value for a Markdown table cell (pipes escaped, missing as a dash)."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "–"
    return str(value).replace("|", "\\|").replace("\n", " ").strip() or "–"


def sites_markdown(sites: pd.DataFrame, departements: pd.DataFrame) -> str:
    """Return the Markdown table of the sites by département, for readers of the map.

    Parameters
    ----------
    sites
        Sites from :func:`pipeline.steps.join.mark_coverage`.
    departements
        Départements from :func:`pipeline.steps.join.mark_coverage` (``code``, ``nom``,
        ``statut``).

    Returns
    -------
    str
        A Markdown document: the newly covered départements, then one table row per site
        grouped by département.
    """
    names = dict(zip(departements["code"], departements["nom"], strict=True))
    status = dict(zip(departements["code"], departements["statut"], strict=True))
    table = sites_table(sites)
    new = [code for code in sorted(names) if status[code] == STATUS_NEW]
    out = [
        "# Écoles de production et lauréats de l'AMI (23 novembre 2021)",
        "",
        f"{len(table)} sites ; {sum(s != STATUS_NONE for s in status.values())} départements "
        f"couverts dont {len(new)} nouvellement couverts suite à l'AMI.",
        "",
        "## Départements nouvellement couverts",
        "",
        *[f"- {names[code]} ({code})" for code in new],
        "",
        "## Sites par département",
        "",
        "| département | site | commune | catégorie | école existante en 2021 | métier "
        "| confiance |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples(index=False):
        dep = f"{names.get(row.departement, '')} ({row.departement})"
        out.append(
            f"| {_cell(dep)} | {_cell(row.nom)} | {_cell(row.commune)} | "
            f"{CATEGORY_NAMES.get(str(row.categorie), _cell(row.categorie))} | "
            f"{row.existante_2021} | {_cell(row.metier)} | {_cell(row.confiance)} |")
    return "\n".join(out) + "\n"
