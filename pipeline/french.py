"""French prose for what users read: dates and lists ("1er septembre 2022", "a, b et c")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

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


def french_month(year: int, month: int) -> str:
    """Return a month as French prose: "septembre 2021".

    Parameters
    ----------
    year, month
        The month (1–12) of ``year``.

    Returns
    -------
    str
        Month name, year.
    """
    return f"{_MONTHS[month - 1]} {year}"


def join_french(items: Sequence[str]) -> str:
    """Join items as French prose: "a", "a et b", "a, b et c".

    Parameters
    ----------
    items
        Words or phrases, in order.

    Returns
    -------
    str
        The joined phrase (empty for no items).
    """
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " et " + items[-1]
