"""Time the reach analysis on the embedded gazetteer and population and the annex's 63 sites.

Run: ``.venv/bin/python benchmarks/bench_reach.py [--repeat N]`` after ``make map`` (which
writes the sites to ``data/processed/couverture.gpkg``). Prints the best of N runs
(``time.perf_counter``) of each task, then the figures: national shares within 30 and 45 km,
the départements where binary coverage and reach disagree, and the first greedy picks.

``--build`` measures instead what the reach adds to a whole build: the annex's set published
(tables and A4 maps, two drawing processes as ``ecoles-map build`` forks them) from a
snapshot without and with its reach, alternated N times, plus the reach's share of
``prepare`` (population read, commune points, régions); medians.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd

from pipeline.sources.embedded import read_gazetteer
from pipeline.sources.population import read_population
from pipeline.steps import reach

COVERAGE = Path("data/processed/couverture.gpkg")
TARGET_S = 1.0  # the whole analysis, on this 2-core machine


def best_of(func: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def build_cost(n: int) -> None:
    """What the reach adds to a build: publish without and with it, alternated; medians."""
    import statistics
    import tempfile

    from pipeline.run import Drawing, prepare, publish, snapshot
    from pipeline.sources.embedded import read_regions

    drawing = Drawing(jobs=2)
    prepared = prepare("data/raw/ecoles.csv")
    gazetteer = read_gazetteer()

    def inputs() -> object:
        return reach.commune_points(gazetteer, read_population()), read_regions()

    times: dict[str, list[float]] = {"sans accès": [], "avec accès": []}
    with tempfile.TemporaryDirectory() as tmp, drawing:
        for i in range(n):
            for label, options in (("sans accès", None), ("avec accès", "defaut")):
                start = time.perf_counter()
                snap = snapshot(prepared, reach=options)
                publish(snap, processed_dir=Path(tmp) / f"{i}-{label}",
                        maps_dir=Path(tmp) / f"{i}-{label}", parts=("tables", "maps"),
                        drawing=drawing)
                times[label].append(time.perf_counter() - start)
    read_s, _ = best_of(inputs, n)
    without, with_reach = (statistics.median(times[k]) for k in ("sans accès", "avec accès"))
    print(f"snapshot + publish (tables, A4 maps, 2 drawing processes), median of {n}:")
    print(f"  without reach {without:.3f} s, with reach {with_reach:.3f} s")
    print(f"  reach inputs in prepare (population, commune points, régions): {read_s:.3f} s")
    added = with_reach - without + read_s
    print(f"reach added to a build: {added:.3f} s "
          f"(target < {TARGET_S:.0f} s: {'met' if added < TARGET_S else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--build", action="store_true",
                        help="measure what the reach adds to a whole build instead")
    args = parser.parse_args()
    n = args.repeat
    if args.build:
        build_cost(n)
        return
    if not COVERAGE.is_file():
        sys.exit(f"{COVERAGE} is missing: run `make map` first")
    sites = gpd.read_file(COVERAGE, layer="ecoles")
    gazetteer, population = read_gazetteer(), read_population()
    communes = reach.commune_points(gazetteer, population)
    near = reach.nearest_sites(communes, sites)
    deps = reach.reach_by_departement(near)
    mainland = communes[~communes["departement"].isin(["2A", "2B"])
                        & (communes["departement"].str.len() == 2)]

    def whole() -> object:
        points = reach.commune_points(gazetteer, population)
        nearest = reach.nearest_sites(points, sites)
        by_dep = reach.reach_by_departement(nearest)
        reach.reach_national(nearest)
        reach.coverage_disagreements(by_dep, sites)
        return reach.where_next(points, sites)

    tasks: list[tuple[str, Callable[[], object]]] = [
        ("read_population() embedded", read_population),
        ("commune_points (gazetteer + population)",
         lambda: reach.commune_points(gazetteer, population)),
        (f"nearest_sites: {len(communes)} communes, {len(sites)} sites",
         lambda: reach.nearest_sites(communes, sites)),
        ("reach_by_departement + reach_national (30, 45 km)",
         lambda: (reach.reach_by_departement(near), reach.reach_national(near))),
        ("coverage_disagreements", lambda: reach.coverage_disagreements(deps, sites)),
        ("where_next: towns ≥ 10,000, k = 10, 30 km",
         lambda: reach.where_next(communes, sites)),
        (f"where_next: all {len(mainland)} mainland communes as candidates, k = 10",
         lambda: reach.where_next(mainland, sites, candidates=mainland)),
        ("whole analysis (points, nearest, shares, disagreements, where next)", whole),
    ]
    print(f"{'task':<72} {'best of ' + str(n):>10}")
    timings = {}
    for label, func in tasks:
        seconds, _ = best_of(func, n)
        timings[label] = seconds
        print(f"{label:<72} {seconds * 1000:>8.1f} ms")
    total = timings[tasks[-1][0]]
    print(f"target: whole analysis < {TARGET_S:.0f} s: {'met' if total < TARGET_S else 'MISSED'}")

    national = reach.reach_national(near).iloc[0]
    print(f"\nnational (straight line, 0-19, RP 2021, {len(sites)} sites): "
          f"{national['part_jeunes_30km']:.1%} within 30 km, "
          f"{national['part_jeunes_45km']:.1%} within 45 km; "
          f"unknown: {national['departements_sans_donnees']}")
    with pd.option_context("display.width", 160, "display.max_columns", 12):
        print("\ncoverage vs reach (30 km):")
        print(reach.coverage_disagreements(deps, sites).to_string(index=False))
        print("\nwhere next (towns >= 10,000, 30 km):")
        print(reach.where_next(communes, sites).to_string(index=False))
        print("\nwhere next, mainland only (as measured in the team notes):")
        print(reach.where_next(mainland, sites).to_string(index=False))


if __name__ == "__main__":
    main()
