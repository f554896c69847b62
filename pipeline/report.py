"""Reconciliation of the registry with the press release's official figures."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pipeline.config import CONFIDENCE_LEVELS, PRESS_RELEASE, STATUS_NEW, STATUS_NONE


@dataclass(frozen=True)
class Line:
    """One figure of the reconciliation: the registry's count against the official one."""

    key: str
    label: str
    official: int
    counted: int
    by_confidence: dict[str, int] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        """Whether the registry reproduces the official figure."""
        return self.official == self.counted


@dataclass(frozen=True)
class Reconciliation:
    """The registry's counts against the press release of 23 November 2021."""

    lines: list[Line]
    new_departements: list[tuple[str, str]] = field(default_factory=list)
    low_confidence: list[tuple[str, str]] = field(default_factory=list)

    def text(self) -> str:
        """Render the reconciliation as plain text for stderr."""
        out = ["Rapprochement avec le communiqué du 23 novembre 2021 :"]
        for ln in self.lines:
            mark = "ok" if ln.matches else "ÉCART"
            conf = ", ".join(f"{k} {v}" for k, v in ln.by_confidence.items() if v)
            conf = f" (confiance : {conf})" if conf else ""
            out.append(f"  {ln.label:<36} {ln.counted:>3} / {ln.official:<3} {mark}{conf}")
        if self.new_departements:
            names = ", ".join(f"{name} ({code})" for code, name in self.new_departements)
            out.append(f"  départements nouvellement couverts : {names}")
        if self.low_confidence:
            ids = ", ".join(rid for rid, _ in self.low_confidence)
            out.append(f"  lignes de confiance basse : {ids}")
        return "\n".join(out)

    def markdown(self) -> str:
        """Render the reconciliation as a Markdown document."""
        out = [
            "# Rapprochement avec le communiqué du 23 novembre 2021",
            "",
            "| indicateur | communiqué | registre | écart | confiance haute / moyenne / basse |",
            "|---|---:|---:|---:|---|",
        ]
        for ln in self.lines:
            conf = " / ".join(str(ln.by_confidence.get(k, 0)) for k in CONFIDENCE_LEVELS)
            out.append(f"| {ln.label} | {ln.official} | {ln.counted} | "
                       f"{ln.counted - ln.official:+d} | {conf if ln.by_confidence else '-'} |")
        if self.new_departements:
            out += ["", "## Départements nouvellement couverts", ""]
            out += [f"- {name} ({code})" for code, name in self.new_departements]
        if self.low_confidence:
            out += ["", "## Lignes de confiance basse", ""]
            out += [f"- `{rid}` : {nom}" for rid, nom in self.low_confidence]
        return "\n".join(out) + "\n"


def _by_confidence(rows: pd.DataFrame) -> dict[str, int]:
    counts = rows["confiance"].value_counts()
    return {level: int(counts.get(level, 0)) for level in CONFIDENCE_LEVELS}


def reconcile(sites: pd.DataFrame, departements: pd.DataFrame | None = None) -> Reconciliation:
    """Count the registry's schools and laureates against the press release.

    Parameters
    ----------
    sites
        Validated registry (columns ``existante_2021``, ``ami_2021``, ``confiance``, ``id``,
        ``nom``).
    departements
        Départements with a ``statut`` column (from the join step); when given, the newly
        covered départements are counted and named too.

    Returns
    -------
    Reconciliation
        Figures, newly covered départements and the low-confidence rows.
    """
    existing = sites[sites["existante_2021"].astype(bool)]
    eng = sites[sites["ami_2021"].eq("ingenierie").fillna(False)]
    inv = sites[sites["ami_2021"].eq("investissement").fillna(False)]
    lines = [
        Line("existantes", "écoles existantes", PRESS_RELEASE["existantes"], len(existing),
             _by_confidence(existing)),
        Line("ingenierie", "lauréats AMI en ingénierie", PRESS_RELEASE["ingenierie"], len(eng),
             _by_confidence(eng)),
        Line("investissement", "lauréats AMI en investissement",
             PRESS_RELEASE["investissement"], len(inv), _by_confidence(inv)),
    ]
    new: list[tuple[str, str]] = []
    if departements is not None:
        rows = departements[departements["statut"].eq(STATUS_NEW)].sort_values("code")
        new = list(zip(rows["code"], rows["nom"], strict=True))
        lines.append(Line("nouvellement_couverts", "départements nouvellement couverts",
                          PRESS_RELEASE["nouvellement_couverts"], len(new)))
    low = sites[sites["confiance"].eq("basse")]
    return Reconciliation(lines, new, list(zip(low["id"], low["nom"], strict=True)))


#: Columns of ``ecoles.csv``, the data behind the map, in reading order.
TABLE_COLUMNS = (
    "id", "nom", "commune", "code_insee", "departement", "categorie", "existante_2021",
    "ami_2021", "etiquette", "metier", "confiance", "sources", "longitude", "latitude",
)
#: Short French names of the categories, for the table readers see instead of the map.
CATEGORY_NAMES = {
    "existante": "école existante",
    "ingenierie": "lauréat AMI ingénierie",
    "investissement": "lauréat AMI investissement",
    "autre": "autre",
}


def sites_table(sites: pd.DataFrame) -> pd.DataFrame:
    """Return the data behind the map: one row per site, sorted by département then name.

    Parameters
    ----------
    sites
        Sites from :func:`pipeline.join.mark_coverage`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE_COLUMNS`; ``existante_2021`` as "oui"/"non", like the registry.
        Not a GeoDataFrame: longitude and latitude carry the position.
    """
    table = pd.DataFrame(sites).reindex(columns=list(TABLE_COLUMNS)).copy()
    table["existante_2021"] = ["oui" if bool(v) else "non" for v in table["existante_2021"]]
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
        Sites from :func:`pipeline.join.mark_coverage`.
    departements
        Départements from :func:`pipeline.join.mark_coverage` (``code``, ``nom``,
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
