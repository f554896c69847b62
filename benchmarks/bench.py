"""Benchmark of the whole pipeline: import floor, steps, make map, memory, sizes, scaling.

Run: ``.venv/bin/python benchmarks/bench.py [--markdown FILE] [--quick]`` (or ``make bench``).

Every time is wall-clock, best of several runs where it says so, and is also given as a
ratio to the *import floor* (``python -c "import geopandas, matplotlib.pyplot"``), which any
run of the pipeline pays: ratios compare across machines, seconds do not.

What is measured, and how:

- **import floor**: best of 5 fresh interpreters.
- **steps**: one fresh interpreter (``--steps-json``) runs ``prepare``, the annex snapshot
  without and with its reach, the GeoPackage without and with the ``communes_acces`` layer,
  the A4 drawing, PNG, SVG and PDF saves of that one figure, the reach map and the press
  page through the library functions, once
  and on one core (cold: the first call pays its lazy imports, as a real run does).
- **make map**: in a fresh ``git clone`` of the repository's HEAD in a temporary folder.
  The clone's ``.venv`` is a symlink to this repository's virtualenv, whose lock stamps match
  the clone's lock, so nothing is installed (installation is not measured; the run fails if
  ``make -B`` installs anything); ``PYTHONPATH`` points at the clone so that the clone's code
  is what runs. "cold" is the first ``make map`` (no outputs, no bytecode cache of the
  clone's modules); "no-op" is ``make map`` again (best of 3); "forced" is ``make -B map``
  (best of 3); "all" is ``make -B all``, every product in one run.
- **peak memory**: largest resident set (``ru_maxrss`` from ``wait4``) of any process of the
  forced ``make map``; with forked workers this is the largest one, not the sum.
- **sizes**: every file the forced ``make map`` leaves in ``data/processed`` and ``maps``.
- **scaling**: synthetic registries of 100, 1,000 and 10,000 sites on real communes (COM rows
  of the embedded gazetteer, sampled with a fixed seed; mixed categories), each through
  ``ecoles-map build REG --processed-dir TMP --maps-dir TMP``. Labels: the renderer's
  ``labels="auto"`` leaves them out above ``MAX_AUTO_LABELS`` sites; the table says whether
  the SVG has them.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLI = BIN / "ecoles-map"
GAZETTEER = ROOT / "pipeline" / "data" / "communes.csv.gz"
REGISTRY = ROOT / "data" / "raw" / "ecoles.csv"
HEADER = ("id", "nom", "commune", "departement", "existante_2021", "ami_2021",
          "libelle_annexe", "metier", "ouverture", "confiance", "sources", "note")
SCALES = (100, 1_000, 10_000)
SEED = 2021

# Targets of issue 6 (seconds, or MB for memory).
NOOP_TARGET_S = 0.5
FORCED_TARGET_RATIO = 2.0
MEMORY_TARGET_MB = 400
SCALE_TARGET_S = 30.0
TOTAL_TARGET_S = 300.0


# --- Synthetic registries -----------------------------------------------------------------------
def write_synthetic_registry(path: str | os.PathLike[str], n: int, *, seed: int = SEED) -> Path:
    """Write a valid registry of ``n`` sites on distinct real communes, deterministically.

    Parameters
    ----------
    path
        Destination CSV (UTF-8, comma-separated).
    n
        Number of sites (at most the number of communes, about 35,000).
    seed
        Seed of the sampling: the same ``n`` and ``seed`` give the same bytes.

    Returns
    -------
    Path
        ``path``.
    """
    with gzip.open(GAZETTEER, "rt", encoding="utf-8", newline="") as f:
        communes = [(row["nom"], row["departement"]) for row in csv.DictReader(f)
                    if row["type"] == "COM"]
    rng = random.Random(seed)
    chosen = rng.sample(communes, n)
    trades = ("usinage", "chaudronnerie", "menuiserie", "textile", "mécanique", "numérique")
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        for i, (commune, departement) in enumerate(chosen, start=1):
            existing = rng.random() < 0.5
            ami = rng.choices(("", "ingenierie", "investissement"), weights=(5, 3, 2))[0]
            writer.writerow([
                f"site-{i:05d}", f"École de production synthétique {i}", commune, departement,
                "oui" if existing else "non", ami, commune if ami else "", rng.choice(trades),
                str(rng.randint(1990, 2021)), rng.choice(("haute", "moyenne", "basse")),
                f"https://example.org/synthetique/{i}", "",
            ])
    return path


# --- Running and timing -------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """Outcome of one command: wall time, largest resident set of its processes, status."""

    seconds: float
    max_rss_mb: float
    returncode: int
    output: str


def run(cmd: Sequence[str | os.PathLike[str]], *, cwd: Path | None = None,
        env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` and measure it; ``wait4`` reports the peak RSS of it and its children."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return Run(seconds, usage.ru_maxrss / 1024, proc.returncode, text)


def checked(result: Run, what: str) -> Run:
    """Return ``result``, or stop the benchmark with the command's output if it failed."""
    if result.returncode != 0:
        sys.exit(f"bench: {what} failed (exit {result.returncode}):\n{result.output[-3000:]}")
    return result


def best_of(n: int, measure: Callable[[], Run], what: str) -> Run:
    """Run ``measure`` ``n`` times; return the fastest run (peak RSS: the largest seen)."""
    runs = [checked(measure(), what) for _ in range(n)]
    fastest = min(runs, key=lambda r: r.seconds)
    return Run(fastest.seconds, max(r.max_rss_mb for r in runs), 0, fastest.output)


# --- Steps in one process -----------------------------------------------------------------------
def steps_json(registry: Path, workdir: Path) -> None:
    """Time each step through the library functions, in this (fresh) process; print JSON."""
    times: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        times[name] = now - t
        t = now

    import geopandas  # noqa: F401
    import matplotlib.pyplot  # noqa: F401

    from pipeline.outputs.gpkg import write_coverage_gpkg
    from pipeline.outputs.maps.render import draw_map
    from pipeline.outputs.maps.save import save_map
    from pipeline.run import _reach_layer, prepare, publish, snapshot

    lap("imports (geopandas, matplotlib, pipeline)")
    prepared = prepare(registry)
    lap("prepare (ingest, geocode, boundaries, placement, population)")
    snapshot(prepared, reach=None)
    lap("snapshot without reach (coverage, map data, tables)")
    snap = snapshot(prepared)
    lap("snapshot with reach (30 and 45 km, where next)")
    write_coverage_gpkg(snap.sites, snap.departements, workdir / "sans-acces.gpkg",
                        metadata=snap.metadata)
    lap("GeoPackage write, without communes_acces")
    write_coverage_gpkg(snap.sites, snap.departements, workdir / "couverture.gpkg",
                        metadata=snap.metadata, **_reach_layer(snap.reach))
    lap("GeoPackage write, with communes_acces")
    fig = draw_map(snap.map, preset="a4", label_overrides=snap.label_overrides)
    lap("plot")
    save_map(fig, workdir / "carte.png", None)
    lap("PNG save")
    save_map(fig, None, workdir / "carte.svg")
    lap("SVG save")
    from pipeline.outputs.maps.projects import print_pages
    from pipeline.outputs.maps.save import save_pdf

    save_pdf(print_pages(fig, snap.map), workdir / "carte.pdf")
    lap("print PDF (the same figure, then the list of projects)")
    reach = snap.reach_map
    assert reach is not None
    reach_fig = draw_map(reach.map, preset="a4", labels=False)
    save_map(reach_fig, workdir / "acces.png", workdir / "acces.svg")
    save_pdf(print_pages(reach_fig, reach.map), workdir / "acces.pdf")
    lap("reach map (plot, PNG, SVG, PDF)")
    publish(snap, processed_dir=workdir, maps_dir=workdir, parts=("page",))
    lap("press page")
    print(json.dumps(times))


# --- The benchmark ------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the table."""

    measure: str
    value: str
    seconds: float | None = None
    target: str = ""
    ok: bool | None = None


def human_bytes(size: int) -> str:
    """Format a file size: bytes below 10 kB, kB below 1 MB, else MB (decimal units)."""
    if size < 10_000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.2f} MB"


def output_sizes(folder: Path) -> list[Row]:
    """One row per file under ``data/processed`` and ``maps`` of ``folder``."""
    rows = []
    for sub in ("data/processed", "maps"):
        for path in sorted((folder / sub).glob("*")):
            if path.is_file() and path.name != ".gitkeep":
                rows.append(Row(f"size {sub}/{path.name}", human_bytes(path.stat().st_size)))
    return rows


def make_rows(quick: bool) -> list[Row]:
    """Cold, no-op and forced ``make map`` in a fresh clone; peak memory; output sizes."""
    rows: list[Row] = []
    # The clone shares this virtualenv: bring it up to date here first, so that the clone's
    # make finds it installed (an install from the clone would point the editable package
    # at a folder deleted at the end).
    checked(run(["scripts/venv.sh", "test"], cwd=ROOT), "scripts/venv.sh test")
    with tempfile.TemporaryDirectory(prefix="bench-clone-") as tmp:
        clone = Path(tmp) / "repo"
        checked(run(["git", "clone", "--quiet", ROOT, clone]), "git clone")
        (clone / ".venv").symlink_to(ROOT / ".venv")
        env = dict(os.environ, PYTHONPATH=str(clone))
        make = ["make", "--no-print-directory"]
        cold = checked(run([*make, "map"], cwd=clone, env=env), "cold make map")
        if "installing" in cold.output:
            sys.exit("bench: the clone's make map installed the environment: commit "
                     "pyproject.toml and requirements/ first, then run the bench again")
        rows.append(Row("make map, cold, fresh clone (after install)",
                        f"{cold.seconds:.2f} s", cold.seconds))
        noop = best_of(3, lambda: run([*make, "map"], cwd=clone, env=env), "no-op make map")
        rows.append(Row("make map, no-op (best of 3)", f"{noop.seconds:.3f} s", noop.seconds,
                        f"< {NOOP_TARGET_S} s", noop.seconds < NOOP_TARGET_S))
        forced = best_of(1 if quick else 3, lambda: run([*make, "-B", "map"], cwd=clone,
                                                        env=env), "make -B map")
        rows.append(Row("make -B map, forced (best of 3)", f"{forced.seconds:.2f} s",
                        forced.seconds, f"≤ {FORCED_TARGET_RATIO:g}× floor"))
        if "installing" in forced.output:
            sys.exit(f"bench: make -B map reinstalled the environment:\n{forced.output}")
        every = best_of(1, lambda: run([*make, "-B", "all"], cwd=clone, env=env), "make -B all")
        rows.append(Row("make -B all: every product, one run", f"{every.seconds:.2f} s",
                        every.seconds))
        peak = max(cold.max_rss_mb, forced.max_rss_mb)
        rows.append(Row("peak memory of make map (largest process)", f"{peak:.0f} MB",
                        target=f"< {MEMORY_TARGET_MB} MB", ok=peak < MEMORY_TARGET_MB))
        rows += output_sizes(clone)
    return rows


def labels_drawn(svg: Path) -> str:
    """Whether the SVG has the group of point labels."""
    return "labels on" if 'id="etiquettes"' in svg.read_text(encoding="utf-8") else "labels off"


def scaling_rows(scales: Sequence[int]) -> list[Row]:
    """Time the whole pipeline on synthetic registries of growing size."""
    rows = []
    for n in scales:
        with tempfile.TemporaryDirectory(prefix=f"bench-{n}-") as tmp:
            folder = Path(tmp)
            registry = write_synthetic_registry(folder / "registre.csv", n)
            result = checked(run([CLI, "-q", "build", registry, "--processed-dir", folder,
                                  "--maps-dir", folder]), f"build of {n} sites")
            stem = folder / "ecoles-de-production-2021"
            detail = (f"{result.seconds:.2f} s, {result.max_rss_mb:.0f} MB, "
                      f"{labels_drawn(stem.with_suffix('.svg'))}; PNG "
                      f"{human_bytes(stem.with_suffix('.png').stat().st_size)}, SVG "
                      f"{human_bytes(stem.with_suffix('.svg').stat().st_size)}, GeoPackage "
                      f"{human_bytes((folder / 'couverture.gpkg').stat().st_size)}")
            target = f"< {SCALE_TARGET_S:g} s" if n == max(SCALES) else ""
            ok = result.seconds < SCALE_TARGET_S if target else None
            rows.append(Row(f"{n:,} synthetic sites (build)", detail, result.seconds, target,
                            ok))
    return rows


def table(rows: list[Row], floor: float) -> str:
    """The rows as a Markdown table, with each time's ratio to the import floor."""
    lines = ["| measure | value | × floor | target | met |", "|---|---|---:|---|---|"]
    for row in rows:
        ratio = f"{row.seconds / floor:.2f}" if row.seconds is not None else ""
        met = {True: "yes", False: "**NO**", None: ""}[row.ok]
        lines.append(f"| {row.measure} | {row.value} | {ratio} | {row.target} | {met} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the benchmark and print the table (and write it as Markdown if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="Also write the table to this file.")
    parser.add_argument("--quick", action="store_true",
                        help="Fewer repetitions and no 10,000-site run (a smoke test).")
    parser.add_argument("--steps-json", nargs=2, metavar=("REGISTRY", "WORKDIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps_json:
        steps_json(Path(args.steps_json[0]), Path(args.steps_json[1]))
        return
    os.chdir(ROOT)
    started = time.perf_counter()

    floor_run = best_of(5 if not args.quick else 2, lambda: run(
        [sys.executable, "-c", "import geopandas, matplotlib.pyplot"]), "import floor")
    floor = floor_run.seconds
    rows = [Row('import floor: python -c "import geopandas, matplotlib.pyplot" (best of 5)',
                f"{floor:.2f} s, {floor_run.max_rss_mb:.0f} MB", floor)]

    with tempfile.TemporaryDirectory(prefix="bench-steps-") as tmp:
        steps = checked(run([sys.executable, __file__, "--steps-json", REGISTRY, tmp]),
                        "steps")
        times: dict[str, float] = json.loads(steps.output.strip().splitlines()[-1])
    for name, seconds in times.items():
        rows.append(Row(f"step: {name}", f"{seconds:.3f} s", seconds))
    total = sum(times.values())
    rows.append(Row("steps: sum, one process, one core", f"{total:.2f} s, "
                    f"{steps.max_rss_mb:.0f} MB", total))

    make = make_rows(args.quick)
    forced = next(r for r in make if r.measure.startswith("make -B"))
    assert forced.seconds is not None
    forced.ok = forced.seconds <= FORCED_TARGET_RATIO * floor
    rows += make
    scales = SCALES[:2] if args.quick else SCALES
    rows += scaling_rows(scales)

    elapsed = time.perf_counter() - started
    rows.append(Row("whole benchmark", f"{elapsed:.0f} s", elapsed, f"< {TOTAL_TARGET_S:g} s",
                    elapsed < TOTAL_TARGET_S))
    head = (f"Benchmark of ecoles-map on {platform.machine()}, {os.cpu_count()} CPU(s), "
            f"Python {platform.python_version()}; pipeline run by `ecoles-map build`.\n")
    text = head + "\n" + table(rows, floor)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
