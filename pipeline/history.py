"""Coverage over time: the schools opened after the 2021 annex, and the map as of any date.

The registry (``data/raw/ecoles.csv``) describes the network as the press release of
23 November 2021 saw it; the openings (``data/raw/ouvertures.csv``) list each site opened after
that date. This module validates the openings and answers "which sites, and which
départements, on date D?" without any geometry: it works on the declared ``departement``
code, or on a mapping from site id to the spatially joined code.

Dates
-----
An opening or closing is written ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` and resolved to one
day, kept with its precision (``"jour"``, ``"mois"``, ``"annee"``):

- a day is itself;
- a month is its first day ("2022-09": open from 2022-09-01), as the sources say "opened in
  September" of a school that starts at the rentrée;
- a bare year is its last day ("2023": open by 2023-12-31). This is the conservative reading:
  the source only proves the school was open by the end of that year, and a map of a date
  inside the year must not show a school that may not have opened yet.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from pipeline.config import ANNEX_DATE
from pipeline.errors import Problem, SourceDataError
from pipeline.ingest import COLUMNS as REGISTRY_COLUMNS
from pipeline.ingest import (
    DEPARTEMENT_CODES,
    OPENING_PATTERN,
    check_cell,
    fold_value,
)

log = logging.getLogger(__name__)

#: Columns of ``data/raw/ouvertures.csv``, in their canonical order.
OPENING_COLUMNS: Final = (
    "id", "nom", "commune", "departement", "ouverture", "fermeture", "ami_2021_id", "metier",
    "confiance", "sources", "note",
)
#: Columns the header must contain.
OPENING_REQUIRED: Final = ("id", "nom", "commune", "departement", "ouverture", "confiance",
                           "sources")
#: Columns that must hold a value on every row.
OPENING_NON_EMPTY: Final = OPENING_REQUIRED

#: Precision of a resolved date (values of ``ouverture_precision``, ``fermeture_precision``).
PRECISION_DAY: Final = "jour"
PRECISION_MONTH: Final = "mois"
PRECISION_YEAR: Final = "annee"

#: Status of a site on a date (values of ``statut_site``).
SITE_OPEN: Final = "ouverte"
SITE_ANNOUNCED: Final = "annoncee"
SITE_CLOSED: Final = "fermee"

#: Status of a département on a date (values of ``statut`` in :func:`coverage_as_of`).
COVERED_BEFORE: Final = "couvert_avant_annexe"
COVERED_SINCE: Final = "couvert_depuis_annexe"
ANNOUNCED: Final = "annonce"
NOT_COVERED: Final = "non_couvert"

#: Columns added by :func:`sites_as_of` to the registry's.
SITE_COLUMNS: Final = (
    *REGISTRY_COLUMNS, "ami_2021_id", "ouverte", "ouverte_annexe", "statut_site",
    "date_ouverture", "date_fermeture", "lieu_annonce",
)

#: Table name of :func:`coverage_history` in the GeoPackage, and the one-line question.
HISTORY_TABLE: Final = "couverture_historique"
FIRST_SCHOOL_SQL: Final = (
    f"SELECT date, premiere_ouverture FROM {HISTORY_TABLE} "
    "WHERE departement = :departement AND nb_ecoles_ouvertes > 0 ORDER BY date LIMIT 1"
)


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


def resolve_date(value: str) -> tuple[dt.date, dt.date, str]:
    """Resolve a written date to the day it counts from, the period's start, and precision.

    Parameters
    ----------
    value
        ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``.

    Returns
    -------
    day : datetime.date
        The day the event counts from: the day itself, the first of the month, or the
        31 December of the year (see the module docstring).
    start : datetime.date
        The first day the value can mean (to tell a date in the future).
    precision : str
        ``"jour"``, ``"mois"`` or ``"annee"``.

    Raises
    ------
    ValueError
        If ``value`` is not in one of those forms or names no calendar day.
    """
    text = value.strip()
    if not OPENING_PATTERN.match(text):
        raise ValueError(f"{value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    parts = [int(p) for p in text.split("-")]
    if len(parts) == 3:
        day = dt.date(parts[0], parts[1], parts[2])
        return day, day, PRECISION_DAY
    if len(parts) == 2:
        first = dt.date(parts[0], parts[1], 1)
        return first, first, PRECISION_MONTH
    return dt.date(parts[0], 12, 31), dt.date(parts[0], 1, 1), PRECISION_YEAR


def _laureates(registry: pd.DataFrame) -> dict[str, pd.Series]:
    """Registry rows of the AMI 2021 laureates, by id."""
    rows = registry[registry["ami_2021"].notna()]
    return {str(row["id"]): row for _, row in rows.iterrows()}


def validate_openings(
    records: pd.DataFrame,
    *,
    lines: Sequence[int] | None = None,
    source: str = "<ouvertures>",
    registry: pd.DataFrame,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Check every row of the openings after the annex and return a clean, typed copy.

    All problems are collected in one pass and raised together, as
    :func:`pipeline.ingest.validate_registry` does.

    Parameters
    ----------
    records
        The openings as read (every cell a string), e.g. from
        :func:`pipeline.io.read_csv_records`.
    lines
        Line number of each record in ``source`` (defaults to row position + 2).
    source
        Name of the file, quoted in error messages.
    registry
        The validated 2021 registry: ids must not collide with its ids, and ``ami_2021_id``
        must name one of its AMI laureates.
    today
        Dates after this day are errors (default: :func:`datetime.date.today`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`OPENING_COLUMNS` (text, ``<NA>`` when empty; ``departement`` a
        canonical code) plus ``date_ouverture``, ``date_fermeture`` (``datetime64[s]``,
        resolved as in :func:`resolve_date`; NaT without closing), ``ouverture_precision``
        and ``fermeture_precision``.

    Raises
    ------
    SourceDataError
        With one :class:`~pipeline.errors.Problem` per bad cell, missing or unknown column.
    """
    today = today or dt.date.today()
    line_of = list(lines) if lines is not None else [i + 2 for i in range(len(records))]
    problems: list[Problem] = []
    header = [str(c) for c in records.columns]
    for col in sorted({c for c in header if header.count(c) > 1}):
        problems.append(Problem(source, 1, col, None, "column appears twice in the header"))
    for col in OPENING_REQUIRED:
        if col not in header:
            problems.append(Problem(
                source, 1, col, None,
                "required column is missing; the header must contain "
                f"{', '.join(OPENING_COLUMNS)}"))
    for col in header:
        if col not in OPENING_COLUMNS:
            problems.append(Problem(source, 1, col, None, "unknown column; rename it (expected "
                                    f"one of {', '.join(OPENING_COLUMNS)})"))
    if problems:
        raise SourceDataError(problems, summary=f"{source}: the header is not an openings header")

    frame = records.reindex(columns=list(OPENING_COLUMNS), fill_value="").fillna("").astype(str)
    frame = frame.apply(lambda s: s.str.strip())
    registry_ids = set(registry["id"].astype(str))
    laureates = _laureates(registry)
    seen: dict[str, int] = {}
    realised: dict[str, int] = {}
    resolved: list[tuple[dt.date | None, str | None, dt.date | None, str | None]] = []
    for pos, (line, row) in enumerate(zip(line_of, frame.itertuples(index=False), strict=True)):
        values = dict(zip(OPENING_COLUMNS, (str(v) for v in row), strict=True))

        def bad(column: str, message: str, value: str | None = None, *, _line: int = line,
                _values: dict[str, str] = values) -> None:
            shown = value if value is not None else _values[column]
            problems.append(Problem(source, _line, column, shown, message))

        for col in OPENING_NON_EMPTY:
            if not values[col]:
                bad(col, "empty; every opening needs a value here", "")
        rid = values["id"]
        if rid in seen:
            bad("id", f"duplicate id, already used on line {seen[rid]}; ids must be unique")
        elif rid:
            seen[rid] = line
        if rid in registry_ids:
            bad("id", "this id belongs to a school of the 2021 registry; give the site its "
                "own id (e.g. name-commune) and put the 2021 id in 'ami_2021_id'")
        if "?" in values["commune"]:
            bad("commune", "uncertain place; write the commune the source supports, or leave "
                "the row out and say why in data/raw/README.md")
        for col in ("id", "departement", "confiance", "sources"):
            if values[col]:
                normalized, issues = check_cell(col, values[col])
                for message, shown in issues:
                    bad(col, message, shown)
                if not issues:
                    frame.iat[pos, OPENING_COLUMNS.index(col)] = normalized
        link = values["ami_2021_id"]
        if link:
            if link not in laureates:
                what = ("is a 2021 school but not an AMI laureate" if link in registry_ids
                        else "is no id of the 2021 registry")
                bad("ami_2021_id", f"{what}; write the id of the AMI 2021 laureate this site "
                    "realises, or leave empty")
            elif link in realised:
                bad("ami_2021_id", f"this laureate is already realised on line {realised[link]}; "
                    "a laureate opens one site")
            else:
                realised[link] = line

        opened = opened_precision = closed = closed_precision = None
        if values["ouverture"]:
            try:
                opened, start, opened_precision = resolve_date(values["ouverture"])
            except ValueError:
                bad("ouverture", "write a real date as YYYY-MM-DD, YYYY-MM or YYYY")
            else:
                if start > today:
                    bad("ouverture", f"in the future (today is {today.isoformat()}); list a "
                        "school only once it has opened")
                elif opened <= ANNEX_DATE:
                    bad("ouverture", f"not after the annex of {ANNEX_DATE.isoformat()}; schools "
                        "open by then belong in ecoles.csv (for November 2021, give the day)")
        if values["fermeture"]:
            try:
                closed, start, closed_precision = resolve_date(values["fermeture"])
            except ValueError:
                bad("fermeture", "write a real date as YYYY-MM-DD, YYYY-MM or YYYY, or leave "
                    "empty")
            else:
                if start > today:
                    bad("fermeture", f"in the future (today is {today.isoformat()}); record a "
                        "closing once it has happened")
                elif opened is not None and closed <= opened:
                    bad("fermeture", f"not after the opening ({opened.isoformat()} from "
                        f"{values['ouverture']!r}); fix one of the two dates, more precisely "
                        "if they share a year")
        resolved.append((opened, opened_precision, closed, closed_precision))
    if problems:
        raise SourceDataError(
            problems, summary=f"{source}: {len(problems)} problem(s); nothing was written")

    clean = frame.copy()
    for col in ("fermeture", "ami_2021_id", "metier", "note"):
        clean[col] = clean[col].mask(clean[col].eq(""), pd.NA)
    clean["sources"] = clean["sources"].map(
        lambda s: " | ".join(u.strip() for u in s.split("|") if u.strip()))
    clean["date_ouverture"] = _dates([r[0] for r in resolved])
    clean["ouverture_precision"] = pd.Series([r[1] for r in resolved], dtype="str")
    clean["date_fermeture"] = _dates([r[2] for r in resolved])
    clean["fermeture_precision"] = pd.Series([r[3] for r in resolved], dtype="str")
    return clean.reset_index(drop=True)


def _dates(values: Iterable[dt.date | None]) -> pd.Series:
    """Return a ``datetime64[s]`` series of ``values``, NaT for None."""
    return pd.Series([pd.NaT if v is None else pd.Timestamp(v) for v in values],
                     dtype="datetime64[s]")


def _registry_opening(row: pd.Series) -> pd.Timestamp | None:
    """Return when a school counted at the annex opened: its date, at the latest the annex."""
    if pd.isna(row["ouverture"]):
        return None
    day = resolve_date(str(row["ouverture"]))[0]
    return pd.Timestamp(min(day, ANNEX_DATE))


def _same_place(a: pd.Series, b: pd.Series) -> bool:
    return bool(fold_value(str(a["commune"])) == fold_value(str(b["commune"]))
                and a["departement"] == b["departement"])


def sites_as_of(registry: pd.DataFrame, openings: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Return the sites to draw on ``as_of``, in the registry's columns plus their state.

    Rules:

    - The 42 schools the press release counted (``existante_2021``) are open on the annex
      date and after it, even when a later source dates their first class after the annex
      (Fask Academy, Métallik Vallée: see :func:`reconcile_openings`); only a ``fermeture``
      on the opening row linked to them closes them. Before the annex, a school counts from
      its registry ``ouverture`` (capped at the annex date); without a date it is assumed
      open.
    - An AMI laureate is drawn from the annex date on: at its announced place
      (``statut_site`` "annoncee") until its linked opening, then at its real site with the
      opening's id, place and sources; ``lieu_annonce`` then names the announced commune if
      it differs, and ``ami_2021_id`` links both.
    - Any other opening is drawn from its ``date_ouverture``.
    - A site past its ``date_fermeture`` stays in the table as "fermee" (``ouverte`` False).

    Parameters
    ----------
    registry
        The validated 2021 registry (:func:`pipeline.ingest.validate_registry`).
    openings
        The validated openings (:func:`validate_openings`).
    as_of
        The date of the map.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SITE_COLUMNS`: the registry's, then ``ami_2021_id`` (the laureate a
        site realises or is), ``ouverte`` (bool), ``ouverte_annexe`` (bool: counted open on
        23 Nov 2021), ``statut_site`` ("ouverte" | "annoncee" | "fermee"),
        ``date_ouverture``, ``date_fermeture`` (``datetime64[s]``) and ``lieu_annonce``.
        Registry order first, then the other openings in file order.
    """
    day = pd.Timestamp(as_of)
    annex = pd.Timestamp(ANNEX_DATE)
    links = {str(o["ami_2021_id"]): o for _, o in openings.iterrows()
             if pd.notna(o["ami_2021_id"])}
    rows: list[dict[str, object]] = []

    def state(opened: pd.Timestamp | None, closed: pd.Timestamp | None) -> dict[str, object]:
        is_closed = closed is not None and pd.notna(closed) and closed <= day
        return {"ouverte": not is_closed, "statut_site": SITE_CLOSED if is_closed else SITE_OPEN,
                "date_ouverture": opened, "date_fermeture": closed}

    for _, reg in registry.iterrows():
        rid = str(reg["id"])
        link = links.get(rid)
        laureate = pd.notna(reg["ami_2021"])
        base: dict[str, object] = {c: reg[c] for c in REGISTRY_COLUMNS}
        base.update(ami_2021_id=rid if laureate else pd.NA, lieu_annonce=pd.NA)
        if reg["existante_2021"]:
            opened = _registry_opening(reg)
            if day < annex and opened is not None and opened > day:
                continue
            closed = link["date_fermeture"] if link is not None else None
            rows.append({**base, "ouverte_annexe": True, **state(opened, closed)})
        elif laureate and day >= annex:
            if link is not None and link["date_ouverture"] <= day:
                site = {c: link[c] for c in ("id", "nom", "commune", "departement", "metier",
                                             "ouverture", "confiance", "sources", "note")}
                moved = not _same_place(reg, link)
                rows.append({**base, **site, "existante_2021": False,
                             "lieu_annonce": reg["commune"] if moved else pd.NA,
                             "ouverte_annexe": False,
                             **state(link["date_ouverture"], link["date_fermeture"])})
            else:
                rows.append({**base, "ouverte_annexe": False, "ouverte": False,
                             "statut_site": SITE_ANNOUNCED, "date_ouverture": pd.NaT,
                             "date_fermeture": pd.NaT})
        elif not laureate:
            log.warning("registry row %r is neither an existing school nor a laureate; "
                        "not drawn", rid)
    for _, op in openings[openings["ami_2021_id"].isna()].iterrows():
        if op["date_ouverture"] > day:
            continue
        site = {c: op.get(c, pd.NA) for c in REGISTRY_COLUMNS}
        site.update(existante_2021=False, ami_2021=pd.NA, libelle_annexe=pd.NA,
                    ami_2021_id=pd.NA, lieu_annonce=pd.NA, ouverte_annexe=False)
        rows.append({**site, **state(op["date_ouverture"], op["date_fermeture"])})

    sites = pd.DataFrame(rows, columns=list(SITE_COLUMNS))
    for col in ("existante_2021", "ouverte", "ouverte_annexe"):
        sites[col] = sites[col].astype(bool)
    for col in ("date_ouverture", "date_fermeture"):
        sites[col] = sites[col].astype("datetime64[s]")
    return sites.reset_index(drop=True)


def all_sites(registry: pd.DataFrame, openings: pd.DataFrame) -> pd.DataFrame:
    """Return every site ever drawn: the 2021 schools, announced places and real sites.

    Geocode (and join spatially) this table once; pass the resulting id → code mapping as
    ``departement_of_site`` to :func:`coverage_as_of` or :func:`coverage_history`.

    Parameters
    ----------
    registry
        The validated 2021 registry.
    openings
        The validated openings.

    Returns
    -------
    pandas.DataFrame
        The registry's columns plus ``ami_2021_id`` and ``lieu_annonce``, one row per id:
        a laureate that opened appears twice, under its 2021 id at the announced place and
        under the opening's id at the real site.
    """
    both = pd.concat([sites_as_of(registry, openings, ANNEX_DATE),
                      sites_as_of(registry, openings, dt.date(9999, 12, 31))],
                     ignore_index=True)
    columns = [*REGISTRY_COLUMNS, "ami_2021_id", "lieu_annonce"]
    return both.drop_duplicates("id", keep="first")[columns].reset_index(drop=True)


def _departement_codes(sites: pd.DataFrame,
                       departement_of_site: str | Mapping[str, str]) -> pd.Series:
    """Return the département code of each site, from a column or a mapping id → code."""
    if isinstance(departement_of_site, str):
        return sites[departement_of_site].astype("str")
    codes = sites["id"].map(lambda rid: departement_of_site.get(str(rid)))
    return codes.astype("str")


def coverage_as_of(
    sites: pd.DataFrame,
    *,
    departement_of_site: str | Mapping[str, str] = "departement",
    departements: Collection[str] | None = None,
) -> pd.DataFrame:
    """Return the coverage status of every département, from a :func:`sites_as_of` table.

    Parameters
    ----------
    sites
        Output of :func:`sites_as_of` for the date of interest.
    departement_of_site
        Name of the column holding each site's département code (the declared
        ``departement`` by default; ``departement_spatial`` after the spatial join), or a
        mapping from site ``id`` to code. Sites without a code are left out (logged).
    departements
        Codes to report (default: the 101 départements); départements holding a site are
        always reported.

    Returns
    -------
    pandas.DataFrame
        One row per département, sorted by code: ``departement``, ``statut``
        ("couvert_avant_annexe": open school now and one open on 23 Nov 2021;
        "couvert_depuis_annexe": open school now, none on 23 Nov 2021; "annonce": a laureate
        announced, nothing open; "non_couvert"), ``premiere_ouverture`` (earliest known
        ``date_ouverture`` of a site opened there by the date, closed since or not; NaT when
        only schools of unknown date), ``nb_ecoles_ouvertes``, ``nb_ouvertures_depuis_annexe``
        (open, not counted on 23 Nov 2021) and ``nb_laureats_annonces``.
    """
    codes = _departement_codes(sites, departement_of_site)
    missing = codes.isna()
    if missing.any():
        log.warning("%d site(s) without a département code left out: %s", int(missing.sum()),
                    ", ".join(sites.loc[missing, "id"].astype(str)))
    placed = sites.assign(_code=codes)[~missing]
    universe = set(DEPARTEMENT_CODES if departements is None else departements)
    universe |= set(placed["_code"].astype(str))
    opened_by_then = placed["statut_site"].isin([SITE_OPEN, SITE_CLOSED])
    grouped = placed.assign(
        _open=placed["ouverte"],
        _new=placed["ouverte"] & ~placed["ouverte_annexe"],
        _announced=placed["statut_site"].eq(SITE_ANNOUNCED),
        _annex=placed["ouverte_annexe"],
        _first=placed["date_ouverture"].where(opened_by_then),
    ).groupby("_code")
    counts = pd.DataFrame({
        "nb_ecoles_ouvertes": grouped["_open"].sum(),
        "nb_ouvertures_depuis_annexe": grouped["_new"].sum(),
        "nb_laureats_annonces": grouped["_announced"].sum(),
        "annexe": grouped["_annex"].any(),
        "premiere_ouverture": grouped["_first"].min(),
    })
    out = pd.DataFrame({"departement": pd.Series(sorted(universe), dtype="str")})
    out = out.merge(counts, how="left", left_on="departement", right_index=True)
    for col in ("nb_ecoles_ouvertes", "nb_ouvertures_depuis_annexe", "nb_laureats_annonces"):
        out[col] = out[col].fillna(0).astype("int64")
    out["premiere_ouverture"] = out["premiere_ouverture"].astype("datetime64[s]")
    covered = out["nb_ecoles_ouvertes"] > 0
    annex = out["annexe"].eq(True)
    out["statut"] = NOT_COVERED
    out.loc[out["nb_laureats_annonces"] > 0, "statut"] = ANNOUNCED
    out.loc[covered & ~annex, "statut"] = COVERED_SINCE
    out.loc[covered & annex, "statut"] = COVERED_BEFORE
    columns = ["departement", "statut", "premiere_ouverture", "nb_ecoles_ouvertes",
               "nb_ouvertures_depuis_annexe", "nb_laureats_annonces"]
    return out[columns].reset_index(drop=True)


def history_dates(openings: pd.DataFrame, *, until: dt.date | None = None) -> list[dt.date]:
    """Return the dates of the coverage history: the annex, then each 31 December.

    Parameters
    ----------
    openings
        The validated openings.
    until
        Last day of interest (default: the latest opening or closing); the year-ends run
        through the year of this day.

    Returns
    -------
    list of datetime.date
        ``[2021-11-23, 2021-12-31, 2022-12-31, ...]`` through the year of ``until``.
    """
    if until is None:
        events = pd.concat([openings["date_ouverture"], openings["date_fermeture"]]).dropna()
        until = events.max().date() if not events.empty else ANNEX_DATE
    return [ANNEX_DATE] + [dt.date(year, 12, 31)
                           for year in range(ANNEX_DATE.year, until.year + 1)]


def coverage_history(
    registry: pd.DataFrame,
    openings: pd.DataFrame,
    dates: Iterable[dt.date] | None = None,
    *,
    departement_of_site: str | Mapping[str, str] = "departement",
    departements: Collection[str] | None = None,
) -> pd.DataFrame:
    """Return the coverage of every département at each date, as one long table.

    Written to a GeoPackage (table :data:`HISTORY_TABLE`), it answers "when did the Aisne
    get its first school?" in one line of SQL (:data:`FIRST_SCHOOL_SQL`)::

        SELECT date, premiere_ouverture FROM couverture_historique
        WHERE departement = '02' AND nb_ecoles_ouvertes > 0 ORDER BY date LIMIT 1

    ``date`` is the first snapshot showing it covered, ``premiere_ouverture`` the day.

    Parameters
    ----------
    registry
        The validated 2021 registry.
    openings
        The validated openings.
    dates
        Snapshot dates (default: :func:`history_dates`).
    departement_of_site, departements
        As in :func:`coverage_as_of`.

    Returns
    -------
    pandas.DataFrame
        ``departement``, ``date``, ``statut``, ``nb_ecoles_ouvertes``,
        ``nb_laureats_annonces``, ``premiere_ouverture``; sorted by département then date.
        Dates are ISO 8601 text (``YYYY-MM-DD``, empty premiere_ouverture as null), the
        GeoPackage encoding of DATE, so that they sort and compare as text in SQL.
    """
    snapshots = sorted(set(dates if dates is not None else history_dates(openings)))
    frames = []
    for day in snapshots:
        sites = sites_as_of(registry, openings, day)
        cov = coverage_as_of(sites, departement_of_site=departement_of_site,
                             departements=departements)
        cov.insert(1, "date", day.isoformat())
        frames.append(cov)
    history = pd.concat(frames, ignore_index=True)
    first = history["premiere_ouverture"]
    history["premiere_ouverture"] = pd.Series(
        [None if pd.isna(v) else v.date().isoformat() for v in first], dtype="str")
    history = history.sort_values(["departement", "date"], kind="stable")
    columns = ["departement", "date", "statut", "nb_ecoles_ouvertes", "nb_laureats_annonces",
               "premiere_ouverture"]
    return history[columns].reset_index(drop=True)


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
    for rid, reg in _laureates(registry).items():
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
        if not _same_place(reg, link):
            add("lieu_different",
                f"annoncée à {reg['commune']} ({reg['departement']}), ouverte à "
                f"{link['commune']} ({link['departement']})")
    return pd.DataFrame(rows, columns=["id", "ami_2021_id", "nom", "ecart", "detail"])


# --- Dated maps: categories, counts, titles and legends ---------------------------------

#: Drawing category of a site on a dated map (values of ``categorie``; styles in
#: :data:`pipeline.config.CATEGORY_STYLE`). A closed site gets :data:`CATEGORY_CLOSED`,
#: which has no style and is not drawn.
CATEGORY_OPEN: Final = "ouverte"
CATEGORY_OPENED_SINCE: Final = "ouverte_depuis_annexe"
CATEGORY_ANNOUNCED: Final = "annoncee"
CATEGORY_CLOSED: Final = "fermee"

_MONTHS: Final = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                  "septembre", "octobre", "novembre", "décembre")


def french_date(day: dt.date) -> str:
    """Return ``day`` as French prose: "1er septembre 2022", "31 décembre 2023".

    Parameters
    ----------
    day
        Any date.

    Returns
    -------
    str
        Day (``1er`` for the first), month name, year.
    """
    first = "1er" if day.day == 1 else str(day.day)
    return f"{first} {_MONTHS[day.month - 1]} {day.year}"


def site_categories(sites: pd.DataFrame) -> pd.Series:
    """Return the drawing category of each site of a :func:`sites_as_of` table.

    Parameters
    ----------
    sites
        Output of :func:`sites_as_of`.

    Returns
    -------
    pandas.Series
        "ouverte" (open, and counted open on 23 Nov 2021), "ouverte_depuis_annexe" (open,
        opened after the annex), "annoncee" (an AMI laureate not open yet) or "fermee",
        aligned on ``sites``.
    """
    out = pd.Series(CATEGORY_CLOSED, index=sites.index, dtype="str")
    out[sites["ouverte"] & sites["ouverte_annexe"]] = CATEGORY_OPEN
    out[sites["ouverte"] & ~sites["ouverte_annexe"]] = CATEGORY_OPENED_SINCE
    out[sites["statut_site"].eq(SITE_ANNOUNCED)] = CATEGORY_ANNOUNCED
    return out


def latest_published(day: dt.date) -> PublishedCount | None:
    """Return the latest published size of the network on or before ``day``.

    Parameters
    ----------
    day
        The date of the map.

    Returns
    -------
    PublishedCount or None
        None before the first published count.
    """
    known = [p for p in published_counts() if p.date <= day]
    return known[-1] if known else None


def dated_counts(sites: pd.DataFrame, coverage: pd.DataFrame) -> dict[str, int]:
    """Return the figures of a dated map from its sites and département statuses.

    Parameters
    ----------
    sites
        Output of :func:`sites_as_of`.
    coverage
        Départements with a ``statut`` column (:func:`coverage_as_of` values).

    Returns
    -------
    dict of str to int
        ``ecoles_ouvertes``, ``ouvertes_avant_annexe``, ``ouvertes_depuis_annexe``,
        ``laureats_annonces``, and one count per département status (``couvert_avant_annexe``,
        ``couvert_depuis_annexe``, ``annonce``, ``non_couvert``).
    """
    cats = site_categories(sites)
    statut = coverage["statut"].astype(str)
    counts = {
        "ecoles_ouvertes": int(sites["ouverte"].sum()),
        "ouvertes_avant_annexe": int(cats.eq(CATEGORY_OPEN).sum()),
        "ouvertes_depuis_annexe": int(cats.eq(CATEGORY_OPENED_SINCE).sum()),
        "laureats_annonces": int(cats.eq(CATEGORY_ANNOUNCED).sum()),
    }
    for status in (COVERED_BEFORE, COVERED_SINCE, ANNOUNCED, NOT_COVERED):
        counts[status] = int(statut.eq(status).sum())
    return counts


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
            out.append(f"| {finding['nom']} (`{finding['id']}`) | `{finding['ami_2021_id']}` | "
                       f"{finding['ecart']} | {finding['detail']} |")
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
