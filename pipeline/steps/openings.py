"""The openings after the 2021 annex (``data/raw/ouvertures.csv``): the file's rules.

The registry (``data/raw/ecoles.csv``) describes the network as the press release of
23 November 2021 saw it; the openings list each site opened after that date, a laureate of
the call linked to its 2021 row by ``ami_2021_id``. :func:`validate_openings` checks every
row and returns a typed copy; :func:`resolve_date` says how a written date counts.

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
from collections.abc import Iterable, Sequence

import pandas as pd

from pipeline.config import ANNEX_DATE
from pipeline.errors import Problem, SourceDataError
from pipeline.schema import OPENING_COLUMNS, OPENING_NON_EMPTY, OPENING_REQUIRED
from pipeline.steps.ingest import check_cell, fold_value, resolve_date

__all__ = ["laureates", "resolve_date", "same_place", "validate_openings"]


def laureates(registry: pd.DataFrame) -> dict[str, pd.Series]:
    """Return the registry rows of the AMI 2021 laureates, by id."""
    rows = registry[registry["ami_2021"].notna()]
    return {str(row["id"]): row for _, row in rows.iterrows()}


def same_place(a: pd.Series, b: pd.Series) -> bool:
    """Whether two rows name the same commune in the same département."""
    return bool(fold_value(str(a["commune"])) == fold_value(str(b["commune"]))
                and a["departement"] == b["departement"])


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
    :func:`pipeline.steps.ingest.validate_registry` does.

    Parameters
    ----------
    records
        The openings as read (every cell a string), e.g. from
        :func:`pipeline.sources.csvfile.read_csv_records`.
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
        problems.append(Problem(source, 1, col, None,
                                "colonne présente deux fois dans l'en-tête"))
    for col in OPENING_REQUIRED:
        if col not in header:
            problems.append(Problem(
                source, 1, col, None,
                "colonne obligatoire absente ; l'en-tête doit contenir "
                f"{', '.join(OPENING_COLUMNS)}"))
    for col in header:
        if col not in OPENING_COLUMNS:
            problems.append(Problem(source, 1, col, None, "colonne inconnue ; renommez-la "
                                    f"(colonnes possibles : {', '.join(OPENING_COLUMNS)})"))
    if problems:
        raise SourceDataError(problems,
                              summary=f"{source}: l'en-tête n'est pas celui des ouvertures")

    frame = records.reindex(columns=list(OPENING_COLUMNS), fill_value="").fillna("").astype(str)
    frame = frame.apply(lambda s: s.str.strip())
    registry_ids = set(registry["id"].astype(str))
    laureate_rows = laureates(registry)
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
                bad(col, "vide ; chaque ouverture doit avoir une valeur ici", "")
        rid = values["id"]
        if rid in seen:
            bad("id", f"identifiant en double, déjà utilisé ligne {seen[rid]} ; chaque "
                "identifiant doit être unique")
        elif rid:
            seen[rid] = line
        if rid in registry_ids:
            bad("id", "cet identifiant est celui d'une école du registre 2021 ; donnez au site "
                "son propre identifiant (par exemple nom-commune) et mettez celui de 2021 dans "
                "'ami_2021_id'")
        if "?" in values["commune"]:
            bad("commune", "lieu incertain ; écrivez la commune qu'atteste la source, ou "
                "retirez la ligne et dites pourquoi dans data/raw/README.md")
        for col in ("id", "departement", "confiance", "sources"):
            if values[col]:
                normalized, issues = check_cell(col, values[col])
                for message, shown in issues:
                    bad(col, message, shown)
                if not issues:
                    frame.iat[pos, OPENING_COLUMNS.index(col)] = normalized
        link = values["ami_2021_id"]
        if link:
            if link not in laureate_rows:
                what = ("école de 2021 qui n'est pas lauréate de l'AMI" if link in registry_ids
                        else "aucun identifiant du registre 2021")
                bad("ami_2021_id", f"{what} ; écrivez l'identifiant du lauréat de l'AMI 2021 que "
                    "ce site réalise, ou laissez vide")
            elif link in realised:
                bad("ami_2021_id", f"ce lauréat est déjà réalisé ligne {realised[link]} ; "
                    "un lauréat ouvre un seul site")
            else:
                realised[link] = line

        opened = opened_precision = closed = closed_precision = None
        if values["ouverture"]:
            try:
                opened, start, opened_precision = resolve_date(values["ouverture"])
            except ValueError:
                bad("ouverture", "écrivez une date réelle sous la forme AAAA-MM-JJ, AAAA-MM ou "
                    "AAAA")
            else:
                if start > today:
                    bad("ouverture", f"dans le futur (nous sommes le {today.isoformat()}) ; "
                        "n'inscrivez une école qu'une fois ouverte")
                elif opened <= ANNEX_DATE:
                    bad("ouverture", f"pas après l'annexe du {ANNEX_DATE.isoformat()} ; les "
                        "écoles ouvertes à cette date vont dans ecoles.csv (pour novembre 2021, "
                        "donnez le jour)")
        if values["fermeture"]:
            try:
                closed, start, closed_precision = resolve_date(values["fermeture"])
            except ValueError:
                bad("fermeture", "écrivez une date réelle sous la forme AAAA-MM-JJ, AAAA-MM ou "
                    "AAAA, ou laissez vide")
            else:
                if start > today:
                    bad("fermeture", f"dans le futur (nous sommes le {today.isoformat()}) ; "
                        "n'inscrivez une fermeture qu'une fois survenue")
                elif opened is not None and closed <= opened:
                    bad("fermeture", f"pas après l'ouverture ({opened.isoformat()} d'après "
                        f"{values['ouverture']!r}) ; corrigez l'une des deux dates, plus "
                        "précisément si elles ont la même année")
        resolved.append((opened, opened_precision, closed, closed_precision))
    if problems:
        raise SourceDataError(
            problems, summary=f"{source}: {len(problems)} problème(s) ; rien n'a été écrit")

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
