"""Chains the steps for the CLI: read inputs, run ingest → geocode → join, in memory."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pandas as pd

from pipeline.ingest import validate_registry
from pipeline.io import read_csv_records

if TYPE_CHECKING:
    from pipeline.join import Coverage
    from pipeline.report import Reconciliation


def load_registry(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate the registry CSV at ``path``.

    Parameters
    ----------
    path
        Registry file (UTF-8 or Latin-1, ``,`` or ``;`` separated).

    Returns
    -------
    pandas.DataFrame
        The validated registry (see :func:`pipeline.ingest.validate_registry`); its
        ``attrs["lines"]`` maps each id to its line in ``path``, for error messages.
    """
    records, lines = read_csv_records(path)
    sites = validate_registry(records, lines=lines, source=str(path))
    # validate_registry keeps every row in order, so lines align with the ids.
    sites.attrs["lines"] = dict(zip(sites["id"], lines, strict=True))
    return sites


def _or_none(value: object) -> str:
    """Return ``value`` as text, or "none" when missing."""
    return "none" if value is None or value is pd.NA or value != value else str(value)


def prepare_coverage(registry_path: str | os.PathLike[str], *,
                     departements_source: str | os.PathLike[str] | None = None,
                     ) -> tuple[Coverage, Reconciliation, dict[str, str]]:
    """Run ingest → geocode → boundaries → join in memory, refusing doubtful positions.

    Parameters
    ----------
    registry_path
        Registry CSV.
    departements_source
        Passed to :func:`pipeline.boundaries.read_departements` (default: embedded).

    Returns
    -------
    coverage : Coverage
        Sites and départements from :func:`pipeline.join.mark_coverage`.
    reconciliation : Reconciliation
        The counts against the press release, newly covered départements named.
    metadata : dict of str to str
        Dataset metadata for the GeoPackage (sources, editions, licence, registry checksum).

    Raises
    ------
    GeocodingError
        If a commune is not found or ambiguous.
    SourceDataError
        If a site's position falls outside its declared département (each one located by
        registry line).
    """
    import hashlib
    from pathlib import Path

    from pipeline.boundaries import read_departements
    from pipeline.errors import GeocodingError, Problem, SourceDataError
    from pipeline.geocode import geocode_sites, geocoding_problems, read_gazetteer
    from pipeline.gpkg import coverage_metadata
    from pipeline.join import mark_coverage
    from pipeline.report import reconcile

    sites = load_registry(registry_path)
    geocoded = geocode_sites(sites, read_gazetteer())
    line_of: dict[str, int] = sites.attrs["lines"]
    unresolved = geocoding_problems(geocoded, path=str(registry_path),
                                    lines=[line_of.get(str(i)) or 0 for i in geocoded["id"]])
    if unresolved:
        raise GeocodingError(
            f"{registry_path}: {len(unresolved)} commune(s) not placed; nothing was written\n"
            + "\n".join(f"  - {p}" for p in unresolved))
    departements = (read_departements() if departements_source is None
                    else read_departements(departements_source))
    coverage = mark_coverage(geocoded, departements)
    if not coverage.mismatches.empty:
        problems = [
            Problem(str(registry_path), line_of.get(str(row.id)), "departement",
                    str(row.departement),
                    f"site {row.id!r}: the commune {row.commune!r} (INSEE {row.code_insee}) "
                    f"lies in département {_or_none(row.departement_spatial)}; correct the "
                    "département, or the commune name if another commune was meant")
            for row in coverage.mismatches.itertuples(index=False)]
        raise SourceDataError(problems, summary=f"{registry_path}: {len(problems)} site(s) "
                              "outside their declared département")
    metadata = coverage_metadata(provenance=dict(departements.attrs) or None)
    digest = hashlib.sha256(Path(registry_path).read_bytes()).hexdigest()
    metadata["REGISTRE"] = (f"{Path(registry_path).name} : {len(sites)} sites, "
                            f"sha256 {digest}")
    return coverage, reconcile(coverage.sites, coverage.departements), metadata


def write_coverage_outputs(coverage: Coverage, reconciliation: Reconciliation,
                           gpkg_path: str | os.PathLike[str], *,
                           metadata: dict[str, str] | None = None) -> list[str]:
    """Write the GeoPackage and, next to it, ``ecoles.csv``, ``ecoles.md``, ``rapprochement.md``.

    Parameters
    ----------
    coverage
        Result of :func:`pipeline.join.mark_coverage`.
    reconciliation
        Result of :func:`pipeline.report.reconcile`.
    gpkg_path
        Destination of the GeoPackage; the other files go in the same folder.
    metadata
        Dataset metadata of the GeoPackage (default from ``sources.json``).

    Returns
    -------
    list of str
        The paths written, in order.
    """
    from pathlib import Path

    from pipeline.gpkg import write_coverage_gpkg
    from pipeline.io import write_csv, write_text
    from pipeline.report import sites_markdown, sites_table

    gpkg = Path(gpkg_path)
    folder = gpkg.parent
    write_coverage_gpkg(coverage.sites, coverage.departements, gpkg, metadata=metadata)
    write_csv(sites_table(coverage.sites), folder / "ecoles.csv", bom=True)
    write_text(sites_markdown(coverage.sites, coverage.departements), folder / "ecoles.md")
    write_text(reconciliation.markdown(), folder / "rapprochement.md")
    return [str(gpkg), *(str(folder / n) for n in ("ecoles.csv", "ecoles.md",
                                                    "rapprochement.md"))]
