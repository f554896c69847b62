"""Build step: every product of ``make map`` from one command, using both cores.

Importing geopandas and matplotlib costs more than all the pipeline's own work, and the two
are needed by different halves of it. So the build forks at once, before any heavy import:

- the parent imports pandas and geopandas, runs ingest → geocode → join, sends the map's
  data (:class:`pipeline.outputs.maps.mapdata.MapData`, plain objects) to the child
  through a pipe, then
  writes the GeoPackage, the tables and the alternative text;
- the child imports matplotlib only, draws the map as soon as the data arrives, and saves
  the PNG while a grandchild saves the SVG.

Every output is staged and published together at the end
(:class:`pipeline.outputs.files.Staging`), so
a failed or interrupted build changes no file. Where ``os.fork`` does not exist, or with
``jobs=1``, the same steps run one after the other in one process, with the same bytes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pipeline.config import DEFAULT_LABEL_OVERRIDES, DEFAULT_OPENINGS
from pipeline.errors import PipelineError, RenderError
from pipeline.outputs.files import staged_outputs, write_csv, write_text

if TYPE_CHECKING:
    from pipeline.outputs.maps.mapdata import MapData
    from pipeline.sources.inputs import Sources

log = logging.getLogger(__name__)
_START = time.perf_counter()  # reset by build_all; timings for `ecoles-map -vv build`


@dataclass(frozen=True)
class BuildResult:
    """What a build wrote, and the reconciliation text to show the user."""

    written: list[Path]
    reconciliation: str


@dataclass(frozen=True)
class _DrawJob:
    """What the drawing process needs: the map's data, its options and where to save."""

    data: MapData
    preset: str
    labels: bool | Literal["auto"]
    label_overrides: Mapping[str, tuple[float, float]] | None
    png: Path
    svg: Path


def _draw_and_save(job: _DrawJob, *, jobs: int) -> None:
    """Draw the map of ``job`` and save it as PNG and SVG (the SVG in a child if ``jobs``)."""
    from pipeline.outputs.maps.render import draw_map
    from pipeline.outputs.maps.save import save_map

    fig = draw_map(job.data, preset=job.preset, labels=job.labels,
                   label_overrides=job.label_overrides)
    log.debug("%.3f s: map drawn", time.perf_counter() - _START)
    svg = _fork(lambda: save_map(fig, None, job.svg)) if jobs > 1 else None
    if svg is None:
        save_map(fig, None, job.svg)
    save_map(fig, job.png, None)
    log.debug("%.3f s: PNG written", time.perf_counter() - _START)
    if svg is not None:
        _wait(svg)


def _fork(task: Callable[[], None]) -> int | None:
    """Run ``task`` in a forked child and return its pid; None where fork is unavailable.

    The child's exit status says whether ``task`` succeeded; a domain error's message is
    written on stderr.
    """
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
        except PipelineError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            status = 1
        except BaseException:
            traceback.print_exc()
            status = 1
        finally:
            sys.stderr.flush()
            os._exit(status)
    return pid


def _wait(pid: int) -> None:
    """Wait for child ``pid``; raise if it failed."""
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RenderError("drawing or writing the map failed (see the message above)")


def _stop(pid: int) -> None:
    """Kill and reap child ``pid``: the build failed, its work is not wanted."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


class _Drawer:
    """A child process started before the heavy imports, which draws once given the data."""

    def __init__(self, *, jobs: int) -> None:
        read_end, self._write_end = os.pipe()

        def serve() -> None:
            os.close(self._write_end)
            # Import matplotlib now, while the parent imports geopandas and prepares the data.
            import pipeline.outputs.maps.render  # noqa: F401

            log.debug("%.3f s: drawing process ready", time.perf_counter() - _START)

            with os.fdopen(read_end, "rb") as pipe:
                try:
                    job = pickle.load(pipe)
                except EOFError:  # the parent failed before sending: nothing to draw
                    return
            _draw_and_save(job, jobs=jobs)

        pid = _fork(serve)
        os.close(read_end)
        self._open = pid is not None
        if not self._open:
            os.close(self._write_end)
        self.pid = pid

    def send(self, job: _DrawJob) -> None:
        """Hand the job to the child."""
        self._open = False  # the file object below closes the descriptor
        with os.fdopen(self._write_end, "wb") as pipe:
            pickle.dump(job, pipe, protocol=pickle.HIGHEST_PROTOCOL)

    def wait(self) -> None:
        """Wait for the map; raise if the child failed."""
        assert self.pid is not None
        _wait(self.pid)

    def stop(self) -> None:
        """Kill the child (the build failed)."""
        if self._open:  # never close a descriptor number that another file may now use
            os.close(self._write_end)
            self._open = False
        if self.pid is not None:
            _stop(self.pid)


@contextlib.contextmanager
def _drawer(jobs: int) -> Iterator[_Drawer | None]:
    """Start the drawing process (None when ``jobs`` is 1 or fork is unavailable)."""
    drawer = _Drawer(jobs=jobs) if jobs > 1 and hasattr(os, "fork") else None
    if drawer is not None and drawer.pid is None:
        drawer = None
    try:
        yield drawer
    except BaseException:
        if drawer is not None:
            drawer.stop()
        raise


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
        Map frame (see :func:`pipeline.outputs.maps.render.plot_coverage`).
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
        1 runs everything in this process; 2 (default) draws the map in a child process
        that imports matplotlib while this one imports geopandas and prepares the data.

    Returns
    -------
    BuildResult
        The files written and the reconciliation with the press release.

    Raises
    ------
    PipelineError
        Any error of a step; no output is changed then.
    """
    global _START
    _START = time.perf_counter()
    with _drawer(jobs) as drawer:
        # Only now the heavy imports: the drawing process above does not pay for them.
        import pandas as pd

        from pipeline.config import map_stem
        from pipeline.outputs.maps.labels import read_label_overrides
        from pipeline.outputs.maps.mapdata import map_data
        from pipeline.outputs.maps.texts import alt_text
        from pipeline.schema import REGISTRY_COLUMNS
        from pipeline.workflow import (
            prepare_coverage_as_of,
            write_coverage_outputs,
            write_coverage_outputs_as_of,
        )

        log.debug("%.3f s: data libraries imported", time.perf_counter() - _START)
        coverage, reconciliation, metadata, inputs = prepare_coverage_as_of(
            registry, as_of=as_of, openings_path=openings, sources=sources)
        log.debug("%.3f s: sites placed", time.perf_counter() - _START)
        processed = Path(processed_dir)
        if inputs is None:  # the annex of 23 November 2021
            overrides_file = Path(label_overrides) if label_overrides is not None else None
            overrides = (read_label_overrides(overrides_file)
                         if overrides_file is not None and overrides_file.is_file() else None)
            data = map_data(coverage.sites, coverage.departements)
            stem = Path(maps_dir) / map_stem(preset)
            description = alt_text(coverage.sites, coverage.departements)
            tables: tuple[str, ...] = ("couverture.gpkg", "ecoles.csv", "ecoles.md",
                                       "rapprochement.md", "registre.csv")
        else:  # another date: the schools open that day (issue 7)
            from pipeline.workflow import dated_map

            assert as_of is not None
            overrides = None
            data, description, _ = dated_map(coverage, as_of)
            # No labels by default on dated maps: they would jump from one date to the next.
            labels = False if labels == "auto" else labels
            stem = Path(maps_dir) / map_stem(preset, as_of)
            tables = ("couverture.gpkg", "ecoles.csv", "rapprochement.md")

        with staged_outputs() as staging:
            png, svg, txt = (staging.path(stem.with_suffix(s)) for s in (".png", ".svg", ".txt"))
            staged = {name: staging.path(processed / name) for name in tables}
            job = _DrawJob(data, preset, labels, overrides, png, svg)
            if drawer is not None:
                drawer.send(job)
            else:
                _draw_and_save(job, jobs=1)
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
            log.debug("%.3f s: tables written", time.perf_counter() - _START)
            if drawer is not None:
                drawer.wait()
    log.debug("%.3f s: outputs published", time.perf_counter() - _START)
    written = [stem.with_suffix(s) for s in (".png", ".svg", ".txt")]
    written += [processed / name for name in tables]
    text = (reconciliation.text() if reconciliation is not None
            else f"Couverture au {as_of}: {len(coverage.sites)} sites")
    return BuildResult(written, text)
