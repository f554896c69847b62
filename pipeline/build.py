"""Build step: every product of ``make map`` from one process, using both cores.

The import of geopandas and matplotlib costs more than all the pipeline's own work, so the
whole chain (ingest → geocode → join → GeoPackage, tables, map) runs in one process that
pays it once. Once the map is drawn, the process forks: the child encodes the PNG (the
longest task) while the parent writes the SVG, the alternative text, the GeoPackage and
the tables. Every output is staged and published together at the end
(:class:`pipeline.io.Staging`), so a failed or interrupted build changes no file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pipeline.config import DEFAULT_LABEL_OVERRIDES, DEFAULT_OPENINGS
from pipeline.errors import RenderError
from pipeline.io import staged_outputs, write_csv, write_text

if TYPE_CHECKING:
    from pipeline.workflow import Sources

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
    # A Ctrl-C that lands while fork() runs Python's at-fork hooks would be swallowed there
    # ("Exception ignored in ..."), and the build would go on to publish. Hold SIGINT and
    # SIGTERM pending across the fork: each process then receives them right after.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    pid = os.fork()
    signal.pthread_sigmask(signal.SIG_SETMASK, held)
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


def _stop(pid: int) -> None:
    """Kill and reap child ``pid`` (the parent failed: its work is not wanted)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


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
    sources: Sources | None = None,
    label_overrides: str | os.PathLike[str] | None = DEFAULT_LABEL_OVERRIDES,
    as_of: dt.date | None = None,
    openings: str | os.PathLike[str] = DEFAULT_OPENINGS,
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
    sources
        Boundaries and geocoder (default: the embedded data).
    label_overrides
        Manual label offsets file; ignored when it does not exist.
    as_of
        Date of the coverage; None or 23 November 2021 builds the annex, another date the
        schools open that day (from ``openings`` too), with the map named after the date.
    openings
        Openings after the annex (read only for another date).
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
    from pipeline.workflow import (
        prepare_coverage_as_of,
        write_coverage_outputs,
        write_coverage_outputs_as_of,
    )

    coverage, reconciliation, metadata, inputs = prepare_coverage_as_of(
        registry, as_of=as_of, openings_path=openings, sources=sources)
    processed = Path(processed_dir)
    if inputs is None:  # the annex of 23 November 2021
        overrides_file = Path(label_overrides) if label_overrides is not None else None
        overrides = (read_label_overrides(overrides_file)
                     if overrides_file is not None and overrides_file.is_file() else None)
        fig = plot_coverage(coverage.sites, coverage.departements, preset=preset,
                            labels=labels, label_overrides=overrides)
        stem = Path(maps_dir) / map_stem(preset)
        description = alt_text(coverage.sites, coverage.departements)
        tables: tuple[str, ...] = ("couverture.gpkg", "ecoles.csv", "ecoles.md",
                                   "rapprochement.md", "registre.csv")
    else:  # another date: the schools open that day (issue 7)
        from pipeline.history import dated_alt_text, dated_counts, dated_legend, dated_title
        from pipeline.timeline import map_name

        assert as_of is not None
        counts = dated_counts(coverage.sites, coverage.departements)
        # Dated maps carry no labels by default: they would jump from one date to the next.
        fig = plot_coverage(coverage.sites, coverage.departements, preset=preset,
                            title=dated_title(as_of, counts), legend=dated_legend(counts),
                            labels=False if labels == "auto" else labels)
        stem = Path(maps_dir) / (map_name(as_of) + ("" if preset == "a4" else f"-{preset}"))
        description = dated_alt_text(as_of, counts)
        tables = ("couverture.gpkg", "ecoles.csv", "rapprochement.md")

    with staged_outputs() as staging:
        png, svg, txt = (staging.path(stem.with_suffix(s)) for s in (".png", ".svg", ".txt"))
        staged = {name: staging.path(processed / name) for name in tables}
        child = _run_in_child(lambda: save_map(fig, png, None)) if jobs > 1 else None
        try:
            if child is None:
                save_map(fig, png, None)
            save_map(fig, None, svg)
            write_text(description, txt)
            if inputs is None:
                assert reconciliation is not None
                write_coverage_outputs(coverage, reconciliation, staged["couverture.gpkg"],
                                       metadata=metadata)
                # The validated registry as `ecoles-map ingest` writes it: the registry's
                # columns of the joined sites, which the join leaves as they were.
                write_csv(pd.DataFrame(coverage.sites[list(REGISTRY_COLUMNS)]),
                          staged["registre.csv"])
            else:
                assert as_of is not None
                write_coverage_outputs_as_of(coverage, inputs, as_of,
                                             staged["couverture.gpkg"], metadata=metadata)
        except BaseException:
            if child is not None:
                _stop(child)
            raise
        if child is not None:
            _wait(child, "PNG map")
    written = [stem.with_suffix(s) for s in (".png", ".svg", ".txt")]
    written += [processed / name for name in tables]
    text = (reconciliation.text() if reconciliation is not None
            else f"Couverture au {as_of}: {len(coverage.sites)} sites")
    return BuildResult(written, text)
