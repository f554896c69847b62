"""Build step: every product of ``make map`` from one process, using both cores.

The import of geopandas and matplotlib costs more than all the pipeline's own work, so the
whole chain (ingest → geocode → join → GeoPackage, tables, map) runs in one process that
pays it once. Once the map is drawn, the process forks: the child encodes the PNG (the
longest task) while the parent writes the SVG, the alternative text, the GeoPackage and
the tables. Every output is staged and published together at the end
(:class:`pipeline.io.Staging`), so a failed or interrupted build changes no file.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.config import DEFAULT_LABEL_OVERRIDES
from pipeline.errors import RenderError
from pipeline.io import staged_outputs, write_csv, write_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote, and the reconciliation text to show the user."""

    written: list[Path]
    reconciliation: str


def _run_in_child(task: Callable[[], None]) -> int | None:
    """Run ``task`` in a forked child and return its pid; None where fork is unavailable."""
    if not hasattr(os, "fork"):
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, reported through its exit status
        status = 0
        try:
            task()
        except BaseException:
            traceback.print_exc()
            status = 1
        finally:
            os._exit(status)
    return pid


def _wait(pid: int, what: str) -> None:
    """Wait for child ``pid`` and raise if it failed."""
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RenderError(f"writing the {what} failed (see the message above)")


def build_all(
    registry: str | os.PathLike[str],
    *,
    processed_dir: str | os.PathLike[str],
    maps_dir: str | os.PathLike[str],
    preset: str = "a4",
    labels: bool | Literal["auto"] = "auto",
    departements_source: str | os.PathLike[str] | None = None,
    label_overrides: str | os.PathLike[str] | None = DEFAULT_LABEL_OVERRIDES,
    jobs: int = 2,
) -> BuildResult:
    """Run ingest, geocode, join and render, and publish every output together.

    Parameters
    ----------
    registry
        Registry CSV of the schools.
    processed_dir
        Folder of the GeoPackage and tables (``couverture.gpkg``, ``ecoles.csv``,
        ``ecoles.md``, ``rapprochement.md``) and of the validated registry
        (``registre.csv``, as ``ecoles-map ingest`` writes it).
    maps_dir
        Folder of the map (``ecoles-de-production-2021[-preset].png``, ``.svg``, ``.txt``).
    preset
        Map frame (see :func:`pipeline.render.plot_coverage`).
    labels
        Point labels: ``"auto"``, True or False.
    departements_source
        Boundaries for :func:`pipeline.boundaries.read_departements` (default embedded).
    label_overrides
        Manual label offsets file; ignored when it does not exist.
    jobs
        1 runs everything in this process; 2 (default) writes the PNG in a forked child.

    Returns
    -------
    BuildResult
        The files written and the reconciliation with the press release.

    Raises
    ------
    PipelineError
        Any error of a step; no output is changed then.
    """
    import pandas as pd

    from pipeline.ingest import COLUMNS as REGISTRY_COLUMNS
    from pipeline.labels import read_label_overrides
    from pipeline.render import alt_text, map_stem, plot_coverage, save_map
    from pipeline.workflow import prepare_coverage, write_coverage_outputs

    coverage, reconciliation, metadata = prepare_coverage(
        registry, departements_source=departements_source)
    overrides_file = Path(label_overrides) if label_overrides is not None else None
    overrides = (read_label_overrides(overrides_file)
                 if overrides_file is not None and overrides_file.is_file() else None)
    fig = plot_coverage(coverage.sites, coverage.departements, preset=preset, labels=labels,
                        label_overrides=overrides)
    stem = Path(maps_dir) / map_stem(preset)
    with staged_outputs() as staging:
        png = staging.path(stem.with_suffix(".png"))
        svg = staging.path(stem.with_suffix(".svg"))
        txt = staging.path(stem.with_suffix(".txt"))
        gpkg = staging.path(Path(processed_dir) / "couverture.gpkg")
        for name in ("ecoles.csv", "ecoles.md", "rapprochement.md"):
            staging.path(Path(processed_dir) / name)
        registre = staging.path(Path(processed_dir) / "registre.csv")
        child = _run_in_child(lambda: save_map(fig, png, None)) if jobs > 1 else None
        if child is None:
            save_map(fig, png, None)
        save_map(fig, None, svg)
        write_text(alt_text(coverage.sites, coverage.departements), txt)
        write_coverage_outputs(coverage, reconciliation, gpkg, metadata=metadata)
        # The validated registry, as `ecoles-map ingest` writes it: the registry's columns of
        # the joined sites, which the join leaves as they were.
        write_csv(pd.DataFrame(coverage.sites[list(REGISTRY_COLUMNS)]), registre)
        if child is not None:
            _wait(child, "PNG map")
        written = [stem.with_suffix(s) for s in (".png", ".svg", ".txt")]
    written += [Path(processed_dir) / n for n in ("couverture.gpkg", "ecoles.csv", "ecoles.md",
                                                  "rapprochement.md", "registre.csv")]
    return BuildResult(written, reconciliation.text())
