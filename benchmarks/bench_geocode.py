"""Time the embedded data: loading it, and geocoding every commune name of the gazetteer.

Run: ``.venv/bin/python benchmarks/bench_geocode.py [--repeat N]``. Prints the best of N
runs (``time.perf_counter``) of each task, in a small table.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import pandas as pd

from pipeline.sources.embedded import read_gazetteer
from pipeline.sources.inputs import read_departements
from pipeline.steps.geocode import count_statuses, fold_name, geocode_sites


def best_of(func: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        fold_name.cache_clear()  # every run pays for the name folding
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    n = parser.parse_args().repeat
    gazetteer = read_gazetteer()
    com = gazetteer[gazetteer["type"] == "COM"]
    with_dep = pd.DataFrame({"commune": com["nom"], "departement": com["departement"]})
    without_dep = pd.DataFrame({"commune": com["nom"]})
    folded = pd.DataFrame({"commune": com["nom"].str.upper().str.replace("-", " "),
                           "departement": com["departement"]})
    tasks: list[tuple[str, Callable[[], object]]] = [
        ("read_departements() embedded, 101 rows", read_departements),
        (f"read_gazetteer(), {len(gazetteer)} rows", read_gazetteer),
        (f"geocode {len(com)} COM names + département",
         lambda: geocode_sites(with_dep, gazetteer)),
        (f"geocode {len(com)} COM names, no département",
         lambda: geocode_sites(without_dep, gazetteer)),
        (f"geocode {len(com)} UPPER CASE, no hyphen, + dép.",
         lambda: geocode_sites(folded, gazetteer)),
    ]
    print(f"{'task':<48} {'best of ' + str(n):>10}  result")
    for label, func in tasks:
        seconds, result = best_of(func, n)
        detail = ""
        if isinstance(result, pd.DataFrame) and "statut_geocodage" in result.columns:
            detail = " ".join(f"{k}={v}" for k, v in count_statuses(result).items())
        print(f"{label:<48} {seconds * 1000:>8.1f} ms  {detail}")


if __name__ == "__main__":
    main()
