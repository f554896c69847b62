"""Reconciliations: the registry against the press release, and over time against published counts.

Each reconciliation is data (a dataclass or a table) with its texts for stderr and Markdown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipeline.config import (
    ANNEX_DATE,
    FIGURE_COUNT,
    FIGURE_FORECAST,
    FIGURE_RANK,
    PRESS_RELEASE,
    UNDATED_COUNTS,
    UndatedCount,
    all_published_counts,
)
from pipeline.french import french_date
from pipeline.schema import (
    CONFIDENCE_LEVELS,
    COVERED_BEFORE,
    COVERED_SINCE,
    PRECISION_DAY,
    STATUS_NEW,
)
from pipeline.steps.history import coverage_as_of, sites_as_of
from pipeline.steps.openings import laureates, same_place
from pipeline.textsafe import markdown_text


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
            out += [f"- {markdown_text(name)} ({code})" for code, name in self.new_departements]
        if self.low_confidence:
            out += ["", "## Lignes de confiance basse", ""]
            out += [f"- `{rid}` : {markdown_text(nom)}" for rid, nom in self.low_confidence]
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


# --- Over time: the openings against the published sizes of the network -----------------
def reconcile_over_time(
    registry: pd.DataFrame,
    openings: pd.DataFrame,
    *,
    departement_of_site: str | Mapping[str, str] = "departement",
) -> pd.DataFrame:
    """Compare, at each published date, the schools open in the data with the published count.

    Parameters
    ----------
    registry
        The validated 2021 registry.
    openings
        The validated openings.
    departement_of_site
        As in :func:`coverage_as_of`.

    Returns
    -------
    pandas.DataFrame
        One row per :func:`all_published_counts` entry: ``date`` (``datetime64[s]``, the
        day compared at), ``libelle``, ``ecoles_publiees``, ``ecoles_registre`` (open on
        that date), ``ecart`` (registre − publiées), ``departements_couverts``, ``source``,
        ``url``, and what qualifies the figure: ``precision`` of its date, ``nature``
        ("effectif", "rang", "prevision"), ``arrondi`` (bool) and ``note``.
    """
    rows = []
    for pub in all_published_counts():
        sites = sites_as_of(registry, openings, pub.date)
        cov = coverage_as_of(sites, departement_of_site=departement_of_site)
        counted = int(sites["ouverte"].sum())
        rows.append({
            "date": pd.Timestamp(pub.date), "libelle": pub.libelle,
            "ecoles_publiees": pub.ecoles, "ecoles_registre": counted,
            "ecart": counted - pub.ecoles,
            "departements_couverts": int(cov["statut"].isin([COVERED_BEFORE,
                                                             COVERED_SINCE]).sum()),
            "source": pub.source, "url": pub.url, "precision": pub.precision,
            "nature": pub.nature, "arrondi": pub.arrondi, "note": pub.note,
        })
    out = pd.DataFrame(rows)
    out["date"] = out["date"].astype("datetime64[s]")
    return out


def reconcile_openings(registry: pd.DataFrame, openings: pd.DataFrame) -> pd.DataFrame:
    """List where the openings and the 2021 registry disagree or need a reader's eye.

    Parameters
    ----------
    registry
        The validated 2021 registry.
    openings
        The validated openings.

    Returns
    -------
    pandas.DataFrame
        ``id`` (the opening, or the laureate when it has none), ``ami_2021_id``, ``nom``,
        ``ecart`` and ``detail`` (French), one row per finding:

        - "comptee_en_2021_ouverte_apres": a school counted among the 42 on 23 Nov 2021
          whose linked opening is dated after the annex (it stays counted at the annex);
        - "investissement_sans_ecole_2021": an investment laureate not counted among the 42
          (investment aid went to existing schools), opened after the annex;
        - "lieu_different": a laureate opened elsewhere than the place announced;
        - "sans_ouverture_connue": a laureate not existing in 2021 with no opening listed.
    """
    links = {str(o["ami_2021_id"]): o for _, o in openings.iterrows()
             if pd.notna(o["ami_2021_id"])}
    rows: list[dict[str, str]] = []
    for rid, reg in laureates(registry).items():
        link = links.get(rid)
        if link is None:
            if not reg["existante_2021"]:
                rows.append({"id": rid, "ami_2021_id": rid, "nom": str(reg["nom"]),
                             "ecart": "sans_ouverture_connue",
                             "detail": f"lauréat annoncé à {reg['commune']} "
                                       f"({reg['departement']}) : aucune ouverture connue"})
            continue
        opened = link["date_ouverture"].date().isoformat()

        def add(kind: str, detail: str, *, _link: pd.Series = link, _rid: str = rid) -> None:
            rows.append({"id": str(_link["id"]), "ami_2021_id": _rid,
                         "nom": str(_link["nom"]), "ecart": kind, "detail": detail})

        if reg["existante_2021"]:
            add("comptee_en_2021_ouverte_apres",
                f"comptée parmi les 42 le {ANNEX_DATE.isoformat()} mais ouverture datée "
                f"{link['ouverture']} ({opened}) ; reste comptée à la date de l'annexe")
        elif reg["ami_2021"] == "investissement":
            add("investissement_sans_ecole_2021",
                f"lauréate « investissement » non comptée parmi les 42, ouverte le {opened}")
        if not same_place(reg, link):
            add("lieu_different",
                f"annoncée à {reg['commune']} ({reg['departement']}), ouverte à "
                f"{link['commune']} ({link['departement']})")
    return pd.DataFrame(rows, columns=["id", "ami_2021_id", "nom", "ecart", "detail"])


def _qualifiers(row: Mapping[Any, object]) -> list[str]:
    """Say what qualifies a published figure (French): rank, forecast, rounded, date."""
    parts = []
    nature = row.get("nature", FIGURE_COUNT)
    if nature == FIGURE_RANK:
        parts.append("rang donné à une nouvelle école")
    elif nature == FIGURE_FORECAST:
        parts.append("prévision")
    if row.get("arrondi") is True:
        parts.append("chiffre qui semble arrondi ou choisi")
    note = row.get("note")
    if isinstance(note, str) and note:
        parts.append(note)
    precision = row.get("precision", PRECISION_DAY)
    date = row.get("date")
    if precision != PRECISION_DAY and isinstance(date, (dt.date, pd.Timestamp)):
        day = date.date() if isinstance(date, pd.Timestamp) else date
        parts.append(f"comparé au {french_date(day)}, dernier jour de la période")
    return parts


def reconciliation_markdown(reconciled: pd.DataFrame, findings: pd.DataFrame, *,
                            missing_note: str | None = None,
                            undated: Sequence[UndatedCount] = UNDATED_COUNTS) -> str:
    """Render the dated reconciliation as a Markdown document.

    Parameters
    ----------
    reconciled
        Output of :func:`reconcile_over_time`.
    findings
        Output of :func:`reconcile_openings`.
    missing_note
        Extra sentence on the schools known to be missing (default: the openings left out
        of ``ouvertures.csv`` and the network's unidentified openings).
    undated
        Published figures without a date, listed after the table (default
        :data:`UNDATED_COUNTS`).

    Returns
    -------
    str
        A table (date, published, registry, gap, départements covered, source, remark:
        rank, forecast, rounded figure, approximate date), the dates where schools are
        known to be missing, the undated figures, and the findings.
    """
    out = ["# Rapprochement dans le temps : registre et effectifs publiés", "",
           "| date | publié | registre | écart | départements couverts | source | remarque |",
           "|---|---:|---:|---:|---:|---|---|"]
    rows = reconciled.to_dict("records")
    for row in rows:
        url = row["url"]
        source = f"[{row['source']}]({url})" if isinstance(url, str) else str(row["source"])
        out.append(f"| {row['libelle']} | {row['ecoles_publiees']} | {row['ecoles_registre']} | "
                   f"{int(row['ecart']):+d} | {row['departements_couverts']} | {source} | "
                   f"{' ; '.join(_qualifiers(row))} |")
    out += ["", "## Dates où des écoles manquent au registre", ""]
    if all(int(row["ecart"]) >= 0 for row in rows):
        out.append("Aucune : le registre atteint chaque effectif publié.")
    for row in rows:
        gap = int(row["ecart"])
        caveat = ""
        if row.get("nature") == FIGURE_FORECAST:
            caveat = " ; une prévision, pas un constat"
        elif row.get("arrondi") is True:
            caveat = " ; chiffre qui semble arrondi ou choisi"
        if gap < 0:
            out.append(f"- {row['libelle']} : {-gap} école(s) publiée(s) absente(s) du "
                       f"registre ({row['ecoles_registre']} contre {row['ecoles_publiees']}"
                       f"{caveat}).")
        elif gap > 0:
            out.append(f"- {row['libelle']} : le registre compte {gap} école(s) de plus que le "
                       "chiffre publié (ouverture datée plus tôt, ou chiffre arrondi).")
    out += ["", missing_note or (
        "Les écarts négatifs viennent des ouvertures non identifiées par la recherche et des "
        "lignes écartées de ouvertures.csv faute de lieu ou de confirmation (voir "
        "data/raw/README.md). Le réseau compte parfois des sections ou des sites secondaires, "
        "et certains rangs semblent arrondis : l'écart est un ordre de grandeur.")]
    if undated:
        out += ["", "## Chiffres publiés sans date", "",
                "Ils ne se rapprochent d'aucune date du registre ; listés pour mémoire.", ""]
        for fig in undated:
            source = f"[{fig.source}]({fig.url})" if fig.url else fig.source
            qualifiers = _qualifiers({"nature": fig.nature, "arrondi": fig.arrondi,
                                      "note": fig.note})
            extra = f" ({' ; '.join(qualifiers)})" if qualifiers else ""
            out.append(f"- {fig.ecoles} : {source}, {fig.libelle}{extra}.")
    if not findings.empty:
        out += ["", "## Points d'attention", "",
                "| site | lauréat 2021 | écart | détail |", "|---|---|---|---|"]
        for finding in findings.to_dict("records"):
            out.append(f"| {markdown_text(finding['nom'])} (`{finding['id']}`) | "
                       f"`{finding['ami_2021_id']}` | {finding['ecart']} | "
                       f"{markdown_text(finding['detail'])} |")
    return "\n".join(out) + "\n"


def reconciliation_text(reconciled: pd.DataFrame) -> str:
    """Render the dated reconciliation as plain text for stderr.

    Parameters
    ----------
    reconciled
        Output of :func:`reconcile_over_time`.

    Returns
    -------
    str
        One line per published count, the gap flagged "MANQUE" where schools are missing,
        then what qualifies the figure (rank, forecast, rounded) in parentheses.
    """
    out = ["Rapprochement dans le temps (registre / publié) :"]
    for row in reconciled.to_dict("records"):
        gap = int(row["ecart"])
        mark = "ok" if gap == 0 else ("MANQUE" if gap < 0 else "en plus")
        flags = [label for flag, label in (
            (row.get("nature") == FIGURE_RANK, "rang"),
            (row.get("nature") == FIGURE_FORECAST, "prévision"),
            (row.get("arrondi") is True, "arrondi ?"),
            (row.get("precision", PRECISION_DAY) != PRECISION_DAY, "date approchée"),
        ) if flag]
        extra = f" ({', '.join(flags)})" if flags else ""
        out.append(f"  {row['libelle']!s:<20} {row['ecoles_registre']!s:>3} / "
                   f"{row['ecoles_publiees']!s:<3} {gap:+d} {mark}{extra}")
    return "\n".join(out)
