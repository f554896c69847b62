"""The tables behind the map, for spreadsheets and for readers who cannot see it.

Every CSV writes a yes/no value the registry's way, ``oui`` / ``non`` (:func:`yes_no`), so
that ``registre.csv`` can be ingested again and ``ecoles.csv`` reads the same; the
GeoPackage stores the same values as BOOLEAN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
from pipeline.steps.reach import REACH_CAVEATS, SHARE_DECIMALS, Reach, threshold_label
from pipeline.textsafe import markdown_text


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
    """Format a value for a Markdown table cell (escaped, on one line, missing as a dash)."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "–"
    return markdown_text(value) or "–"


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
        *[f"- {markdown_text(names[code])} ({code})" for code in new],
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


# --- Reach ---------------------------------------------------------------------------------------
#: Decimals of the distances (km) in the reach tables: 10 m (the shares: SHARE_DECIMALS).
DISTANCE_DECIMALS = 2


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(frame).copy()
    for column in out.columns:
        name = str(column)
        if name.startswith("part_jeunes_"):
            out[column] = out[column].astype("Float64").round(SHARE_DECIMALS)
        elif name.startswith("distance_") and name.endswith("_km"):
            out[column] = out[column].astype("Float64").round(DISTANCE_DECIMALS)
    return out


def reach_departements_table(departements: pd.DataFrame) -> pd.DataFrame:
    """Return ``acces_departements.csv``: the ``departements`` layer without its geometry.

    Parameters
    ----------
    departements
        A snapshot's départements with their reach
        (:func:`pipeline.steps.reach.with_reach`).

    Returns
    -------
    pandas.DataFrame
        Every column but the geometry, shares rounded to 4 decimals, sorted by code.
    """
    geometry = getattr(departements, "_geometry_column_name", None)
    table = pd.DataFrame(departements).drop(columns=[c for c in (geometry,) if c], errors="ignore")
    return _rounded(table).sort_values("code", kind="stable").reset_index(drop=True)


def farthest_table(reach: Reach) -> pd.DataFrame:
    """Return ``communes_les_plus_eloignees.csv``: the communes with most young people out of reach.

    Parameters
    ----------
    reach
        A snapshot's reach.

    Returns
    -------
    pandas.DataFrame
        :attr:`Reach.farthest` (``rang`` first; the gazetteer's ``type`` left out),
        distances rounded to 10 m.
    """
    return _rounded(reach.farthest.drop(columns=["type"], errors="ignore"))


def where_next_table(reach: Reach) -> pd.DataFrame:
    """Return ``ou_ensuite.csv``: the greedy ranking of :func:`pipeline.steps.reach.where_next`."""
    return _rounded(reach.where_next)


def _percent(share: Any) -> str:
    """0.50394 → "50,4 %"; unknown → "inconnue"."""
    if share is None or pd.isna(share):
        return "inconnue"
    return f"{float(share) * 100:.1f} %".replace(".", ",")


def _count(value: Any) -> str:
    """16013133 → "16 013 133" (French thousands)."""
    if value is None or pd.isna(value):
        return "inconnu"
    return f"{int(value):,}".replace(",", "\u202f")


def reach_text(reach: Reach) -> str:
    """Say the national reach in a few French lines, for stderr.

    Parameters
    ----------
    reach
        A snapshot's reach.

    Returns
    -------
    str
        The shares within each threshold, the existing schools' alone when measured, how
        distances were measured, and where unknown.
    """
    row = reach.national.iloc[0]
    labels = [threshold_label(t) for t in reach.options.thresholds_km]
    within = " ; ".join(f"{_percent(row[f'part_jeunes_{t}km'])} à moins de {t} km"
                        for t in labels)
    out = [f"Accès aux écoles de production ({reach.nb_sites} sites, jeunes de 0 à 19 ans) : "
           f"{within}"]
    if reach.nb_existing is not None:
        alone = " ; ".join(f"{_percent(row[f'part_jeunes_{t}km_existantes'])} à moins de {t} km"
                           for t in labels)
        out.append(f"  écoles existantes seules ({reach.nb_existing}) : {alone}")
    unknown = str(row.get("departements_sans_donnees", "") or "")
    out.append(f"  {reach.options.describe()}"
               + (f" ; sans données d'âge : {unknown}" if unknown else ""))
    return "\n".join(out)


def reach_markdown(reach: Reach, departements: pd.DataFrame, *, files: Iterable[str] = ()) -> str:
    """Return the reach section of the Markdown report (``rapprochement.md``).

    Parameters
    ----------
    reach
        A snapshot's reach.
    departements
        Its départements (``code``, ``nom``), to name them.
    files
        Names of the tables to point to.

    Returns
    -------
    str
        A level-2 section: national shares, the départements where binary coverage and
        reach disagree, the first picks of where next, the caveats.
    """
    names = dict(zip(departements["code"].astype(str), departements["nom"].astype(str),
                     strict=True))
    row = reach.national.iloc[0]
    options = reach.options
    labels = [threshold_label(t) for t in options.thresholds_km]
    first = labels[0]
    unknown = str(row.get("departements_sans_donnees", "") or "")
    without = f" (hors {', '.join(names.get(c, c) for c in unknown.split(', '))})" \
        if unknown else ""
    out = ["", "## Accès des jeunes aux écoles de production", "",
           f"Méthode : {options.describe()} (même territoire : la Corse et chaque département "
           f"d'outre-mer à part). {reach.nb_sites} sites comptés.", "",
           "| part des jeunes de 0 à 19 ans | " + " | ".join(f"à moins de {t} km"
                                                            for t in labels) + " |",
           "|---|" + "---:|" * len(labels),
           f"| France{without} | " + " | ".join(_percent(row[f"part_jeunes_{t}km"])
                                                 for t in labels) + " |"]
    if reach.nb_existing is not None:
        out.append(f"| écoles existantes seules ({reach.nb_existing}) | "
                   + " | ".join(_percent(row[f"part_jeunes_{t}km_existantes"])
                                for t in labels) + " |")
    out += ["", f"### Couverture et accès en désaccord (à {first} km)", ""]
    disagree = reach.disagreements
    if disagree.empty:
        out.append("Aucun département ne se contredit.")
    else:
        out += ["| département | sites | jeunes de 0 à 19 ans | part à moins de "
                f"{first} km | désaccord |", "|---|---:|---:|---:|---|"]
        what = {"couvert_acces_faible": "couvert, mais accès faible",
                "non_couvert_acces_fort": "non couvert, mais accès fort"}
        for r in disagree.to_dict("records"):
            code = str(r["departement"])
            out.append(f"| {names.get(code, code)} ({code}) | {r['nb_ecoles']} | "
                       f"{_count(r['jeunes_0_19'])} | {_percent(r[f'part_jeunes_{first}km'])} | "
                       f"{what.get(str(r['desaccord']), str(r['desaccord']))} |")
        out += ["", "Couvert, mais accès faible : au moins un site dans le département, moins "
                "d'un quart de ses jeunes à moins de " f"{first} km ; non couvert, mais accès "
                "fort : aucun site, au moins trois quarts de ses jeunes à moins de "
                f"{first} km d'un site voisin."]
    picks = reach.where_next
    if not picks.empty:
        out += ["", f"### Où ensuite ? (rayon {first} km, méthode gloutonne)", "",
                "| rang | commune | département | jeunes nouvellement atteints | part cumulée |",
                "|---:|---|---|---:|---:|"]
        for r in picks.to_dict("records"):
            code = str(r["departement"])
            out.append(f"| {r['rang']} | {r['nom']} ({r['code']}) | {names.get(code, code)} | "
                       f"{_count(r['jeunes_nouvellement_atteints'])} | "
                       f"{_percent(r['part_jeunes_atteints_cumul'])} |")
    out += ["", "### Précautions", "", *[f"- {c}" for c in REACH_CAVEATS]]
    if files:
        out += ["", "Détail : " + ", ".join(f"`{f}`" for f in files)
                + " (couche `communes_acces` : chaque commune et son site le plus proche)."]
    return "\n".join(out) + "\n"

