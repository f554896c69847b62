"""Ingest step: validate the registry of schools and return a clean, typed table."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from typing import Final

import pandas as pd

from pipeline.errors import Problem, SourceDataError
from pipeline.schema import (
    AMI_CATEGORIES,
    CONFIDENCE_LEVELS,
    DEPARTEMENT_CODES,
    PRECISION_DAY,
    PRECISION_MONTH,
    PRECISION_YEAR,
    REGISTRY_COLUMNS,
    REGISTRY_NON_EMPTY,
    REGISTRY_OPTIONAL,
    REGISTRY_REQUIRED,
    YES_NO,
)

#: Registry columns whose cells :func:`check_cell` checks and normalises.
CHECKED = ("id", "departement", "existante_2021", "ami_2021", "confiance", "sources",
           "ouverture")

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DEP = re.compile(r"^(?:\d{1,3}|2[AB])$")
OPENING_PATTERN = re.compile(r"^\d{4}(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12]\d|3[01]))?)?$")
_URL = re.compile(r"^https?://\S+$")
#: No date before this year is believable (the first école de production opened in 1882);
#: it also keeps "0000" and typing slips such as "0202" out.
FIRST_YEAR: Final = 1800


def fold_value(value: str) -> str:
    """Return ``value`` lower-cased, without accents ('Ingénierie' → 'ingenierie')."""
    decomposed = unicodedata.normalize("NFKD", value.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize_departement(value: str) -> str | None:
    """Return the canonical code of a département ("1" → "01", "2a" → "2A"), or None.

    Parameters
    ----------
    value
        The code as written by a person.

    Returns
    -------
    str or None
        The COG code if ``value`` names an existing département, else None.
    """
    code = value.strip().upper()
    if not _DEP.match(code):
        return None
    if code.isdigit() and len(code) < 2:
        code = code.zfill(2)
    return code if code in DEPARTEMENT_CODES else None


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
        31 December of the year (see :mod:`pipeline.steps.openings`).
    start : datetime.date
        The first day the value can mean (to tell a date in the future).
    precision : str
        ``"jour"``, ``"mois"`` or ``"annee"``.

    Raises
    ------
    ValueError
        If ``value`` is not in one of those forms, names no calendar day ("2019-02-30"), or
        a year before :data:`FIRST_YEAR`.
    """
    text = value.strip()
    if not OPENING_PATTERN.match(text):
        raise ValueError(f"{value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    parts = [int(p) for p in text.split("-")]
    if parts[0] < FIRST_YEAR:
        raise ValueError(f"{value!r} is before {FIRST_YEAR}")
    if len(parts) == 3:
        day = dt.date(parts[0], parts[1], parts[2])
        return day, day, PRECISION_DAY
    if len(parts) == 2:
        first = dt.date(parts[0], parts[1], 1)
        return first, first, PRECISION_MONTH
    return dt.date(parts[0], 12, 31), dt.date(parts[0], 1, 1), PRECISION_YEAR


#: Cells checked by :func:`check_cell`: column → (allowed values or pattern, advice).
_CHOICES: dict[str, tuple[tuple[str, ...], str]] = {
    "existante_2021": (YES_NO, "écrivez 'oui' ou 'non'"),
    "ami_2021": (AMI_CATEGORIES, "écrivez 'ingenierie' ou 'investissement', ou laissez vide"),
    "confiance": (CONFIDENCE_LEVELS, "écrivez 'haute', 'moyenne' ou 'basse'"),
}


def check_cell(column: str, value: str) -> tuple[str, list[tuple[str, str | None]]]:
    """Check and normalise one non-empty cell of a registry-like file.

    Shared by the registry and the openings file, so that a column means and accepts the
    same everywhere. Columns without a rule are returned unchanged.

    Parameters
    ----------
    column
        Column name: ``id``, ``departement``, ``existante_2021``, ``ami_2021``,
        ``confiance``, ``sources`` or ``ouverture`` have rules.
    value
        The stripped cell, not empty.

    Returns
    -------
    value : str
        The normalised value ("1" → "01", "Ingénierie" → "ingenierie").
    problems : list of (message, shown value or None)
        What is wrong and how to fix it; ``None`` shows the cell itself.
    """
    if column == "id" and not _ID.match(value):
        return value, [("utilisez des minuscules, des chiffres et des tirets simples "
                        "(par exemple 'icam-lille')", None)]
    if column == "departement":
        code = normalize_departement(value)
        if code is None:
            return value, [("pas un code de département français ; utilisez le code INSEE, "
                            "par exemple '01', '2A' ou '971'", None)]
        return code, []
    if column in _CHOICES:
        allowed, advice = _CHOICES[column]
        folded = fold_value(value)
        return (folded, []) if folded in allowed else (value, [(advice, None)])
    if column == "sources":
        urls = [u.strip() for u in value.split("|") if u.strip()]
        if not urls:
            return value, [("aucune URL ; donnez au moins une URL http(s), plusieurs "
                            "séparées par ' | '", None)]
        problems: list[tuple[str, str | None]] = [
            ("pas une URL http(s) ; séparez plusieurs URL par ' | '", url)
            for url in urls if not _URL.match(url)]
        return " | ".join(urls), problems
    if column == "ouverture":
        try:
            resolve_date(value)
        except ValueError:
            return value, [("écrivez une date réelle sous la forme AAAA, AAAA-MM ou AAAA-MM-JJ "
                            f"(année {FIRST_YEAR} ou après)", None)]
    return value, []


def validate_registry(
    records: pd.DataFrame, *, lines: Sequence[int] | None = None, source: str = "<registry>",
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Check every row of the registry and return a clean, typed copy.

    All problems are collected in one pass and raised together, so a user fixes the file in
    one go. Nothing is dropped: a row is either accepted as it is (normalised) or reported.

    Parameters
    ----------
    records
        The registry as read (every cell a string), e.g. from
        :func:`pipeline.sources.csvfile.read_csv_records`.
    lines
        Line number of each record in ``source`` (defaults to row position + 2).
    source
        Name of the file, quoted in error messages.
    today
        A school marked existing cannot have opened after this day (default:
        :func:`datetime.date.today`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`pipeline.schema.REGISTRY_COLUMNS`; ``existante_2021`` is boolean,
        ``departement`` a canonical code, ``ami_2021`` and optional fields are ``<NA>`` when empty.

    Raises
    ------
    SourceDataError
        With one :class:`~pipeline.errors.Problem` per bad cell, missing or unknown column.
    """
    today = today or dt.date.today()
    line_of = list(lines) if lines is not None else [i + 2 for i in range(len(records))]
    problems: list[Problem] = []
    header = [str(c) for c in records.columns]
    duplicates = sorted({c for c in header if header.count(c) > 1})
    for col in duplicates:
        problems.append(Problem(source, 1, col, None,
                                "colonne présente deux fois dans l'en-tête"))
    for col in REGISTRY_REQUIRED:
        if col not in header:
            problems.append(Problem(
                source, 1, col, None,
                "colonne obligatoire absente ; l'en-tête doit contenir "
                f"{', '.join(REGISTRY_COLUMNS)}"))
    for col in header:
        if col not in REGISTRY_COLUMNS:
            hint = f"colonnes possibles : {', '.join(REGISTRY_COLUMNS)}"
            problems.append(Problem(source, 1, col, None,
                                    f"colonne inconnue ; renommez-la ({hint})"))
    if problems:
        raise SourceDataError(
            problems, summary=f"{source}: l'en-tête n'est pas celui d'un registre des écoles")
    if records.empty:
        raise SourceDataError(
            [Problem(source, None, None, None,
                     "le fichier a un en-tête mais aucune ligne d'école")],
            summary=f"{source}: aucune ligne",
        )

    frame = records.reindex(columns=list(REGISTRY_COLUMNS), fill_value="").fillna("").astype(str)
    frame = frame.apply(lambda s: s.str.strip())
    seen: dict[str, int] = {}
    for pos, (line, row) in enumerate(zip(line_of, frame.itertuples(index=False), strict=True)):
        def bad(column: str, message: str, value: str | None = None, *, _line: int = line,
                _row: tuple[str, ...] = tuple(row)) -> None:
            shown = value if value is not None else _row[REGISTRY_COLUMNS.index(column)]
            problems.append(Problem(source, _line, column, shown, message))

        values = dict(zip(REGISTRY_COLUMNS, row, strict=True))
        for col in REGISTRY_NON_EMPTY:
            if not values[col]:
                bad(col, "vide ; chaque école doit avoir une valeur ici", "")
        rid = values["id"]
        if rid in seen:
            bad("id", f"identifiant en double, déjà utilisé ligne {seen[rid]} ; chaque "
                "identifiant doit être unique")
        elif rid:
            seen[rid] = line
        for col in CHECKED:
            if values[col]:
                normalized, issues = check_cell(col, values[col])
                for message, shown in issues:
                    bad(col, message, shown)
                if not issues:
                    frame.iat[pos, REGISTRY_COLUMNS.index(col)] = normalized
                    values[col] = normalized
        if values["existante_2021"] == "oui" and values["ouverture"]:
            opened = _opening_start(values["ouverture"])
            if opened is not None and opened > today:
                bad("ouverture", f"dans le futur (nous sommes le {today.isoformat()}) pour une "
                    "école marquée existante ; corrigez la date, ou mettez existante_2021 à "
                    "'non' pour une école pas encore ouverte")
    if problems:
        raise SourceDataError(
            problems, summary=f"{source}: {len(problems)} problème(s) ; rien n'a été écrit"
        )

    clean = frame.copy()
    clean["existante_2021"] = clean["existante_2021"].eq("oui")
    for col in ("ami_2021", *REGISTRY_OPTIONAL):
        clean[col] = clean[col].mask(clean[col].eq(""), pd.NA)
    return clean.reset_index(drop=True)


def _opening_start(value: str) -> dt.date | None:
    """Return the first day ``value`` can mean, or None if it is no date (reported already)."""
    try:
        return resolve_date(value)[1]
    except ValueError:
        return None
