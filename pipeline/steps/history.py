"""The time model: which sites are open, and which départements covered, on any date.

Works without geometry, on the declared ``departement`` code or on a mapping from site id to
the spatially joined code, so a whole history costs milliseconds once the sites are placed.
Inputs are the validated registry (:mod:`pipeline.steps.ingest`) and openings
(:mod:`pipeline.steps.openings`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Final

import pandas as pd

from pipeline.config import ANNEX_DATE, published_counts
from pipeline.schema import (
    ANNOUNCED,
    CATEGORY_ANNOUNCED,
    CATEGORY_CLOSED,
    CATEGORY_OPEN,
    CATEGORY_OPENED_SINCE,
    COVERED_BEFORE,
    COVERED_SINCE,
    DEPARTEMENT_CODES,
    HISTORY_TABLE,
    NOT_COVERED,
    PRECISION_AT_LATEST,
    REGISTRY_COLUMNS,
    SITE_ANNOUNCED,
    SITE_CLOSED,
    SITE_COLUMNS,
    SITE_OPEN,
)
from pipeline.steps.openings import resolve_date, same_place

log = logging.getLogger(__name__)

#: The one-line question of the table :func:`coverage_history` writes to the GeoPackage.
FIRST_SCHOOL_SQL: Final = (
    f"SELECT date, premiere_ouverture FROM {HISTORY_TABLE} "
    "WHERE departement = :departement AND nb_ecoles_ouvertes > 0 ORDER BY date LIMIT 1"
)


def _registry_opening(row: pd.Series) -> tuple[pd.Timestamp | None, str | None]:
    """Return when a school counted at the annex opened, and how precisely it is known.

    Its written date (day, month or year: :func:`resolve_date`) with that precision; a date
    after the annex is capped at the annex, which the press release proves it was open
    on: the day is then an upper bound (:data:`PRECISION_AT_LATEST`). No date: None, None.
    """
    if pd.isna(row["ouverture"]):
        return None, None
    day, _, precision = resolve_date(str(row["ouverture"]))
    if day > ANNEX_DATE:
        return pd.Timestamp(ANNEX_DATE), PRECISION_AT_LATEST
    return pd.Timestamp(day), precision


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
        The validated 2021 registry (:func:`pipeline.steps.ingest.validate_registry`).
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
        ``date_ouverture``, ``date_fermeture`` (``datetime64[s]``), ``lieu_annonce``, then
        ``precision_ouverture`` and ``precision_fermeture``: how the date was written
        ("jour", "mois": the first of the month, "annee": its 31 December), or
        "au_plus_tard" for a school of the annex dated after it (the date is then the
        annex's, an upper bound); NA without a date. Registry order first, then the other
        openings in file order.
    """
    day = pd.Timestamp(as_of)
    annex = pd.Timestamp(ANNEX_DATE)
    links = {str(o["ami_2021_id"]): o for _, o in openings.iterrows()
             if pd.notna(o["ami_2021_id"])}
    rows: list[dict[str, object]] = []

    def state(opened: pd.Timestamp | None, closed: pd.Timestamp | None,
              precisions: tuple[object, object]) -> dict[str, object]:
        is_closed = closed is not None and pd.notna(closed) and closed <= day
        return {"ouverte": not is_closed, "statut_site": SITE_CLOSED if is_closed else SITE_OPEN,
                "date_ouverture": opened, "date_fermeture": closed,
                "precision_ouverture": precisions[0] if opened is not None else pd.NA,
                "precision_fermeture": (precisions[1] if closed is not None and pd.notna(closed)
                                        else pd.NA)}

    def precisions(opening: pd.Series) -> tuple[object, object]:
        return opening["ouverture_precision"], opening["fermeture_precision"]

    for _, reg in registry.iterrows():
        rid = str(reg["id"])
        link = links.get(rid)
        laureate = pd.notna(reg["ami_2021"])
        base: dict[str, object] = {c: reg[c] for c in REGISTRY_COLUMNS}
        base.update(ami_2021_id=rid if laureate else pd.NA, lieu_annonce=pd.NA)
        if reg["existante_2021"]:
            opened, precision = _registry_opening(reg)
            if day < annex and opened is not None and opened > day:
                continue
            closed = link["date_fermeture"] if link is not None else None
            closing = link["fermeture_precision"] if link is not None else pd.NA
            rows.append({**base, "ouverte_annexe": True,
                         **state(opened, closed, (precision, closing))})
        elif laureate and day >= annex:
            if link is not None and link["date_ouverture"] <= day:
                site = {c: link[c] for c in ("id", "nom", "commune", "departement", "metier",
                                             "ouverture", "confiance", "sources", "note")}
                moved = not same_place(reg, link)
                rows.append({**base, **site, "existante_2021": False,
                             "lieu_annonce": reg["commune"] if moved else pd.NA,
                             "ouverte_annexe": False,
                             **state(link["date_ouverture"], link["date_fermeture"],
                                     precisions(link))})
            else:
                rows.append({**base, "ouverte_annexe": False, "ouverte": False,
                             "statut_site": SITE_ANNOUNCED, "date_ouverture": pd.NaT,
                             "date_fermeture": pd.NaT, "precision_ouverture": pd.NA,
                             "precision_fermeture": pd.NA})
        elif not laureate:
            log.warning("la ligne %r du registre n'est ni une école existante ni un lauréat ; "
                        "elle n'est pas dessinée", rid)
    for _, op in openings[openings["ami_2021_id"].isna()].iterrows():
        if op["date_ouverture"] > day:
            continue
        site = {c: op.get(c, pd.NA) for c in REGISTRY_COLUMNS}
        site.update(existante_2021=False, ami_2021=pd.NA, libelle_annexe=pd.NA,
                    ami_2021_id=pd.NA, lieu_annonce=pd.NA, ouverte_annexe=False)
        rows.append({**site, **state(op["date_ouverture"], op["date_fermeture"],
                                     precisions(op))})

    sites = pd.DataFrame(rows, columns=list(SITE_COLUMNS))
    for col in ("existante_2021", "ouverte", "ouverte_annexe"):
        sites[col] = sites[col].astype(bool)
    for col in ("date_ouverture", "date_fermeture"):
        sites[col] = sites[col].astype("datetime64[s]")
    for col in ("precision_ouverture", "precision_fermeture"):
        sites[col] = sites[col].astype("string")
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
        announced, nothing open; "non_couvert"), ``premiere_ouverture`` and
        ``precision_premiere_ouverture``, ``nb_ecoles_ouvertes``,
        ``nb_ouvertures_depuis_annexe`` (open, not counted on 23 Nov 2021) and
        ``nb_laureats_annonces``.

        ``premiere_ouverture`` is the earliest ``date_ouverture`` of a site opened there by
        the date (closed since or not), with that date's precision. It never contradicts
        ``statut``: where a school counted on 23 Nov 2021 has no known date, the first
        opening was on or before the annex and may be earlier than every known date, so the
        value is an upper bound, precision "au_plus_tard": the earliest known date if it is
        not after the annex, else the annex date itself (Loire-Atlantique, whose 2021
        schools are undated, is covered *by* 23 Nov 2021, not first on 2022-09-01). NaT
        (and NA) where nothing has opened.
    """
    codes = _departement_codes(sites, departement_of_site)
    missing = codes.isna()
    if missing.any():
        log.warning("%d site(s) sans code de département laissé(s) de côté : %s",
                    int(missing.sum()),
                    ", ".join(sites.loc[missing, "id"].astype(str)))
    placed = sites.assign(_code=codes)[~missing]
    universe = set(DEPARTEMENT_CODES if departements is None else departements)
    universe |= set(placed["_code"].astype(str))
    opened_by_then = placed["statut_site"].isin([SITE_OPEN, SITE_CLOSED])
    first = placed["date_ouverture"].where(opened_by_then)
    grouped = placed.assign(
        _open=placed["ouverte"],
        _new=placed["ouverte"] & ~placed["ouverte_annexe"],
        _announced=placed["statut_site"].eq(SITE_ANNOUNCED),
        _annex=placed["ouverte_annexe"],
        _first=first,
        _undated=placed["ouverte_annexe"] & placed["date_ouverture"].isna(),
    ).groupby("_code")
    # The precision of each département's earliest date (ties: the first site in order).
    precision = placed.get("precision_ouverture", pd.Series(pd.NA, index=placed.index))
    dated = pd.DataFrame({"_code": placed["_code"], "_first": first, "_precision": precision})
    dated = dated[first.notna()].sort_values("_first", kind="stable")
    earliest = dated.groupby("_code")["_precision"].first()
    counts = pd.DataFrame({
        "nb_ecoles_ouvertes": grouped["_open"].sum(),
        "nb_ouvertures_depuis_annexe": grouped["_new"].sum(),
        "nb_laureats_annonces": grouped["_announced"].sum(),
        "annexe": grouped["_annex"].any(),
        "undated_annex": grouped["_undated"].any(),
        "premiere_ouverture": grouped["_first"].min(),
        "precision_premiere_ouverture": earliest,
    })
    out = pd.DataFrame({"departement": pd.Series(sorted(universe), dtype="str")})
    out = out.merge(counts, how="left", left_on="departement", right_index=True)
    for col in ("nb_ecoles_ouvertes", "nb_ouvertures_depuis_annexe", "nb_laureats_annonces"):
        out[col] = out[col].fillna(0).astype("int64")
    out["premiere_ouverture"] = out["premiere_ouverture"].astype("datetime64[s]")
    out["precision_premiere_ouverture"] = out["precision_premiere_ouverture"].astype("string")
    # A school of the annex without a date opened on or before the annex, maybe before any
    # dated one: the first opening is then known only as an upper bound.
    undated = out["undated_annex"].eq(True).to_numpy()
    annex_day = pd.Timestamp(ANNEX_DATE)
    later = (out["premiere_ouverture"].isna() | (out["premiere_ouverture"] > annex_day)).to_numpy()
    out.loc[undated & later, "premiere_ouverture"] = annex_day
    out.loc[undated, "precision_premiere_ouverture"] = PRECISION_AT_LATEST
    covered = out["nb_ecoles_ouvertes"] > 0
    annex = out["annexe"].eq(True)
    out["statut"] = NOT_COVERED
    out.loc[out["nb_laureats_annonces"] > 0, "statut"] = ANNOUNCED
    out.loc[covered & ~annex, "statut"] = COVERED_SINCE
    out.loc[covered & annex, "statut"] = COVERED_BEFORE
    columns = ["departement", "statut", "premiere_ouverture", "precision_premiere_ouverture",
               "nb_ecoles_ouvertes", "nb_ouvertures_depuis_annexe", "nb_laureats_annonces"]
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
        ``nb_laureats_annonces``, ``premiere_ouverture``, ``precision_premiere_ouverture``
        (as in :func:`coverage_as_of`); sorted by département then date.
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
               "premiere_ouverture", "precision_premiere_ouverture"]
    return history[columns].reset_index(drop=True)


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


def counts_over_time(registry: pd.DataFrame, openings: pd.DataFrame, *,
                     departement_of_site: str | dict[str, str] = "departement",
                     until: dt.date | None = None) -> pd.DataFrame:
    """Return the schools open and départements covered on each day something changed.

    Parameters
    ----------
    registry, openings
        The validated inputs .
    departement_of_site
        As in :func:`coverage_as_of`.
    until
        Last day (default: the later of the last opening or closing and the last published
        count).

    Returns
    -------
    pandas.DataFrame
        ``date`` (``datetime64[s]``), ``ecoles_ouvertes``, ``departements_couverts``, one row
        per event day from the annex on, plus ``until``.
    """
    events = pd.concat([openings["date_ouverture"], openings["date_fermeture"]]).dropna()
    days = {ANNEX_DATE, *(d.date() for d in events)}
    days |= {p.date for p in published_counts() if p.date >= ANNEX_DATE}
    last = until or max(days)
    rows = []
    for day in sorted(d for d in {*days, last} if ANNEX_DATE <= d <= last):
        sites = sites_as_of(registry, openings, day)
        cov = coverage_as_of(sites, departement_of_site=departement_of_site)
        rows.append({"date": pd.Timestamp(day), "ecoles_ouvertes": int(sites["ouverte"].sum()),
                     "departements_couverts": int(cov["statut"].isin(
                         [COVERED_BEFORE, COVERED_SINCE]).sum())})
    out = pd.DataFrame(rows)
    out["date"] = out["date"].astype("datetime64[s]")
    return out
