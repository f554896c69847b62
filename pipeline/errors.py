"""Domain exceptions raised by the pipeline; the CLI turns them into exit codes."""

from __future__ import annotations

from dataclasses import dataclass


class PipelineError(Exception):
    """Base class of every error the pipeline reports to a user."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file, located precisely enough to fix it.

    Parameters
    ----------
    path
        The file the problem is in.
    line
        1-based line number in that file (the header is line 1), or None for the whole file.
    column
        Column name, or None when the problem is not tied to one column.
    value
        The offending value as read.
    message
        What is wrong and how to fix it.
    """

    path: str
    line: int | None
    column: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        what = f" colonne {self.column!r}" if self.column else ""
        value = f" valeur {self.value!r}" if self.value is not None else ""
        if not what and not value:
            return f"{where}: {self.message}"
        return f"{where}:{what}{value}: {self.message}"


class SourceDataError(PipelineError):
    """An input file is unreadable or invalid; carries every problem found in one pass."""

    def __init__(self, problems: list[Problem], summary: str | None = None) -> None:
        self.problems = list(problems)
        head = summary or f"{len(self.problems)} problème(s) dans les données d'entrée"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in self.problems))


class GeocodingError(PipelineError):
    """Geocoding could not run (missing gazetteer, geocoder service unreachable...)."""


class BoundaryError(PipelineError):
    """Département boundaries could not be obtained or are invalid."""


class NetworkError(PipelineError):
    """An online source could not be reached; the message says how to work offline."""


class RenderError(PipelineError):
    """The map could not be drawn or written (basemap unavailable, bad overrides file...)."""
